//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUpdateUnwritableDataDir runs the built binary as user nobody against a data
// directory root owns with mode 0755: the preflight names it not writable. (Root
// ignores permissions, so in-process tests cannot show this.) As another user, it
// makes the directory 0555 instead.
func TestUpdateUnwritableDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cfg, pkg := updateFixture(t)
	base, err := os.MkdirTemp("", "izytroniq-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// Everything nobody must read: the binary, the configuration, the key, the package.
	copyTo := func(src, dst string, mode os.FileMode) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, mode); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	exe := copyTo(binary(t), filepath.Join(base, "izytroniq"), 0o755)
	copyTo(filepath.Join(filepath.Dir(cfg), "release-"+keyIDOf(t)+".pub"), filepath.Join(base, "release-"+keyIDOf(t)+".pub"), 0o644)
	pkgCopy := copyTo(pkg, filepath.Join(base, "pkg.tar.gz"), 0o644)
	conf := filepath.Join(base, "izytroniq.toml")
	os.WriteFile(conf, []byte("data_dir = \"data\"\n[update]\ntrusted_keys = [\"release-"+keyIDOf(t)+".pub\"]\n"), 0o644)

	cmd := exec.Command(exe, "update", "--config", conf, "--package", pkgCopy, "--dry-run", "--install-dir", base)
	cmd.Env = processEnv(nil)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		os.Chmod(data, 0o555)
		os.Chmod(base, 0o555)
		t.Cleanup(func() { os.Chmod(base, 0o755); os.Chmod(data, 0o755) })
	}
	b, err := cmd.CombinedOutput()
	out := squash(string(b))
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1:\n%s", code, err, out)
	}
	t.Logf("as uid %d:\n%s", map[bool]int{true: 65534, false: os.Geteuid()}[os.Geteuid() == 0], out)
	for _, want := range []string{"FAIL data directory writable", data + " is not writable for this account", "FAIL install directory writable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
