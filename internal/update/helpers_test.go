package update_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/update"
	"github.com/izytroniq/izytroniq/internal/update/updatetest"
)

var actor = &izy.User{ID: "0190a000-0000-7000-8000-000000000001", Username: "tester", Role: izy.RoleAdmin}

func testCtx() context.Context { return izy.NewContextWithUser(context.Background(), actor) }

// fakeManager is a service manager holding one healthy registration.
type fakeManager struct{ st service.Status }

var _ service.Manager = (*fakeManager)(nil)

func (m *fakeManager) Install(context.Context, service.Spec) error   { return nil }
func (m *fakeManager) Uninstall(context.Context, string) error       { return nil }
func (m *fakeManager) Repoint(context.Context, string, string) error { return nil }
func (m *fakeManager) Status(_ context.Context, name string) (service.Status, error) {
	st := m.st
	st.Name = name
	return st, nil
}

// installation is a migrated database with a data directory, a configuration file, a
// trusted key, a healthy service registration and plenty of disk.
type installation struct {
	dsn     string
	db      *sqldb.DB
	dir     string
	keyPath string
	opts    update.Options
}

const installed = "1.0.0"

func newInstallation(t *testing.T, dialect string) *installation {
	t.Helper()
	dir := t.TempDir()
	dsn := sqldbtest.DSN(t, dialect)
	if dialect == sqldb.SQLite {
		dsn = filepath.Join(dir, "data", "izytroniq.db")
		os.MkdirAll(filepath.Dir(dsn), 0o755)
	}
	db := sqldbtest.MustOpenDSN(t, dsn)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "izytroniq")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("binary"), 0o755)
	spec := service.Spec{Name: "izytroniq", BinaryPath: bin, User: "izytroniq", WorkingDir: data}
	if err := service.Record(data, spec); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "izytroniq.toml")
	if err := os.WriteFile(cfg, []byte("data_dir = \"data\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	pub, _ := updatetest.Key(0)
	in := &installation{dsn: dsn, db: db, dir: dir, keyPath: updatetest.WritePublicKey(t, dir, pub)}
	in.opts = update.Options{
		TrustedKeys:    []string{in.keyPath},
		DryRun:         true,
		CurrentVersion: installed,
		ConfigPath:     cfg,
		DSN:            dsn,
		DataDir:        data,
		InstallDir:     filepath.Dir(bin),
		ServiceManager: &fakeManager{st: service.Status{Installed: true, Location: "/fake/izytroniq.service", BinaryPath: bin,
			BinaryExists: true, User: "izytroniq", Running: true, State: "active"}},
		FreeSpace: func(string) (uint64, error) { return 1 << 40, nil },
		LockWait:  300 * time.Millisecond,
	}
	return in
}

// pkg writes a package signed by key 0 that is newer than installed and speaks the
// protocols given (default 1 and 2).
func (in *installation) pkg(t *testing.T, s updatetest.Spec) string {
	t.Helper()
	if s.Version == "" {
		s.Version = "1.1.0"
	}
	if s.SchemaVersion == 0 {
		s.SchemaVersion = sqldb.LatestSchemaVersion()
	}
	if s.ProtocolVersions == nil {
		s.ProtocolVersions = []int{1, 2}
	}
	p, _ := updatetest.Write(t, t.TempDir(), s)
	return p
}

// raw opens the database with database/sql, for changes the store does not offer.
func (in *installation) raw(t *testing.T) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(in.dsn, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, in.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump returns every row of every table but update_history, as text.
func (in *installation) dump(t *testing.T) map[string][]string {
	t.Helper()
	db := in.raw(t)
	defer db.Close() // an open connection would stop a restore
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	if strings.HasPrefix(in.dsn, "postgres") {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		if tb == "update_history" {
			continue
		}
		rows, err := db.Query("SELECT * FROM " + tb + " ORDER BY 1")
		if err != nil {
			t.Fatalf("dump %s: %v", tb, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[tb] = append(out[tb], fmt.Sprint(vals...))
		}
		rows.Close()
	}
	return out
}

// check returns the check named name, failing t when there is none.
func check(t *testing.T, res *update.Result, name string) update.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, res.Checks)
	return update.Check{}
}

// report is the checks as lines, for failure messages.
func report(res *update.Result) string {
	var b strings.Builder
	for _, c := range res.Checks {
		fmt.Fprintf(&b, "  %-5s %-28s %s | %s\n", c.Status, c.Name, c.Detail, c.Fix)
		for _, it := range c.Items {
			fmt.Fprintf(&b, "        - %s\n", it)
		}
	}
	return b.String()
}
