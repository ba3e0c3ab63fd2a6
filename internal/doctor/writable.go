package doctor

import (
	"fmt"
	"os"
)

// Dir is a directory the server must write.
type Dir struct {
	What string // "config directory", "data directory", "log directory", …
	Path string
}

// CheckWritable creates and removes a file in each directory: the manual's "could not
// write value" dialog, found before it happens. A failure names the account this process
// runs as and the directory's owner.
func CheckWritable(dirs []Dir) []Result {
	var rs []Result
	for _, d := range dirs {
		r := Result{Name: d.What + " writable", Code: CodeNotWritable}
		fi, err := os.Stat(d.Path)
		switch {
		case err != nil:
			r.Status, r.Detail = StatusFail, fmt.Sprintf("the %s %s cannot be used: %v", d.What, d.Path, err)
			r.Fix = fmt.Sprintf("create it and give it to the service account: mkdir -p %s && chown ACCOUNT %s", d.Path, d.Path)
		case !fi.IsDir():
			r.Status, r.Detail, r.Fix = StatusFail, fmt.Sprintf("the %s %s is not a directory", d.What, d.Path), "fix the path in the configuration"
		default:
			f, err := os.CreateTemp(d.Path, ".izytroniq-doctor-*")
			if err == nil {
				name := f.Name()
				f.Close()
				err = os.Remove(name)
			}
			if err != nil {
				r.Status = StatusFail
				r.Detail = fmt.Sprintf("%s cannot write to the %s %s (owned by %s, mode %s): %v",
					processAccount(), d.What, d.Path, owner(fi), fi.Mode().Perm(), err)
				r.Fix = fmt.Sprintf("give the account the service runs as write access, e.g. chown -R ACCOUNT %s (Windows: icacls %s /grant ACCOUNT:(OI)(CI)M), or run as the directory's owner", d.Path, d.Path)
			} else {
				r.Status, r.Detail = StatusPass, fmt.Sprintf("%s can write to %s", processAccount(), d.Path)
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// processAccount is the account this process runs as, for messages.
func processAccount() string {
	return fmt.Sprintf("this process (account %s)", osUser())
}
