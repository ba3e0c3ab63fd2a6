package service

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadRecord(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadRecord of an empty directory = %v, want fs.ErrNotExist", err)
	}
	spec := Spec{Name: "izytroniq", DisplayName: "Izytroniq", BinaryPath: "/opt/izytroniq/1/izytroniq",
		Args: []string{"serve", "--config", "/etc/izy.toml"}, User: "izytroniq", WorkingDir: dir, PasswordFile: "/root/pw"}
	if err := Record(dir, spec); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec, got); diff != "" {
		t.Errorf("record round trip (-want +got):\n%s", diff)
	}
	if err := RemoveRecord(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRecord(dir); err != nil {
		t.Errorf("second RemoveRecord = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRecord(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadRecord of a broken file = %v, want a parse error", err)
	}
}

func TestCheck(t *testing.T) {
	rec := &Spec{Name: "izytroniq", BinaryPath: "/opt/izy", User: "izytroniq"}
	intact := Status{Name: "izytroniq", Installed: true, BinaryPath: "/opt/izy", BinaryExists: true, User: "izytroniq"}
	codes := func(ps []Problem) []string {
		var c []string
		for _, p := range ps {
			c = append(c, p.Code)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		status func(*Status)
		rec    *Spec
		want   []string
	}{
		{"intact", func(*Status) {}, rec, nil},
		{"registration removed", func(s *Status) { *s = Status{Name: s.Name} }, rec, []string{ProblemRegistrationMissing}},
		{"never installed", func(s *Status) { *s = Status{Name: s.Name} }, nil, []string{ProblemNotInstalled}},
		{"binary missing", func(s *Status) { s.BinaryExists = false }, rec, []string{ProblemBinaryMissing}},
		{"account changed", func(s *Status) { s.User = "LocalSystem" }, rec, []string{ProblemAccountChanged}},
		{"not recorded", func(*Status) {}, nil, []string{ProblemNotRecorded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := intact
			tc.status(&st)
			if diff := cmp.Diff(tc.want, codes(Check(st, tc.rec))); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiagnoseRegistrationRemoved reproduces the manual's vanished application pool:
// the service is registered and recorded, then its registration disappears behind the
// server's back.
func TestDiagnoseRegistrationRemoved(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestSystemd(t)
	spec := testSpec(t, t.TempDir(), existingUser(t))
	if err := m.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := Record(spec.WorkingDir, spec); err != nil {
		t.Fatal(err)
	}
	ps, _, err := Diagnose(ctx, m, spec.WorkingDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("problems of an intact registration: %+v", ps)
	}

	if err := os.Remove(m.UnitPath(spec.Name)); err != nil {
		t.Fatal(err)
	}
	ps, st, err := Diagnose(ctx, m, spec.WorkingDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Code != ProblemRegistrationMissing || !ps[0].Fixable {
		t.Fatalf("problems = %+v, want one fixable %s", ps, ProblemRegistrationMissing)
	}
	if st.Installed {
		t.Errorf("status says installed")
	}
	// The record holds what --fix needs to register it again as the same account.
	got, err := LoadRecord(spec.WorkingDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Install(ctx, got); err != nil {
		t.Fatal(err)
	}
	if ps, _, _ := Diagnose(ctx, m, spec.WorkingDir, ""); len(ps) != 0 {
		t.Errorf("problems after registering again: %+v", ps)
	}
}
