package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/doctor"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// noSystemd is a systemctl on a machine where systemd does not run, so no test talks
// to the machine's systemd.
func noSystemd(ctx context.Context, args ...string) ([]byte, error) {
	return nil, service.ErrSystemdNotRunning
}

// runDoctor runs `izytroniq doctor ARGS --json` against systemd units in unitDir and
// returns its report.
func runDoctor(t *testing.T, unitDir string, args ...string) (DoctorReport, error) {
	t.Helper()
	e, out, errOut := testEnv(nil)
	c := &DoctorCommand{env: e, manager: &service.Systemd{UnitDir: unitDir, Systemctl: noSystemd}}
	err := c.Run(context.Background(), append(args, "--json", "--url", "http://127.0.0.1:1"))
	var rep DoctorReport
	if jerr := json.Unmarshal([]byte(out.String()), &rep); jerr != nil {
		t.Fatalf("doctor %v: %v\nstdout:\n%s\nstderr:\n%s", args, jerr, out, errOut)
	}
	return rep, err
}

// runCheck runs `izytroniq check ARGS --json` with no systemd and returns its report.
func runCheck(t *testing.T, args ...string) (CheckReport, error) {
	t.Helper()
	e, out, errOut := testEnv(nil)
	c := &CheckCommand{env: e, manager: &service.Systemd{UnitDir: t.TempDir(), Systemctl: noSystemd}}
	err := c.Run(context.Background(), append(args, "--json"))
	var rep CheckReport
	if jerr := json.Unmarshal([]byte(out.String()), &rep); jerr != nil {
		t.Fatalf("check %v: %v\nstdout:\n%s\nstderr:\n%s", args, jerr, out, errOut)
	}
	return rep, err
}

// finding returns the first result named name (or with code name).
func finding(t *testing.T, rs []doctor.Result, name string) doctor.Result {
	t.Helper()
	for _, r := range rs {
		if r.Name == name || r.Code == name || strings.HasPrefix(r.Name, name+" (") {
			return r
		}
	}
	t.Fatalf("no result %q in %+v", name, rs)
	return doctor.Result{}
}

func TestDoctorServiceRegistrationMissing(t *testing.T) {
	account := serviceAccount(t)
	cfg := initDir(t)
	bin := writeFile(t, t.TempDir(), "opt/izytroniq/1.0.0/izytroniq", "#!/bin/sh\n")
	unitDir := t.TempDir()
	if _, _, err := runService(t, unitDir, "install", "--config", cfg, "--user", account, "--binary", bin); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(unitDir, "izytroniq.service")
	before, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := runDoctor(t, unitDir, "--config", cfg)
	if got := finding(t, rep.Findings, "service registration"); got.Status != doctor.StatusPass {
		t.Fatalf("intact registration: %+v, want pass", got)
	}
	if err := os.Remove(unit); err != nil { // the vanished app pool
		t.Fatal(err)
	}
	rep, err = runDoctor(t, unitDir, "--config", cfg)
	got := finding(t, rep.Findings, service.ProblemRegistrationMissing)
	if err == nil || got.Status != doctor.StatusFail || !got.Fixable || !strings.Contains(got.Detail, account) {
		t.Fatalf("doctor = %+v, %v; want a fixable failure naming %s", got, err, account)
	}
	rep, _ = runDoctor(t, unitDir, "--config", cfg, "--fix")
	got = finding(t, rep.Findings, service.ProblemRegistrationMissing)
	if got.Status != doctor.StatusPass || len(got.Changed) == 0 || !strings.Contains(got.Changed[0], "as "+account) {
		t.Fatalf("doctor --fix = %+v, want it repaired, saying so", got)
	}
	after, err := os.ReadFile(unit)
	if err != nil {
		t.Fatalf("unit not reinstalled: %v", err)
	}
	if string(after) != string(before) {
		t.Fatalf("reinstalled unit =\n%s\nwant\n%s", after, before)
	}
}

// postgresDSN returns the test server's DSN, or skips.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("IZYTRONIQ_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("IZYTRONIQ_TEST_POSTGRES is not set")
	}
	return dsn
}

func TestDoctorDatabaseSettingMissing(t *testing.T) {
	postgresDSN(t)
	dsn := freshDSNs(t)["postgres"]
	cfg := initDir(t, "--db", dsn)
	mustRun(t, nil, "backup", "create", "--config", cfg)
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The missing registry entry: the setting is emptied.
	emptied := strings.Replace(string(orig), "dsn = \""+dsn+"\"", `dsn = ""`, 1)
	if emptied == string(orig) {
		t.Fatalf("no dsn line in\n%s", orig)
	}
	writeFile(t, filepath.Dir(cfg), filepath.Base(cfg), emptied)
	rep, err := runDoctor(t, t.TempDir(), "--config", cfg)
	got := finding(t, rep.Findings, doctor.CodeSettingMissing)
	if err == nil || got.Status != doctor.StatusFail || !got.Fixable {
		t.Fatalf("doctor = %+v, %v; want a fixable failure", got, err)
	}
	if b, _ := os.ReadFile(cfg); string(b) != emptied {
		t.Fatal("doctor without --fix changed the configuration")
	}
	rep, _ = runDoctor(t, t.TempDir(), "--config", cfg, "--fix")
	got = finding(t, rep.Findings, doctor.CodeSettingMissing)
	if got.Status != doctor.StatusPass || !strings.Contains(strings.Join(got.Changed, "\n"), "+ dsn = ") {
		t.Fatalf("doctor --fix = %+v, want it repaired with a diff", got)
	}
	if l := finding(t, rep.Findings, "database login"); l.Status != doctor.StatusPass {
		t.Fatalf("login after the fix: %+v", l)
	}
	fixed, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(fixed) != string(orig) {
		t.Fatalf("restored configuration =\n%s\nwant the original\n%s", fixed, orig)
	}
	// Outside [database] the file is byte-identical to the one doctor found.
	strip := func(b []byte) string { return strings.Replace(string(b), doctor.DatabaseSection(b), "", 1) }
	if strip(fixed) != strip([]byte(emptied)) {
		t.Fatal("doctor --fix changed the configuration outside [database]")
	}
	if b, err := os.ReadFile(cfg + ".bak"); err != nil || string(b) != emptied {
		t.Fatalf("%s.bak = %q, %v; want the configuration as it was", cfg, b, err)
	}
}

func TestDoctorLoginRefused(t *testing.T) {
	u, err := url.Parse(postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	dsn := "postgres://no_such_role@" + u.Host + "/test?sslmode=disable"
	dir := t.TempDir()
	cfg := writeFile(t, dir, "izytroniq.toml", "data_dir = \"data\"\n[database]\ndsn = \""+dsn+"\"\n")
	if err := os.MkdirAll(filepath.Join(dir, "data", "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := runDoctor(t, t.TempDir(), "--config", cfg)
	got := finding(t, rep.Findings, "database login")
	if err == nil || got.Code != doctor.CodeLoginRefused || !strings.Contains(got.Detail, `"no_such_role"`) {
		t.Fatalf("doctor = %+v, %v; want login refused naming the role", got, err)
	}
}

func TestDoctorVersionSkew(t *testing.T) {
	cfg := initDir(t)
	dsn := filepath.Join(filepath.Dir(cfg), "data", SQLiteFileName)
	want := sqldb.LatestSchemaVersion()
	for _, v := range []int{want - 1, want + 1} {
		setSchemaVersion(t, dsn, v)
		rep, err := runDoctor(t, t.TempDir(), "--config", cfg)
		got := finding(t, rep.Findings, "versions")
		if err == nil || got.Code != doctor.CodeVersionSkew {
			t.Fatalf("schema %d: %+v, %v; want version skew", v, got, err)
		}
	}
	setSchemaVersion(t, dsn, want)
	rep, _ := runDoctor(t, t.TempDir(), "--config", cfg)
	if got := finding(t, rep.Findings, "versions"); got.Status != doctor.StatusPass {
		t.Fatalf("same versions: %+v", got)
	}
}

func TestCheckAgainstRunningServer(t *testing.T) {
	cfg := initDir(t)
	p := start(t, nil, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	base := p.baseURL(t)
	rep, err := runCheck(t, "--config", cfg, "--url", base)
	if err != nil {
		t.Errorf("check: %v", err)
	}
	for _, r := range rep.Checks {
		want := doctor.StatusPass
		if r.Name == "service" || r.Name == "licence" {
			want = doctor.StatusWarn
		}
		if r.Status != want {
			t.Errorf("%s: %s (%s), want %s", r.Name, r.Status, r.Detail, want)
		}
	}
	if got := finding(t, rep.Checks, "service"); !strings.Contains(got.Detail, "systemd not running") {
		t.Errorf("service: %+v", got)
	}

	// An error logged after the last start fails the check.
	log := filepath.Join(filepath.Dir(cfg), "data", "logs", LogFileName)
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"` + time.Now().Format(time.RFC3339) + `","level":"ERROR","msg":"sync worker","err":"disk full"}` + "\n")
	f.Close()
	rep, err = runCheck(t, "--config", cfg, "--url", base)
	if got := finding(t, rep.Checks, "log"); err == nil || got.Status != doctor.StatusFail || !strings.Contains(got.Detail, "disk full") {
		t.Fatalf("log = %+v, %v; want a failure quoting the error", got, err)
	}
}

func TestCheckTLSExpiring(t *testing.T) {
	dir := t.TempDir()
	cert, key := doctorCert(t, dir, time.Now().Add(5*24*time.Hour))
	cfg := writeFile(t, dir, "izytroniq.toml", "data_dir = \"data\"\n[tls]\ncert = \""+cert+"\"\nkey = \""+key+"\"\n")
	rep, err := runCheck(t, "--config", cfg, "--url", "http://127.0.0.1:1", "--timeout", "200ms")
	got := finding(t, rep.Checks, "tls certificate")
	if err == nil || got.Status != doctor.StatusFail || !strings.Contains(got.Detail, "expires in") {
		t.Fatalf("tls = %+v, %v; want a failure", got, err)
	}
}

// TestCheckNewerCompatibleSchema: after an update rolled back past an expand migration
// the old binary runs on a newer schema; check warns (it does not fail), and fails once a
// contract migration makes the schema incompatible.
func TestCheckNewerCompatibleSchema(t *testing.T) {
	cfg := initDir(t)
	dsn := filepath.Join(filepath.Dir(cfg), "data", SQLiteFileName)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE database_info SET value = ? WHERE key = 'schema_version'", sqldb.LatestSchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	rep, _ := runCheck(t, "--config", cfg)
	if got := finding(t, rep.Checks, "schema version"); got.Status != doctor.StatusWarn || !strings.Contains(got.Detail, "expand migrations only") {
		t.Fatalf("newer, expand only: %+v; want a warning", got)
	}
	setSchemaVersion(t, dsn, sqldb.LatestSchemaVersion()+1) // with min_compatible_schema: a contract step
	rep, _ = runCheck(t, "--config", cfg)
	if got := finding(t, rep.Checks, "schema version"); got.Status != doctor.StatusFail {
		t.Fatalf("newer, contract: %+v; want a failure", got)
	}
}
