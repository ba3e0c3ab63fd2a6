package update

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
)

// The install layout: every version in its own directory, ROOT/versions/<version>/,
// and ROOT/current naming the one in use. The pointer is one small file replaced by a
// rename, the same on Linux and Windows (no symbolic links, which Windows restricts).
const (
	versionsDir  = "versions"
	currentFile  = "current"
	stagingExt   = ".staging"
	serverBinary = "izytroniq"
)

// layout is an install root.
type layout struct{ root string }

// installRoot returns the root an executable belongs to: ROOT when it sits in
// ROOT/versions/<v>/, else its own directory (a flat install the first update turns into
// the versioned layout).
func installRoot(exe string) string {
	dir := filepath.Dir(exe)
	if filepath.Base(filepath.Dir(dir)) == versionsDir {
		return filepath.Dir(filepath.Dir(dir))
	}
	return dir
}

// exeName is the server binary's file name on this platform.
func exeName() string {
	if runtime.GOOS == "windows" {
		return serverBinary + ".exe"
	}
	return serverBinary
}

func (l layout) versionDir(v string) string { return filepath.Join(l.root, versionsDir, v) }
func (l layout) stagingDir(v string) string { return l.versionDir(v) + stagingExt }
func (l layout) binary(v string) string     { return filepath.Join(l.versionDir(v), exeName()) }
func (l layout) pointer() string            { return filepath.Join(l.root, currentFile) }

// current returns the version the pointer names, "" when there is no pointer.
func (l layout) current() (string, error) {
	b, err := os.ReadFile(l.pointer())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the install pointer: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// setCurrent points the install at version v ("" removes the pointer), atomically.
func (l layout) setCurrent(v string) error {
	if v == "" {
		err := os.Remove(l.pointer())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the install pointer: %w", err)
		}
		return atomicfile.SyncDir(l.root)
	}
	if err := atomicfile.WriteFile(l.pointer(), []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("write the install pointer: %w", err)
	}
	return nil
}
