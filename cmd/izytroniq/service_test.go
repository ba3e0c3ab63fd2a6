package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/service"
)

// serviceAccount returns an unprivileged account of this machine, or skips.
func serviceAccount(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"daemon", "nobody", "bin"} {
		if _, err := user.Lookup(name); err == nil {
			return name
		}
	}
	t.Skip("no unprivileged system account (daemon, nobody, bin) on this machine")
	return ""
}

// recordingSystemctl stands in for systemctl, so no test talks to the machine's systemd.
type recordingSystemctl struct{ calls []string }

func (r *recordingSystemctl) run(ctx context.Context, args ...string) ([]byte, error) {
	r.calls = append(r.calls, strings.Join(args, " "))
	if args[0] == "is-active" {
		return []byte("inactive\n"), errors.New("exit status 3")
	}
	return nil, nil
}

// runService runs `izytroniq service ARGS` against a systemd with units in unitDir.
func runService(t *testing.T, unitDir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	e, out, errOut := testEnv(nil)
	sc := &recordingSystemctl{}
	c := &ServiceCommand{env: e, manager: &service.Systemd{UnitDir: unitDir, Systemctl: sc.run}}
	err = c.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func TestServiceCommand(t *testing.T) {
	account := serviceAccount(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "izytroniq.toml", "data_dir = \"data\"\n")
	bin := writeFile(t, dir, "opt/izytroniq/1.0.0/izytroniq", "#!/bin/sh\n")
	unitDir := t.TempDir()
	unit := filepath.Join(unitDir, "izytroniq.service")

	out, errOut, err := runService(t, unitDir, "install", "--config", cfg, "--user", account, "--binary", bin)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "Registered service izytroniq") || !strings.Contains(out, "systemctl start izytroniq") {
		t.Errorf("install output:\n%s", out)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=" + account + "\n", `ExecStart="` + bin + `" "serve" "--config" "` + cfg + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %q:\n%s", want, b)
		}
	}
	rec, err := service.LoadRecord(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.User, account; got != want {
		t.Errorf("recorded account %q, want %q", got, want)
	}

	out, _, err = runService(t, unitDir, "status", "--config", cfg, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st ServiceStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !st.Installed || st.BinaryPath != bin || !st.BinaryExists || st.User != account || st.Running || len(st.Problems) != 0 {
		t.Errorf("status = %+v", st)
	}
	if st.MatchesThisBinary {
		t.Errorf("status says the service runs the test binary")
	}

	// The registration vanishes behind our back: status names the problem and the fix.
	if err := os.Remove(unit); err != nil {
		t.Fatal(err)
	}
	out, _, err = runService(t, unitDir, "status", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^installed +no$`).MatchString(out) {
		t.Errorf("status after the unit vanished does not say installed no:\n%s", out)
	}
	for _, want := range []string{"no longer registered", "--user " + account} {
		if !strings.Contains(out, want) {
			t.Errorf("status after the unit vanished lacks %q:\n%s", want, out)
		}
	}

	if _, _, err := runService(t, unitDir, "install", "--config", cfg, "--user", account, "--binary", bin); err != nil {
		t.Fatal(err)
	}
	out, _, err = runService(t, unitDir, "uninstall", "--config", cfg)
	if err != nil || !strings.Contains(out, "Removed service izytroniq") {
		t.Fatalf("uninstall = %v\n%s", err, out)
	}
	if _, err := os.Stat(unit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit after uninstall: %v", err)
	}
	if _, err := service.LoadRecord(filepath.Join(dir, "data")); err == nil {
		t.Errorf("record kept after uninstall")
	}
	if _, _, err := runService(t, unitDir, "uninstall", "--config", cfg); !errors.Is(err, service.ErrNotInstalled) {
		t.Errorf("second uninstall = %v, want ErrNotInstalled", err)
	}
}

func TestServiceCommandErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "izytroniq.toml", "data_dir = \"data\"\n")
	bin := writeFile(t, dir, "izytroniq", "#!/bin/sh\n")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", nil, true, "install, uninstall or status"},
		{"unknown subcommand", []string{"start"}, true, "unknown service subcommand"},
		{"no user", []string{"install", "--config", cfg}, true, "needs --user"},
		{"bad name", []string{"status", "--name", "a/b"}, true, "--name"},
		{"unknown user", []string{"install", "--config", cfg, "--binary", bin, "--user", "izytroniq-no-such-user"}, false, "useradd"},
		{"user with newline", []string{"install", "--config", cfg, "--binary", bin, "--user", "a\nUser=root"}, false, "not a valid user name"},
		{"missing binary", []string{"install", "--config", cfg, "--user", "nobody", "--binary", filepath.Join(dir, "nope")}, false, "--binary"},
		{"password file on Linux", []string{"install", "--config", cfg, "--user", "nobody", "--binary", bin, "--password-file", cfg}, true, "Windows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runService(t, t.TempDir(), tc.args...)
			var ue *usageError
			if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("service %q = %v (usage error: %v); want a usage error %v mentioning %q", tc.args, err, errors.As(err, &ue), tc.usage, tc.want)
			}
		})
	}
	// Without a configuration file there is nothing to pass to serve --config.
	if _, _, err := runTest(t, nil, "service", "install", "--user", "nobody", "--unit-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "izytroniq init") {
		t.Errorf("install without a configuration = %v, want advice to run izytroniq init", err)
	}
}
