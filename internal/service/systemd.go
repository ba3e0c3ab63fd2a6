package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
)

// DefaultUnitDir is where administrators' systemd units live.
const DefaultUnitDir = "/etc/systemd/system"

// Systemd is the Manager for Linux: a unit file in UnitDir, and systemctl to reload,
// enable, stop and query it.
type Systemd struct {
	// UnitDir holds the unit files; "" means DefaultUnitDir.
	UnitDir string
	// Systemctl runs systemctl with args; nil means RunSystemctl. Tests replace it.
	Systemctl func(ctx context.Context, args ...string) ([]byte, error)
}

var _ Manager = (*Systemd)(nil)

// systemdRunDir exists exactly when systemd is the running init system
// (sd_booted(3)).
const systemdRunDir = "/run/systemd/system"

// RunSystemctl runs systemctl when systemd is running, and otherwise returns
// ErrSystemdNotRunning without running anything: containers and chroots have the
// binary but no systemd to talk to.
func RunSystemctl(ctx context.Context, args ...string) ([]byte, error) {
	if fi, err := os.Stat(systemdRunDir); err != nil || !fi.IsDir() {
		return nil, ErrSystemdNotRunning
	}
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

func (m *Systemd) unitDir() string {
	if m.UnitDir == "" {
		return DefaultUnitDir
	}
	return m.UnitDir
}

// UnitPath is the unit file of the service name.
func (m *Systemd) UnitPath(name string) string {
	return filepath.Join(m.unitDir(), name+".service")
}

func (m *Systemd) systemctl(ctx context.Context, args ...string) ([]byte, error) {
	if m.Systemctl != nil {
		return m.Systemctl(ctx, args...)
	}
	return RunSystemctl(ctx, args...)
}

// notRunning turns ErrSystemdNotRunning into the sentence that says what to run later.
func notRunning(err error, path, then string) error {
	if errors.Is(err, ErrSystemdNotRunning) {
		return fmt.Errorf("%w; unit written to %s, %s", ErrSystemdNotRunning, path, then)
	}
	return err
}

// Install writes the unit file, then reloads systemd and enables the unit (it starts
// at the next boot; the caller decides when to start it). The account must exist.
func (m *Systemd) Install(ctx context.Context, spec Spec) error {
	if err := checkUnixAccount(spec.User); err != nil {
		return err
	}
	unit, err := RenderUnit(spec)
	if err != nil {
		return err
	}
	path := m.UnitPath(spec.Name)
	switch old, err := os.ReadFile(path); {
	case err == nil && !bytes.Equal(old, unit):
		return fmt.Errorf("%s: %w for service %s; see it with izytroniq service status, or remove it with izytroniq service uninstall first",
			path, ErrInstalled, spec.Name)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read unit: %w", err)
	case err != nil:
		if err := atomicfile.WriteFile(path, unit, 0o644); err != nil {
			return fmt.Errorf("write unit: %w (run as root, or pick another directory)", err)
		}
	}
	then := "enable it with: systemctl daemon-reload && systemctl enable --now " + spec.Name
	if _, err := m.systemctl(ctx, "daemon-reload"); err != nil {
		return notRunning(err, path, then)
	}
	if _, err := m.systemctl(ctx, "enable", spec.Name+".service"); err != nil {
		return notRunning(err, path, then)
	}
	return nil
}

// Uninstall stops and disables the unit, removes its file and reloads systemd.
func (m *Systemd) Uninstall(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	path := m.UnitPath(name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, ErrNotInstalled)
	}
	_, stopErr := m.systemctl(ctx, "disable", "--now", name+".service")
	if stopErr != nil && !errors.Is(stopErr, ErrSystemdNotRunning) {
		return fmt.Errorf("stop the service first: %w", stopErr)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove unit: %w", err)
	}
	if stopErr != nil {
		return nil // nothing to reload
	}
	_, err := m.systemctl(ctx, "daemon-reload")
	return err
}

// Status reads the unit file back and asks systemd whether the unit is active.
func (m *Systemd) Status(ctx context.Context, name string) (Status, error) {
	st := Status{Name: name}
	if err := ValidateName(name); err != nil {
		return st, err
	}
	path := m.UnitPath(name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read unit: %w", err)
	}
	st.Installed, st.Location = true, path
	u, err := parseUnit(b)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	st.User = u.user
	if len(u.exec) > 0 {
		st.BinaryPath, st.Args = u.exec[0], u.exec[1:]
		st.BinaryExists = isFile(st.BinaryPath)
	}
	out, err := m.systemctl(ctx, "is-active", name+".service")
	switch {
	case errors.Is(err, ErrSystemdNotRunning):
		st.State = "unknown (systemd is not running)"
	default:
		// is-active exits non-zero for anything but active and still prints the state.
		st.State = strings.TrimSpace(string(out))
		if st.State == "" && err != nil {
			st.State = "unknown (" + err.Error() + ")"
		}
		st.Running = err == nil && st.State == "active"
	}
	return st, nil
}

// Repoint replaces the program path in ExecStart= and leaves every other byte of the
// unit file as it is.
func (m *Systemd) Repoint(ctx context.Context, name, binaryPath string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := checkPath("binary path", binaryPath); err != nil {
		return err
	}
	path := m.UnitPath(name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w; register it with izytroniq service install", path, ErrNotInstalled)
	}
	if err != nil {
		return fmt.Errorf("read unit: %w", err)
	}
	nb, err := RepointUnit(b, binaryPath)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, nb, 0o644); err != nil {
		return fmt.Errorf("write unit: %w", err)
	}
	if _, err := m.systemctl(ctx, "daemon-reload"); err != nil {
		return notRunning(err, path, "reload it with: systemctl daemon-reload")
	}
	return nil
}

// RepointUnit returns unit with the program of its ExecStart= line replaced by
// binaryPath; the arguments and every other line stay byte for byte.
func RepointUnit(unit []byte, binaryPath string) ([]byte, error) {
	prog, err := SystemdCommandLine(binaryPath, nil)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(unit, []byte("\n"))
	found := false
	for i, l := range lines {
		rest, ok := bytes.CutPrefix(l, []byte("ExecStart="))
		if !ok {
			continue
		}
		if found {
			return nil, errors.New("more than one ExecStart= line; not a unit izytroniq wrote")
		}
		found = true
		body := strings.TrimRight(string(rest), "\r\n")
		eol := string(rest[len(body):])
		_, end, err := splitSystemdCommandLine(body)
		if err != nil {
			return nil, fmt.Errorf("ExecStart=: %w", err)
		}
		lines[i] = []byte("ExecStart=" + prog + body[end:] + eol)
	}
	if !found {
		return nil, errors.New("no ExecStart= line")
	}
	return bytes.Join(lines, nil), nil
}

// unitInfo is what Status reads back from a unit file.
type unitInfo struct {
	user string
	exec []string
}

// parseUnit reads the [Service] settings Status reports.
func parseUnit(b []byte) (unitInfo, error) {
	var u unitInfo
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || section != "Service" {
			continue
		}
		switch strings.TrimSpace(key) {
		case "User":
			u.user = strings.TrimSpace(val)
		case "ExecStart":
			words, _, err := splitSystemdCommandLine(strings.TrimSpace(val))
			if err != nil {
				return u, fmt.Errorf("ExecStart=: %w", err)
			}
			u.exec = words
		}
	}
	if u.exec == nil {
		return u, errors.New("no ExecStart= in [Service]")
	}
	return u, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
