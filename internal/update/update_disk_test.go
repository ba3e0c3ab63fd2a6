package update_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/update"
)

// fullDisk fails every write after limit bytes with ENOSPC.
type fullDisk struct {
	w     io.Writer
	limit int
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: "staged binary", Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

// assertStopped: the update stopped before changing anything, said why, and the old
// version serves from an unchanged installation.
func (l *live) assertStopped(t *testing.T, res *update.Result, err error, phase, why string) {
	t.Helper()
	if !errors.Is(err, update.ErrStopped) || res.Outcome != update.OutcomeStopped {
		t.Fatalf("Run = %v, outcome %s, want stopped", err, res.Outcome)
	}
	if !strings.Contains(res.Message, "the "+phase+" phase failed") || !strings.Contains(res.Message, why) ||
		!strings.Contains(res.Message, "nothing in the installation was changed and 1.0.0 keeps running") {
		t.Errorf("message: %s", res.Message)
	}
	if got := l.sw.serving(t); got != "1.0.0" {
		t.Errorf("serving %q", got)
	}
	if got := l.pointer(t); got != "" {
		t.Errorf("pointer %q", got)
	}
	if got := l.schema(t); got != l.n {
		t.Errorf("schema %d, want %d", got, l.n)
	}
	entries, _ := filepath.Glob(filepath.Join(l.root, "versions", "*"))
	if len(entries) != 0 {
		t.Errorf("left in versions/: %v", entries)
	}
	if j := l.journal(t); j["outcome"] != update.OutcomeStopped {
		t.Errorf("journal %v", j)
	}
	l.assertKept(t)
}

// TestFullDiskStaging: a write of the staged binary fails with ENOSPC (injected): the
// update stops, removes the staging directory and changes nothing.
func TestFullDiskStaging(t *testing.T) {
	l := newLive(t, sqldb.SQLite)
	newBin, newVersion := serverBinary(t, "expand")
	o := l.opts
	o.PackagePath = l.pkgOf(t, newVersion, mustRead(t, newBin), l.n+1)
	o.WrapWriter = func(_ string, w io.Writer) io.Writer { return &fullDisk{w: w, limit: 1 << 20} }
	res, err := update.Run(context.Background(), o)
	l.assertStopped(t, res, err, "stage", "no space left on device")
}

// TestFullDiskBackup: the backups directory is a 64 KiB tmpfs and the database does not
// fit (the free-space probe is told otherwise, so the copy itself hits the full disk).
func TestFullDiskBackup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	l := newLive(t, sqldb.SQLite)
	mnt := filepath.Join(t.TempDir(), "backups")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	newBin, newVersion := serverBinary(t, "expand")
	o := l.opts
	o.BackupDir = mnt
	o.PackagePath = l.pkgOf(t, newVersion, mustRead(t, newBin), l.n+1)
	res, err := update.Run(context.Background(), o)
	l.assertStopped(t, res, err, "backup", "disk is full") // SQLite's words for ENOSPC
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Errorf("left in the backups directory: %v", entries)
	}
}
