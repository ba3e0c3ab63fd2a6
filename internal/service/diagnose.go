package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Problem codes that Check reports.
const (
	// ProblemRegistrationMissing: a registration was recorded but the service manager
	// no longer has it — the vendor manual's vanished application pool.
	ProblemRegistrationMissing = "service_registration_missing"
	// ProblemNotInstalled: no registration, and none recorded.
	ProblemNotInstalled = "service_not_installed"
	// ProblemBinaryMissing: the registration points at a program that is not there.
	ProblemBinaryMissing = "service_binary_missing"
	// ProblemAccountChanged: the service runs as another account than recorded — the
	// identity the vendor's updates lose.
	ProblemAccountChanged = "service_account_changed"
	// ProblemNotRecorded: registered, but the data directory holds no record of it.
	ProblemNotRecorded = "service_not_recorded"
)

// Problem is something wrong with a registration, in plain words, with what to do.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
	// Fixable says doctor --fix can repair it without asking for anything.
	Fixable bool `json:"fixable"`
}

// Check compares a registration with the recorded one (nil: none recorded) and lists
// what is wrong. No problems means the registration is intact.
func Check(st Status, rec *Spec) []Problem {
	var ps []Problem
	switch {
	case !st.Installed && rec != nil:
		return append(ps, Problem{
			Code: ProblemRegistrationMissing,
			Message: fmt.Sprintf("the service %s is no longer registered, although it was registered to run as %s with %s",
				st.Name, rec.User, rec.BinaryPath),
			Fix:     fmt.Sprintf("register it again with the recorded account: izytroniq doctor --fix, or izytroniq service install --user %s", rec.User),
			Fixable: rec.PasswordFile == "" || fileExists(rec.PasswordFile),
		})
	case !st.Installed:
		return append(ps, Problem{
			Code:    ProblemNotInstalled,
			Message: fmt.Sprintf("the service %s is not registered", st.Name),
			Fix:     "register it: izytroniq service install --user ACCOUNT",
		})
	}
	if st.BinaryPath == "" || !st.BinaryExists {
		ps = append(ps, Problem{
			Code:    ProblemBinaryMissing,
			Message: fmt.Sprintf("the service %s starts %s, which does not exist", st.Name, st.BinaryPath),
			Fix:     "point it at the installed binary: izytroniq doctor --fix (keeps the account), or finish the interrupted update with izytroniq update",
			Fixable: true,
		})
	}
	if rec == nil {
		ps = append(ps, Problem{
			Code:    ProblemNotRecorded,
			Message: fmt.Sprintf("the service %s is registered, but the data directory holds no record of its account", st.Name),
			Fix:     "record it: izytroniq doctor --fix",
			Fixable: true,
		})
	} else if !sameAccount(st.User, rec.User) {
		ps = append(ps, Problem{
			Code:    ProblemAccountChanged,
			Message: fmt.Sprintf("the service %s runs as %q, but was registered to run as %q", st.Name, st.User, rec.User),
			Fix:     fmt.Sprintf("if that was not on purpose: izytroniq service uninstall, then izytroniq service install --user %s", rec.User),
		})
	}
	return ps
}

// sameAccount compares account names as Windows does: case-insensitive, and a local
// account with or without ".\" in front.
func sameAccount(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimPrefix(s, `.\`)) }
	return a == b || norm(a) == norm(b)
}

// Diagnose asks m for the registration name and compares it with the record in
// dataDir: the doctor's check for a removed or broken service registration.
func Diagnose(ctx context.Context, m Manager, dataDir, name string) ([]Problem, Status, error) {
	var rec *Spec
	switch r, err := LoadRecord(dataDir); {
	case err == nil:
		rec = &r
		if name == "" {
			name = r.Name
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, Status{}, err
	}
	if name == "" {
		name = DefaultName
	}
	if rec != nil && rec.Name != name {
		rec = nil // the record is about another service
	}
	st, err := m.Status(ctx, name)
	if err != nil {
		return nil, st, err
	}
	return Check(st, rec), st, nil
}
