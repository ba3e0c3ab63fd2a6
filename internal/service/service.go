// Package service registers the server with the operating system's service manager —
// a systemd unit on Linux, a Windows service on Windows — once, and afterwards only
// points the registration at a new binary, so the account it runs as survives updates.
package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultName is the service name when none is given.
const DefaultName = "izytroniq"

// Manager registers, inspects and repoints a service. Systemd and the Windows service
// manager implement it.
type Manager interface {
	// Install registers spec and enables it to start at boot. Installing the same
	// spec again changes nothing; a different registration under the same name is an
	// error (uninstall it first), because re-creating a service is exactly what loses
	// its identity.
	Install(ctx context.Context, spec Spec) error
	// Uninstall stops the service and removes its registration.
	Uninstall(ctx context.Context, name string) error
	// Status reports the registration as the service manager holds it.
	Status(ctx context.Context, name string) (Status, error)
	// Repoint changes only the binary path of a registration and keeps everything
	// else: account, arguments, recovery actions, start type. Updates use it.
	Repoint(ctx context.Context, name, binaryPath string) error
}

// Spec is what a registration holds.
type Spec struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Description string   `json:"description,omitempty"`
	BinaryPath  string   `json:"binary_path"`
	Args        []string `json:"args,omitempty"` // e.g. serve --config /etc/izytroniq/izytroniq.toml
	User        string   `json:"user"`
	// WorkingDir is the service's working directory, and on Linux the only directory it
	// may write (the data directory). Windows services ignore it.
	WorkingDir string `json:"working_dir,omitempty"`
	// PasswordFile names a file holding the Windows account's password on its first
	// line. Only the path is kept, never the password.
	PasswordFile string `json:"password_file,omitempty"`
}

// Status is a registration as the service manager reports it.
type Status struct {
	Name      string `json:"name"`
	Installed bool   `json:"installed"`
	// Location is where the registration lives: the unit file, or the Windows
	// service's registry key.
	Location     string   `json:"location,omitempty"`
	BinaryPath   string   `json:"binary_path,omitempty"`
	Args         []string `json:"args,omitempty"`
	BinaryExists bool     `json:"binary_exists"`
	User         string   `json:"user,omitempty"`
	Running      bool     `json:"running"`
	// State is the service manager's word for the run state ("active", "stopped"),
	// or why it is not known.
	State string `json:"state,omitempty"`
}

// Errors a Manager returns, for errors.Is.
var (
	ErrNotInstalled      = errors.New("service is not installed")
	ErrInstalled         = errors.New("a different registration exists")
	ErrSystemdNotRunning = errors.New("systemd is not running")
)

// Validate checks the parts of spec that every platform needs.
func (s Spec) Validate() error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if err := checkPath("binary path", s.BinaryPath); err != nil {
		errs = append(errs, err)
	}
	if s.WorkingDir != "" {
		if err := checkPath("working directory", s.WorkingDir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range s.Args {
		if err := checkText("argument", a); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range []struct{ what, v string }{{"display name", s.DisplayName}, {"description", s.Description}} {
		if err := checkText(t.what, t.v); err != nil {
			errs = append(errs, err)
		}
	}
	if s.User == "" {
		errs = append(errs, errors.New("no account given: name the account the service runs as with --user"))
	}
	return errors.Join(errs...)
}

// ValidateName accepts names that are safe as a systemd unit name, a Windows service
// name and a file name: letters, digits and - _ . @, starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("service name is empty")
	}
	if len(name) > 200 {
		return fmt.Errorf("service name %q is longer than 200 characters", name)
	}
	for i, r := range name {
		ok := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || i > 0 && strings.ContainsRune("-_.@", r))
		if !ok {
			return fmt.Errorf("service name %q: only letters, digits and - _ . @ are allowed (starting with a letter or digit)", name)
		}
	}
	if strings.HasSuffix(name, ".service") {
		return fmt.Errorf("service name %q: give it without .service", name)
	}
	return nil
}

// checkPath accepts absolute, clean paths without control characters.
func checkPath(what, p string) error {
	if err := checkText(what, p); err != nil {
		return err
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s %q is not absolute", what, p)
	}
	if filepath.Clean(p) != p {
		return fmt.Errorf("%s %q is not clean (want %q)", what, p, filepath.Clean(p))
	}
	if strings.TrimSpace(p) != p {
		return fmt.Errorf("%s %q starts or ends with white space", what, p)
	}
	return nil
}

// checkText rejects what no service manager's configuration can hold safely.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains a control character (newline, tab, …)", what, s)
		}
	}
	return nil
}
