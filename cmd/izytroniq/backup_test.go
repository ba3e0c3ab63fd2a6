package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/backup"
)

func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "izytroniq.toml", "# backup test\r\ndata_dir = \"data\"\r\n")
	cfgBytes, _ := os.ReadFile(cfgPath)
	pw := writeFile(t, dir, "pw", "correct horse battery staple\n")
	mustRun(t, nil, "db", "upgrade", "--config", cfgPath)
	mustRun(t, nil, "user", "add", "--config", cfgPath, "--username", "anna", "--role", "admin", "--password-file", pw)

	out := mustRun(t, nil, "backup", "create", "--config", cfgPath, "--json")
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if got, want := m.Method, backup.MethodVacuumInto; got != want {
		t.Errorf("method = %q, want %q", got, want)
	}
	copied, err := os.ReadFile(filepath.Join(dir, "data", "backups", m.ID, "config", "izytroniq.toml"))
	if err != nil || !bytes.Equal(copied, cfgBytes) {
		t.Fatalf("config copy = %q (%v), want %q", copied, err, cfgBytes)
	}

	out = mustRun(t, nil, "backup", "list", "--config", cfgPath, "--verify")
	if !strings.Contains(out, m.ID) || !strings.Contains(out, "complete (verified)") || !strings.Contains(out, "SCHEMA") {
		t.Fatalf("list:\n%s", out)
	}

	mustRun(t, nil, "user", "add", "--config", cfgPath, "--username", "bert", "--role", "clerk", "--password-file", pw)
	out = mustRun(t, nil, "backup", "restore", m.ID, "--config", cfgPath)
	for _, want := range []string{"safety backup", "replaced the SQLite database", "To undo: izytroniq backup restore"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	users := mustRun(t, nil, "user", "list", "--config", cfgPath)
	if !strings.Contains(users, "anna") || strings.Contains(users, "bert") {
		t.Fatalf("users after restore:\n%s", users)
	}
	if b, _ := os.ReadFile(cfgPath); !bytes.Equal(b, cfgBytes) {
		t.Errorf("config changed by restore: %q", b)
	}

	// The flags may come first, too; and the safety backup brings bert back.
	out = mustRun(t, nil, "backup", "list", "--config", cfgPath, "--json")
	var es []backup.Entry
	if err := json.Unmarshal([]byte(out), &es); err != nil || len(es) != 2 {
		t.Fatalf("list --json: %v, %d entries\n%s", err, len(es), out)
	}
	mustRun(t, nil, "backup", "restore", "--config", cfgPath, "--no-safety-backup", "latest")
	if users := mustRun(t, nil, "user", "list", "--config", cfgPath); !strings.Contains(users, "bert") {
		t.Fatalf("users after restoring the safety backup:\n%s", users)
	}
}

func TestBackupUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"backup"},
		{"backup", "frobnicate"},
		{"backup", "restore"},
		{"backup", "list", "--bogus"},
		{"backup", "create", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, err := runTest(t, nil, args...)
			var buf bytes.Buffer
			if got, want := exitCode(err, &buf), 2; got != want {
				t.Fatalf("exit code = %d (err %v), want %d", got, err, want)
			}
		})
	}
}
