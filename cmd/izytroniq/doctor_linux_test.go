//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/izytroniq/izytroniq/internal/doctor"
)

// TestDoctorDataDirNotWritable runs doctor as nobody (root ignores permissions)
// against a data directory owned by root with mode 0755.
func TestDoctorDataDirNotWritable(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root on Linux, to run doctor as nobody")
	}
	bin := binary(t)
	dir := t.TempDir()
	// nobody must reach the binary, the configuration and the directories.
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "izytroniq.toml", "data_dir = \"data\"\n")
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "doctor", "--config", cfg, "--json", "--url", "http://127.0.0.1:1")
	cmd.Env = processEnv(nil)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err == nil {
		t.Fatalf("doctor as nobody succeeded; output:\n%s", out)
	}
	var rep DoctorReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := finding(t, rep.Findings, "data directory writable")
	if got.Status != doctor.StatusFail || got.Code != doctor.CodeNotWritable ||
		!strings.Contains(got.Detail, "nobody") || !strings.Contains(got.Detail, "owned by root") {
		t.Fatalf("data directory = %+v, want not writable, naming nobody and the owner root", got)
	}
}
