package sqldb_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// setMarker leaves database_info.migration_in_progress as a crash after its commit
// would: set, with the schema still below it.
func setMarker(t *testing.T, db *sqldb.DB, v int) {
	t.Helper()
	if err := db.Exec(context.Background(), "INSERT INTO database_info (key, value) VALUES ('migration_in_progress', ?)", strconv.Itoa(v)); err != nil {
		t.Fatal(err)
	}
}

func marker(t *testing.T, db *sqldb.DB) string {
	t.Helper()
	var v string
	err := db.QueryRow(context.Background(), "SELECT coalesce(max(value), '') FROM database_info WHERE key = 'migration_in_progress'").Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMigrationMarkerTransactional: a transactional step interrupted after its marker
// was committed is harmless: reported, cleared and applied again by the next Migrate.
func TestMigrationMarkerTransactional(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		latest := db.LatestSchemaVersion()
		v := db.AddTestMigration("CREATE TABLE marker_test (id INTEGER PRIMARY KEY);\n")
		setMarker(t, db, v)
		i, err := db.InterruptedMigration(ctx)
		if err != nil || i == nil || i.Version != v || i.Dirty() || !strings.Contains(i.Error(), "rolled back by the database") {
			t.Fatalf("InterruptedMigration = %+v, %v; want a clean interruption of %d", i, err, v)
		}
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 1 || applied[0] != v {
			t.Fatalf("Migrate = %v, %v; want [%d]", applied, err, v)
		}
		if got := marker(t, db); got != "" {
			t.Errorf("marker %q left after the migration", got)
		}
		if cur, _ := db.SchemaVersion(ctx); cur != latest+1 {
			t.Errorf("schema %d, want %d", cur, latest+1)
		}
		if i, _ := db.InterruptedMigration(ctx); i != nil {
			t.Errorf("still interrupted: %+v", i)
		}
	})
}

// TestMigrationMarkerDirty: a no-transaction step interrupted (or failed) half-way
// leaves the marker; Migrate refuses with ErrDirtyMigration and says what to do.
func TestMigrationMarkerDirty(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		latest := db.LatestSchemaVersion()
		// Its second statement fails: the first stays, outside any transaction.
		v := db.AddTestMigration("-- izytroniq:no-transaction\nCREATE TABLE dirty_a (id INTEGER PRIMARY KEY);\nCREATE TABLE dirty_a (id INTEGER PRIMARY KEY);\n")
		_, err := db.Migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), "may be partly applied") {
			t.Fatalf("Migrate = %v, want the failed no-transaction step", err)
		}
		if got := marker(t, db); got != strconv.Itoa(v) {
			t.Fatalf("marker %q, want %d", got, v)
		}
		i, err := db.InterruptedMigration(ctx)
		if err != nil || i == nil || !i.Dirty() || !errors.Is(i, sqldb.ErrDirtyMigration) {
			t.Fatalf("InterruptedMigration = %+v, %v; want dirty", i, err)
		}
		_, err = db.Migrate(ctx)
		if !errors.Is(err, sqldb.ErrDirtyMigration) || !strings.Contains(err.Error(), "izytroniq backup restore") {
			t.Fatalf("Migrate again = %v, want ErrDirtyMigration saying how to restore", err)
		}
		if cur, _ := db.SchemaVersion(ctx); cur != latest {
			t.Errorf("schema %d, want %d", cur, latest)
		}
	})
}

// TestMigrationNoTransaction: a no-transaction step runs outside a transaction (on
// PostgreSQL, CREATE INDEX CONCURRENTLY, which refuses to run in one) and is recorded.
func TestMigrationNoTransaction(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		stmt := "CREATE INDEX customers_name_test ON customers (name);"
		if db.Dialect() == sqldb.Postgres {
			stmt = "CREATE INDEX CONCURRENTLY customers_name_test ON customers (name);"
		}
		v := db.AddTestMigration("-- izytroniq:no-transaction\n" + stmt + "\n")
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 1 || applied[0] != v {
			t.Fatalf("Migrate = %v, %v; want [%d]", applied, err, v)
		}
		if got := marker(t, db); got != "" {
			t.Errorf("marker %q left", got)
		}
	})
}

// TestSchemaCompatibility: a binary runs on a database newer than its schema when only
// expand migrations lie between, and refuses after a contract migration.
func TestSchemaCompatibility(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn := sqldbtest.DSN(t, dialect)
			newer := sqldbtest.MustOpenDSN(t, dsn)
			if _, err := newer.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			older := sqldbtest.MustOpenDSN(t, dsn) // knows only the embedded migrations
			latest := older.LatestSchemaVersion()

			newer.AddTestMigration("CREATE TABLE expand_test (id INTEGER PRIMARY KEY);\n")
			if _, err := newer.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := older.CheckSchema(ctx); err != nil {
				t.Fatalf("after an expand migration the older binary: %v, want it accepted", err)
			}
			if applied, err := older.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Fatalf("older Migrate on the expanded schema = %v, %v; want nothing, no error", applied, err)
			}
			if min, err := older.MinCompatibleSchema(ctx); err != nil || min != 0 {
				t.Fatalf("min compatible %d, %v; want 0", min, err)
			}

			v := newer.AddTestMigration("-- izytroniq:contract\nDROP TABLE expand_test;\n")
			if _, err := newer.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if min, err := older.MinCompatibleSchema(ctx); err != nil || min != v {
				t.Fatalf("min compatible %d, %v; want %d", min, err, v)
			}
			err := older.CheckSchema(ctx)
			wantCode(t, err, izy.EUNAVAILABLE)
			if !strings.Contains(err.Error(), "newer izytroniq (schema "+strconv.Itoa(latest+2)) {
				t.Fatalf("CheckSchema = %v", err)
			}
			if _, err := older.Migrate(ctx); err == nil {
				t.Fatal("older Migrate after a contract migration succeeded")
			}
			if err := newer.CheckSchema(ctx); err != nil {
				t.Fatalf("newer CheckSchema: %v", err)
			}
		})
	}
}
