// Package sqldbtest opens fresh, migrated test databases: a SQLite file, and a PostgreSQL
// schema when IZYTRONIQ_TEST_POSTGRES names a server.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// EnvPostgres names the environment variable that holds the PostgreSQL test DSN.
const EnvPostgres = "IZYTRONIQ_TEST_POSTGRES"

// Dialects returns the dialects the tests run against: sqlite, and postgres when
// IZYTRONIQ_TEST_POSTGRES is set.
func Dialects() []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{sqldb.SQLite, sqldb.Postgres}
	}
	return []string{sqldb.SQLite}
}

// Each runs fn as subtest "sqlite" on a fresh migrated SQLite file and, when
// IZYTRONIQ_TEST_POSTGRES is set, as subtest "postgres" on a fresh migrated schema.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) {
			fn(t, MustOpen(t, d))
		})
	}
}

// DSN returns the DSN of a fresh, empty (unmigrated) database of dialect, removed when tb
// ends.
func DSN(tb testing.TB, dialect string) string {
	tb.Helper()
	switch dialect {
	case sqldb.SQLite:
		return SQLiteDSN(tb)
	case sqldb.Postgres:
		dsn, cleanup := PostgresDSN(tb)
		tb.Cleanup(cleanup)
		return dsn
	}
	tb.Fatalf("unknown dialect %q", dialect)
	return ""
}

// MustOpen opens and migrates a fresh database of dialect ("sqlite" or "postgres"),
// closed (and, for PostgreSQL, dropped) when tb ends. It fails tb when the database
// cannot be opened; it never skips.
func MustOpen(tb testing.TB, dialect string) *sqldb.DB {
	tb.Helper()
	db := MustOpenDSN(tb, DSN(tb, dialect))
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate %s: %v", dialect, err)
	}
	return db
}

// MustOpenDSN opens dsn without migrating it and closes it when tb ends.
func MustOpenDSN(tb testing.TB, dsn string) *sqldb.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{ProductVersion: "test", MigrateLockTimeout: 30 * time.Second})
	if err != nil {
		tb.Fatalf("open %s: %v", dsn, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// SQLiteDSN returns the path of a new SQLite file in a temporary directory.
func SQLiteDSN(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "izytroniq.db")
}

// PostgresDSN creates a fresh, empty schema on the server IZYTRONIQ_TEST_POSTGRES names and
// returns a DSN whose every connection uses it (search_path as a runtime parameter), and a
// cleanup that drops it. It fails tb when the variable is unset or the server is down.
func PostgresDSN(tb testing.TB) (dsn string, cleanup func()) {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Fatalf("%s is not set", EnvPostgres)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "izytest_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("postgres %s: %v", base, err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("postgres %s: create schema: %v (is the server running?)", base, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if !q.Has("synchronous_commit") {
		q.Set("synchronous_commit", "off") // test data need not survive a crash
	}
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			tb.Errorf("postgres: drop schema %s: %v", schema, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("postgres: drop schema %s: %v", schema, err)
		}
	}
}
