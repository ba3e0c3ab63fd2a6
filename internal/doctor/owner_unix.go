//go:build unix

package doctor

import (
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

// owner names the user and group owning fi.
func owner(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "an unknown owner"
	}
	u := strconv.FormatUint(uint64(st.Uid), 10)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	g := strconv.FormatUint(uint64(st.Gid), 10)
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return fmt.Sprintf("%s:%s", u, g)
}
