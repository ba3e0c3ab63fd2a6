//go:build windows

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// Compile-time checks that winconfig.go's constants are the Win32 ones.
var (
	_ = [1]struct{}{}[winServiceOwnProcess-windows.SERVICE_WIN32_OWN_PROCESS]
	_ = [1]struct{}{}[winStartAutomatic-mgr.StartAutomatic]
	_ = [1]struct{}{}[winErrorNormal-mgr.ErrorNormal]
	_ = [1]struct{}{}[winActionRestart-mgr.ServiceRestart]
)

// Windows is the Manager for the Windows service control manager.
type Windows struct{}

var _ Manager = (*Windows)(nil)

func toMgr(c WindowsConfig) mgr.Config {
	return mgr.Config{
		ServiceType: c.ServiceType, StartType: c.StartType, ErrorControl: c.ErrorControl,
		BinaryPathName: c.BinaryPathName, LoadOrderGroup: c.LoadOrderGroup, TagId: c.TagId,
		Dependencies: c.Dependencies, ServiceStartName: c.ServiceStartName, DisplayName: c.DisplayName,
		Password: c.Password, Description: c.Description, SidType: c.SidType, DelayedAutoStart: c.DelayedAutoStart,
	}
}

func fromMgr(c mgr.Config) WindowsConfig {
	return WindowsConfig{
		ServiceType: c.ServiceType, StartType: c.StartType, ErrorControl: c.ErrorControl,
		BinaryPathName: c.BinaryPathName, LoadOrderGroup: c.LoadOrderGroup, TagId: c.TagId,
		Dependencies: c.Dependencies, ServiceStartName: c.ServiceStartName, DisplayName: c.DisplayName,
		Password: c.Password, Description: c.Description, SidType: c.SidType, DelayedAutoStart: c.DelayedAutoStart,
	}
}

// readPassword reads the first line of the password file.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// open connects to the service manager and opens name; ErrNotInstalled when absent.
func open(name string) (*mgr.Mgr, *mgr.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the service manager (run as administrator): %w", err)
	}
	s, err := m.OpenService(name)
	if err != nil {
		m.Disconnect()
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return nil, nil, fmt.Errorf("service %s: %w", name, ErrNotInstalled)
		}
		return nil, nil, fmt.Errorf("open service %s: %w", name, err)
	}
	return m, s, nil
}

// Install creates the service with its account, delayed automatic start and the
// recovery actions.
func (w *Windows) Install(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	password, err := readPassword(spec.PasswordFile)
	if err != nil {
		return err
	}
	cfg, err := NewWindowsConfig(spec, password)
	if err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as administrator): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(spec.Name); err == nil {
		old, cerr := s.Config()
		s.Close()
		if cerr == nil && old.BinaryPathName == cfg.BinaryPathName && sameAccount(old.ServiceStartName, cfg.ServiceStartName) {
			return nil
		}
		return fmt.Errorf("service %s: %w; see it with izytroniq service status, or remove it with izytroniq service uninstall first", spec.Name, ErrInstalled)
	}
	// CreateService quotes program and arguments with syscall.EscapeArg, the rules
	// WindowsCommandLine follows.
	s, err := m.CreateService(spec.Name, spec.BinaryPath, toMgr(cfg), spec.Args...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", spec.Name, err)
	}
	defer s.Close()
	var actions []mgr.RecoveryAction
	for _, a := range WindowsRecoveryActions() {
		actions = append(actions, mgr.RecoveryAction{Type: a.Type, Delay: a.Delay})
	}
	if err := s.SetRecoveryActions(actions, uint32(WindowsRecoveryReset/time.Second)); err != nil {
		return fmt.Errorf("set recovery actions of %s: %w", spec.Name, err)
	}
	// Also when the server exits with an error rather than crashing.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery actions of %s: %w", spec.Name, err)
	}
	return nil
}

// Uninstall stops the service if it runs and deletes it.
func (w *Windows) Uninstall(ctx context.Context, name string) error {
	m, s, err := open(name)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %s: %w", name, err)
		}
		for i := 0; i < 60; i++ {
			if st, err := s.Query(); err != nil || st.State == svc.Stopped {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	return nil
}

// Status reads the service's configuration and run state.
func (w *Windows) Status(ctx context.Context, name string) (Status, error) {
	st := Status{Name: name}
	m, s, err := open(name)
	if errors.Is(err, ErrNotInstalled) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer m.Disconnect()
	defer s.Close()
	c, err := s.Config()
	if err != nil {
		return st, fmt.Errorf("read configuration of %s: %w", name, err)
	}
	st.Installed = true
	st.Location = `HKLM\SYSTEM\CurrentControlSet\Services\` + name
	st.User = c.ServiceStartName
	if words, err := SplitWindowsCommandLine(c.BinaryPathName); err == nil {
		st.BinaryPath, st.Args = words[0], words[1:]
		st.BinaryExists = isFile(st.BinaryPath)
	}
	q, err := s.Query()
	if err != nil {
		st.State = "unknown (" + err.Error() + ")"
		return st, nil
	}
	st.Running = q.State == svc.Running
	st.State = map[svc.State]string{
		svc.Stopped: "stopped", svc.StartPending: "starting", svc.StopPending: "stopping",
		svc.Running: "running", svc.ContinuePending: "continuing", svc.PausePending: "pausing", svc.Paused: "paused",
	}[q.State]
	return st, nil
}

// Repoint reads the configuration, changes only BinaryPathName and writes it back, so
// the account (and its password, which is never read) stays.
func (w *Windows) Repoint(ctx context.Context, name, binaryPath string) error {
	m, s, err := open(name)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	c, err := s.Config()
	if err != nil {
		return fmt.Errorf("read configuration of %s: %w", name, err)
	}
	nc, err := RepointWindowsConfig(fromMgr(c), binaryPath)
	if err != nil {
		return err
	}
	if err := s.UpdateConfig(toMgr(nc)); err != nil {
		return fmt.Errorf("update configuration of %s: %w", name, err)
	}
	return nil
}
