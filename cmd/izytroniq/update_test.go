package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/update"
	"github.com/izytroniq/izytroniq/internal/update/updatetest"
)

// updateFixture is an installation made by init, with a trusted key in its
// configuration and a package newer than this binary.
func updateFixture(t *testing.T) (cfg, pkg string) {
	t.Helper()
	cfg = initDir(t)
	pub, priv := updatetest.Key(0)
	keyFile := updatetest.WritePublicKey(t, filepath.Dir(cfg), pub)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A relative path: resolved against the configuration's directory.
	if _, err := f.WriteString("\n[update]\ntrusted_keys = [\"" + filepath.Base(keyFile) + "\"]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pkg, _ = updatetest.Write(t, t.TempDir(), updatetest.Spec{Version: "9.0.0", SchemaVersion: sqldb.LatestSchemaVersion(),
		ProtocolVersions: protocolVersions, Key: priv})
	return cfg, pkg
}

func TestUpdateDryRun(t *testing.T) {
	cfg, pkg := updateFixture(t)
	before, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	install := t.TempDir()
	out := squash(mustRun(t, nil, "update", "--config", cfg, "--package", pkg, "--dry-run", "--install-dir", install))
	for _, want := range []string{"PASS package signature", "PASS version path", "PASS migration lock", "PASS disk space",
		"Outcome: dry-run", "History: recorded as "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}

	out = mustRun(t, nil, "update", "--config", cfg, "--package", pkg, "--dry-run", "--install-dir", install, "--json")
	var res update.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, want := res.ToVersion, "9.0.0"; got != want || !res.DryRun || !res.ConfigUnchanged {
		t.Errorf("result %+v", res)
	}
	if after, _ := os.ReadFile(cfg); !bytes.Equal(after, before) {
		t.Error("the configuration file changed")
	}

	// Without --dry-run the update goes on; this package's "binary" is a few bytes that
	// cannot run, so the migration fails and the update rolls back.
	out, _, err = runTest(t, nil, "update", "--config", cfg, "--package", pkg, "--install-dir", install)
	if err == nil || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(out, "Outcome: rolled-back: the migrate phase failed") {
		t.Fatalf("update without --dry-run = %v, want a rollback\n%s", err, out)
	}
	if after, _ := os.ReadFile(cfg); !bytes.Equal(after, before) {
		t.Error("the configuration file changed")
	}

	out = mustRun(t, nil, "update", "history", "--config", cfg, "--json")
	var hist []sqldb.UpdateRecord
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(hist) != 3 || hist[0].Outcome != update.OutcomeRolledBack || hist[1].Outcome != update.OutcomeDryRun || hist[2].ID == "" {
		t.Fatalf("history %+v, want rolled-back, dry-run, dry-run", hist)
	}
	out = mustRun(t, nil, "update", "history", "--config", cfg)
	if !strings.Contains(out, "rolled-back") || !strings.Contains(out, "verify-package:pass:") || !strings.Contains(out, "rollback:pass:") {
		t.Errorf("history table:\n%s", out)
	}
}

func TestUpdateRefuses(t *testing.T) {
	cfg, _ := updateFixture(t)
	_, priv := updatetest.Key(0)
	old, _ := updatetest.Write(t, t.TempDir(), updatetest.Spec{Version: "0.0.1", SchemaVersion: sqldb.LatestSchemaVersion(), ProtocolVersions: []int{2}, Key: priv})
	out, _, err := runTest(t, nil, "update", "--config", cfg, "--package", old, "--dry-run", "--install-dir", t.TempDir())
	out = squash(out)
	if err == nil || !strings.Contains(err.Error(), "preflight failed") || exitCode(err, io.Discard) != 1 {
		t.Fatalf("err = %v, want preflight failed with exit 1", err)
	}
	if !strings.Contains(out, "FAIL version path") || !strings.Contains(out, "downgrade from") || !strings.Contains(out, "→ install a version newer") {
		t.Errorf("output:\n%s", out)
	}

	// The key may come from the environment instead; an untrusted signer is refused.
	_, other := updatetest.Key(1)
	foreign, _ := updatetest.Write(t, t.TempDir(), updatetest.Spec{Version: "9.0.0", SchemaVersion: 1, ProtocolVersions: []int{2}, Key: other})
	out, _, err = runTest(t, map[string]string{"IZYTRONIQ_UPDATE_TRUSTED_KEYS": filepath.Join(filepath.Dir(cfg), "nonexistent.pub")},
		"update", "--config", cfg, "--package", foreign, "--dry-run")
	out = squash(out)
	if err == nil || !strings.Contains(out, "FAIL package signature") || !strings.Contains(out, "nonexistent.pub") {
		t.Errorf("err = %v, output:\n%s", err, out)
	}

	if _, _, err := runTest(t, nil, "update", "--config", cfg, "--dry-run"); exitCode(err, io.Discard) != 2 {
		t.Errorf("update without --package = %v, want a usage error", err)
	}
}

func keyIDOf(t *testing.T) string {
	pub, _ := updatetest.Key(0)
	return release.KeyID(pub)
}

// squash collapses runs of spaces, which the table's alignment varies.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
