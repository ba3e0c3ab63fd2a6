package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"serve", "--bogus"},
		{"serve", "extra-arg"},
		{"serve", "--role"},
		{"db"},
		{"db", "downgrade"},
		{"db", "version", "--jsn"},
		{"user"},
		{"user", "rename"},
		{"user", "add", "--db", filepath.Join(dir, "x.db")},
		{"user", "add", "--grant", "nope", "--username", "x", "--role", "admin"},
		{"user", "passwd"},
		{"init"},
		{"demo", "--listen", "nowhere"},
		{"demo", "--devices", "-3"},
		{"seed", "--devices", "many"},
		{"version", "--yaml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, err := runTest(t, nil, args...)
			var buf bytes.Buffer
			if got, want := exitCode(err, &buf), 2; got != want {
				t.Fatalf("exit code = %d (err %v), want %d", got, err, want)
			}
			if !strings.Contains(buf.String(), "usage") {
				t.Errorf("message %q does not point to the usage", buf.String())
			}
			if stderr == "" && len(args) > 0 && args[0] != "demo" && args[0] != "user" {
				t.Errorf("no usage text on stderr")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("a usage error created a database")
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"serve", "-h"}, {"db", "-h"}, {"user", "--help"}, {"init", "-help"}} {
		stdout, stderr, err := runTest(t, nil, args...)
		if code := exitCode(err, new(bytes.Buffer)); code != 0 {
			t.Errorf("%v: exit code %d, want 0", args, code)
		}
		if !strings.Contains(stdout+stderr, "Usage") && !strings.Contains(stdout+stderr, "izytroniq") {
			t.Errorf("%v: no help text", args)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{usageErrorf("bad flag"), 2, "bad flag"},
		{izy.Errorf(izy.EUNAVAILABLE, "run `izytroniq db upgrade`"), 1, "izytroniq: run `izytroniq db upgrade`\n"},
		{errors.New("boom"), 1, "izytroniq: boom\n"},
		{context.Canceled, 1, "interrupted"},
	} {
		var buf bytes.Buffer
		if got := exitCode(tt.err, &buf); got != tt.code {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.code)
		}
		if !strings.Contains(buf.String(), tt.msg) {
			t.Errorf("exitCode(%v) printed %q, want %q", tt.err, buf.String(), tt.msg)
		}
	}
}

func TestVersion(t *testing.T) {
	out := mustRun(t, nil, "version", "--json")
	var v VersionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != version || v.SchemaVersion != sqldb.LatestSchemaVersion() || len(v.ProtocolVersions) == 0 || v.GoVersion != runtime.Version() {
		t.Fatalf("version = %+v", v)
	}
	out = mustRun(t, nil, "version")
	for _, want := range []string{version, "schema version", "protocol versions", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output %q lacks %q", out, want)
		}
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, nil, "init", "--dir", dir, "--listen", "127.0.0.1:9999")
	path := filepath.Join(dir, DefaultConfigFile)
	for _, want := range []string{"Wrote " + path, "password: ", "izytroniq serve --config " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", SQLiteFileName)); err != nil {
		t.Errorf("no SQLite file in DIR/data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "logs", LogFileName)); err != nil {
		t.Errorf("no log file: %v", err)
	}
	// The written file is a valid configuration with every section, and no unknown key.
	c, err, _ := load(t, nil, configFlags{path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Listen, "127.0.0.1:9999"; got != want {
		t.Errorf("listen = %q, want %q", got, want)
	}
	if got, want := c.DataDir, filepath.Join(dir, "data"); got != want {
		t.Errorf("data_dir = %q, want %q", got, want)
	}
	text, _ := os.ReadFile(path)
	for _, key := range []string{"listen", "data_dir", "role", "[database]", "dsn", "dsn_file", "[tls]", "cert", "key", "[log]", "level",
		"[escalation]", "first_days", "second_days", "[limits]", "max_body_bytes", "[auth]", "token_ttl", "password_iterations"} {
		if !bytes.Contains(text, []byte(key)) {
			t.Errorf("written configuration lacks %s", key)
		}
	}
	// The printed password signs in; it is a user admin.
	pw := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "password: ", 2)[1], "\n", 2)[0])
	base := serveInProcess(t, nil, "--config", path)
	c2 := login(t, base, "admin", pw)
	var me izy.User
	c2.do("GET", "/api/v1/me", nil, &me, 200)
	if me.Role != izy.RoleAdmin {
		t.Errorf("admin's role = %q", me.Role)
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		_, _, err := runTest(t, nil, "init", "--dir", dir)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("second init: %v, want an error saying the configuration exists", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatal("second init changed the configuration")
		}
	})
	t.Run("bad password file", func(t *testing.T) {
		pw := writeFile(t, t.TempDir(), "pw", "short\n")
		d := t.TempDir()
		_, _, err := runTest(t, nil, "init", "--dir", d, "--admin-password-file", pw)
		if err == nil || !strings.Contains(err.Error(), "at least") {
			t.Fatalf("init with a short password: %v", err)
		}
		if _, err := os.Stat(filepath.Join(d, DefaultConfigFile)); err == nil {
			t.Fatal("a failed init wrote a configuration")
		}
	})
	t.Run("database with admin", func(t *testing.T) {
		d := t.TempDir()
		_, _, err := runTest(t, nil, "init", "--dir", d, "--db", filepath.Join(dir, "data", SQLiteFileName))
		if err == nil || !strings.Contains(err.Error(), "already has a user admin") {
			t.Fatalf("init on a database with an admin: %v", err)
		}
		if _, err := os.Stat(filepath.Join(d, DefaultConfigFile)); err == nil {
			t.Fatal("a failed init wrote a configuration")
		}
	})
}

func TestDBCommands(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "izy.db")

	out := mustRun(t, nil, "db", "version", "--db", dsn)
	if !strings.Contains(out, "schema_version   0") || !strings.Contains(out, "izytroniq db upgrade") {
		t.Errorf("db version of an empty database:\n%s", out)
	}
	out = mustRun(t, nil, "db", "status", "--db", dsn)
	if !strings.Contains(out, "pending") || !strings.Contains(out, "0001_init.sql") {
		t.Errorf("db status of an empty database:\n%s", out)
	}

	out = mustRun(t, nil, "db", "upgrade", "--db", dsn)
	for _, want := range []string{"from schema 0 to", "applied migration", "Done"} {
		if !strings.Contains(out, want) {
			t.Errorf("db upgrade output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, nil, "db", "upgrade", "--db", dsn)
	if !strings.Contains(out, "nothing to do") {
		t.Errorf("second db upgrade:\n%s", out)
	}

	var v DBVersion
	if err := json.Unmarshal([]byte(mustRun(t, nil, "db", "version", "--db", dsn, "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.SchemaVersion != sqldb.LatestSchemaVersion() || v.ProductVersion != version || !izy.ValidID(v.InstanceID) || v.UpgradeNeeded {
		t.Errorf("db version --json = %+v", v)
	}
	var ms []sqldb.MigrationStatus
	if err := json.Unmarshal([]byte(mustRun(t, nil, "db", "status", "--db", dsn, "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms) != sqldb.LatestSchemaVersion() || !ms[0].Applied {
		t.Errorf("db status --json = %+v", ms)
	}
	out = mustRun(t, nil, "db", "status", "--db", dsn)
	if !strings.Contains(out, "applied") || !strings.Contains(out, "Up to date") {
		t.Errorf("db status after upgrade:\n%s", out)
	}
}

// setSchemaVersion writes schema_version in database_info behind the program's back, as
// a newer release's contract migration would: min_compatible_schema rises with it, so
// this binary may not run on it (an expand-only newer schema is served; see
// docs/migrations.md and sqldb's TestSchemaCompatibility).
func setSchemaVersion(t *testing.T, dsn string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE database_info SET value = ? WHERE key = 'schema_version'", v); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO database_info (key, value) VALUES ('min_compatible_schema', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, v); err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesWrongSchema(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "izy.db")
	_, _, err := runTest(t, nil, "serve", "--db", dsn, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "izytroniq db upgrade") {
		t.Fatalf("serve on an empty database: %v, want an error naming izytroniq db upgrade", err)
	}
	if got := exitCode(err, new(bytes.Buffer)); got != 1 {
		t.Errorf("exit code = %d, want 1", got)
	}

	mustRun(t, nil, "db", "upgrade", "--db", dsn)
	setSchemaVersion(t, dsn, sqldb.LatestSchemaVersion()+1)
	_, _, err = runTest(t, nil, "serve", "--db", dsn, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("serve on a newer database: %v, want an error about a newer schema", err)
	}
	_, _, err = runTest(t, nil, "db", "upgrade", "--db", dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("db upgrade on a newer database: %v, want a refusal", err)
	}

	// serve --migrate upgrades an empty database and serves.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	base := serveInProcess(t, nil, "--db", fresh, "--migrate")
	(&client{t: t, base: base}).do("GET", "/readyz", nil, nil, 200)
}

func TestUserCommands(t *testing.T) {
	path := initDir(t)
	base := serveInProcess(t, nil, "--config", path)
	admin := login(t, base, "admin", adminPassword)
	var cust izy.Customer
	admin.do("POST", "/api/v1/customers", map[string]string{"number": "K1", "name": "Stadtwerke Fürth"}, &cust, 201)

	pwFile := writeFile(t, t.TempDir(), "pw", "inspector-password-1\n")
	out := mustRun(t, nil, "user", "add", "--config", path, "--username", "m.mueller", "--role", "inspector",
		"--display-name", "Maria Müller", "--password-file", pwFile, "--grant", cust.ID+":write")
	if !strings.Contains(out, "Created user m.mueller") || strings.Contains(out, "inspector-password-1") {
		t.Errorf("user add output:\n%s", out)
	}
	out = mustRun(t, nil, "user", "add", "--config", path, "--username", "leser", "--role", "read-only")
	if !strings.Contains(out, "Password: ") {
		t.Errorf("user add without a password file prints no password:\n%s", out)
	}
	_, _, err := runTest(t, nil, "user", "add", "--config", path, "--username", "m.mueller", "--role", "clerk")
	if err == nil {
		t.Error("adding a user twice succeeded")
	}
	_, _, err = runTest(t, nil, "user", "add", "--config", path, "--username", "x", "--role", "boss")
	if err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("user add --role boss: %v", err)
	}
	_, _, err = runTest(t, nil, "user", "add", "--config", path, "--username", "y", "--role", "clerk",
		"--grant", "01234567-89ab-7def-8123-456789abcdef:read")
	if err == nil {
		t.Error("a grant for an unknown customer succeeded")
	}

	var users []izy.User
	if err := json.Unmarshal([]byte(mustRun(t, nil, "user", "list", "--config", path, "--json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 {
		t.Fatalf("user list --json: %d users, want 3", len(users))
	}
	table := mustRun(t, nil, "user", "list", "--config", path)
	for _, want := range []string{"USERNAME", "m.mueller", "Maria Müller", "inspector", "1 customer(s)", "leser", "read-only"} {
		if !strings.Contains(table, want) {
			t.Errorf("user list lacks %q:\n%s", want, table)
		}
	}

	// The inspector signs in, sees the granted customer; passwd changes the password.
	insp := login(t, base, "m.mueller", "inspector-password-1")
	var list struct{ Items []izy.Customer }
	insp.do("GET", "/api/v1/customers", nil, &list, 200)
	if len(list.Items) != 1 || list.Items[0].ID != cust.ID {
		t.Errorf("inspector sees %+v, want the granted customer", list.Items)
	}
	newPW := writeFile(t, t.TempDir(), "pw2", "another-password-2")
	mustRun(t, nil, "user", "passwd", "--config", path, "--username", "m.mueller", "--password-file", newPW)
	(&client{t: t, base: base}).do("POST", "/api/v1/login", map[string]string{"username": "m.mueller", "password": "inspector-password-1"}, nil, 401)
	login(t, base, "m.mueller", "another-password-2")
	_, _, err = runTest(t, nil, "user", "passwd", "--config", path, "--username", "nobody")
	if err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("passwd for an unknown user: %v", err)
	}
}

func TestSeedCommand(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "izy.db")
	_, _, err := runTest(t, nil, "seed", "--db", dsn, "--devices", "50")
	if err == nil || !strings.Contains(err.Error(), "izytroniq db upgrade") {
		t.Fatalf("seed on an empty database: %v, want an error naming izytroniq db upgrade", err)
	}
	mustRun(t, nil, "db", "upgrade", "--db", dsn)
	out := mustRun(t, nil, "seed", "--db", dsn, "--devices", "200", "--measurements", "2000", "--customers", "4")
	if !strings.Contains(out, "Done: 4 customers") || !strings.Contains(out, "200 devices") {
		t.Fatalf("seed output:\n%s", out)
	}
	_, _, err = runTest(t, nil, "seed", "--db", dsn, "--devices", "10")
	if err == nil || !strings.Contains(err.Error(), "already holds customers") {
		t.Fatalf("second seed: %v, want a refusal", err)
	}
}
