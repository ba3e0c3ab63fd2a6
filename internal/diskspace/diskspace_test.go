package diskspace

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestHuman(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 30 << 20: "30.0 MiB", 3 << 40: "3.0 TiB"} {
		if got := Human(n); got != want {
			t.Errorf("Human(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestExistingDirAndFree(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "backups", "later")
	if got := ExistingDir(missing); got != dir {
		t.Errorf("ExistingDir(%s) = %s, want %s", missing, got, dir)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no free-space call on this platform")
	}
	// A directory that does not exist yet is measured where it would be created.
	a, err := Free(missing)
	if err != nil || a == 0 {
		t.Fatalf("Free(missing) = %d, %v", a, err)
	}
	b, err := Free(dir)
	if err != nil || b == 0 {
		t.Fatalf("Free(dir) = %d, %v", b, err)
	}
}
