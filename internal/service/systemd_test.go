package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newTestSystemd(t *testing.T) (*Systemd, *fakeSystemctl) {
	t.Helper()
	f := &fakeSystemctl{}
	return &Systemd{UnitDir: t.TempDir(), Systemctl: f.run}, f
}

func TestSystemdLifecycle(t *testing.T) {
	ctx := context.Background()
	m, f := newTestSystemd(t)
	spec := testSpec(t, t.TempDir(), existingUser(t))

	st, err := m.Status(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Installed {
		t.Fatalf("Status before Install: installed")
	}

	if err := m.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"daemon-reload", "enable izytroniq-test.service"}, f.calls); diff != "" {
		t.Errorf("systemctl calls (-want +got):\n%s", diff)
	}
	unit, err := os.ReadFile(m.UnitPath(spec.Name))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := RenderUnit(spec); string(unit) != string(want) {
		t.Errorf("unit file is not the rendered unit:\n%s", unit)
	}

	// Installing the same spec again changes nothing; a different one is refused.
	if err := m.Install(ctx, spec); err != nil {
		t.Errorf("second Install of the same spec: %v", err)
	}
	other := spec
	other.Args = []string{"serve", "--config", "/elsewhere.toml"}
	if err := m.Install(ctx, other); !errors.Is(err, ErrInstalled) {
		t.Errorf("Install of a different spec = %v, want ErrInstalled", err)
	}

	f.state = "active"
	st, err = m.Status(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Name: spec.Name, Installed: true, Location: m.UnitPath(spec.Name), BinaryPath: spec.BinaryPath,
		Args: spec.Args, BinaryExists: true, User: spec.User, Running: true, State: "active"}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}

	// Repoint to a new version: only the program changes.
	newBin := mustExecutable(t, filepath.Join(filepath.Dir(filepath.Dir(spec.BinaryPath)), "2.0.0", "izytroniq"))
	f.calls = nil
	if err := m.Repoint(ctx, spec.Name, newBin); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"daemon-reload"}, f.calls); diff != "" {
		t.Errorf("systemctl calls of Repoint (-want +got):\n%s", diff)
	}
	st, _ = m.Status(ctx, spec.Name)
	want.BinaryPath = newBin
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Status after Repoint (-want +got):\n%s", diff)
	}

	// The binary vanishes (an interrupted update): Status says so.
	if err := os.Remove(newBin); err != nil {
		t.Fatal(err)
	}
	st, _ = m.Status(ctx, spec.Name)
	if st.BinaryExists {
		t.Errorf("Status after removing the binary: BinaryExists = true")
	}

	f.calls = nil
	if err := m.Uninstall(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"disable --now izytroniq-test.service", "daemon-reload"}, f.calls); diff != "" {
		t.Errorf("systemctl calls of Uninstall (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(m.UnitPath(spec.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit file after Uninstall: %v, want it gone", err)
	}
	if st, _ := m.Status(ctx, spec.Name); st.Installed {
		t.Errorf("Status after Uninstall: installed")
	}
	if err := m.Uninstall(ctx, spec.Name); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Uninstall = %v, want ErrNotInstalled", err)
	}
	if err := m.Repoint(ctx, spec.Name, newBin); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Repoint of a missing unit = %v, want ErrNotInstalled", err)
	}
}

func TestSystemdNotRunning(t *testing.T) {
	ctx := context.Background()
	m, f := newTestSystemd(t)
	f.err = ErrSystemdNotRunning
	spec := testSpec(t, t.TempDir(), existingUser(t))
	err := m.Install(ctx, spec)
	if !errors.Is(err, ErrSystemdNotRunning) {
		t.Fatalf("Install = %v, want ErrSystemdNotRunning", err)
	}
	for _, s := range []string{m.UnitPath(spec.Name), "systemctl daemon-reload && systemctl enable --now izytroniq-test"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Install error %q does not say %q", err, s)
		}
	}
	if _, err := os.Stat(m.UnitPath(spec.Name)); err != nil {
		t.Errorf("unit not written: %v", err)
	}
	st, err := m.Status(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.State, "unknown (systemd is not running)"; got != want {
		t.Errorf("State = %q, want %q", got, want)
	}
	if err := m.Uninstall(ctx, spec.Name); err != nil {
		t.Errorf("Uninstall without systemd = %v", err)
	}
}

// TestRunSystemctlWithoutSystemd runs the real runner on a machine without a running
// systemd, where it must not run systemctl at all.
func TestRunSystemctlWithoutSystemd(t *testing.T) {
	if _, err := os.Stat(systemdRunDir); err == nil {
		t.Skip("systemd is running here")
	}
	if _, err := RunSystemctl(context.Background(), "daemon-reload"); !errors.Is(err, ErrSystemdNotRunning) {
		t.Errorf("RunSystemctl = %v, want ErrSystemdNotRunning", err)
	}
}

func TestSystemdInstallRefusesUnknownAccount(t *testing.T) {
	m, f := newTestSystemd(t)
	spec := testSpec(t, t.TempDir(), "izytroniq-no-such-user")
	err := m.Install(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "useradd") {
		t.Fatalf("Install with an unknown account = %v, want an error that says it does not exist and how to create it", err)
	}
	if _, err := os.Stat(m.UnitPath(spec.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit written despite the error")
	}
	if len(f.calls) != 0 {
		t.Errorf("systemctl called: %q", f.calls)
	}
}
