package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"time"
)

// errNotPlain reports a symlink, junction, device or other non-plain entry where the store
// expects a directory or a regular file. Nobody but an intruder or an accident puts one
// there, so it is refused and logged, never followed.
var errNotPlain = errors.New("not a plain file or directory")

// lstatChain checks, without following links, that every directory on the way to elems is
// a real directory, and returns the Lstat of the last element. The os.Root already keeps
// every access inside the store; this also keeps it from following links inside it.
func (s *Service) lstatChain(elems []string) (fs.FileInfo, error) {
	for i := 1; i < len(elems); i++ {
		fi, err := s.root.Lstat(join(elems[:i]))
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: %w", join(elems[:i]), errNotPlain)
		}
	}
	return s.root.Lstat(join(elems))
}

// openRegular opens the regular file at elems, refusing links anywhere on the way and
// checking after the open that the file opened is the one checked.
func (s *Service) openRegular(elems []string, flag int) (*os.File, fs.FileInfo, error) {
	fi, err := s.lstatChain(elems)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: %w", join(elems), errNotPlain)
	}
	f, err := s.root.OpenFile(join(elems), flag, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !os.SameFile(fi, st) {
		f.Close()
		return nil, nil, fmt.Errorf("%s: replaced while opening: %w", join(elems), errNotPlain)
	}
	return f, st, nil
}

// isDir reports whether elems is a real directory, links on the way refused.
func (s *Service) isDir(elems []string) (bool, error) {
	fi, err := s.lstatChain(elems)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s: %w", join(elems), errNotPlain)
	}
	return true, nil
}

// writeFileAtomic replaces elems with data: written to temp beside it, synced, renamed
// over it, and the directory synced, so a crash leaves the old or the new file whole.
func (s *Service) writeFileAtomic(dir []string, temp, name string, data []byte) error {
	tmp := join(append(dir[:len(dir):len(dir)], temp))
	if err := s.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// O_EXCL: a link planted under the temporary name makes the create fail instead of
	// being followed.
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := s.rename(tmp, join(append(dir[:len(dir):len(dir)], name))); err != nil {
		return err
	}
	return s.syncDir(dir)
}

// rename renames within the store. Go's os.Rename replaces an existing target on Windows
// too (MoveFileEx with MOVEFILE_REPLACE_EXISTING), but Windows refuses while another
// handle without FILE_SHARE_DELETE holds the target open, as a concurrent status read of a
// session may for a moment; so on Windows a failed rename is retried briefly.
func (s *Service) rename(from, to string) error {
	err := s.root.Rename(from, to)
	for i := 0; err != nil && runtime.GOOS == "windows" && i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		err = s.root.Rename(from, to)
	}
	return err
}

// syncDir makes the entries of directory elems durable (new, renamed, removed files).
// Windows cannot sync a directory handle; NTFS journals its metadata, so it is skipped.
func (s *Service) syncDir(elems []string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	name := "."
	if len(elems) > 0 {
		name = join(elems)
	}
	d, err := s.root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
