package sqldb_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestMigrateFromEmpty(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := sqldbtest.MustOpenDSN(t, sqldbtest.DSN(t, dialect))
			if got := db.Dialect(); got != dialect {
				t.Fatalf("got dialect %q, want %q", got, dialect)
			}
			if v, err := db.SchemaVersion(ctx); err != nil || v != 0 {
				t.Fatalf("empty database: got version %d, %v; want 0, nil", v, err)
			}
			err := db.CheckSchema(ctx)
			wantCode(t, err, izy.EUNAVAILABLE)
			if !strings.Contains(err.Error(), "izytroniq db upgrade") {
				t.Fatalf("got %q, want it to say how to upgrade", err)
			}
			st, err := db.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != sqldb.LatestSchemaVersion() || st[0].Applied {
				t.Fatalf("status of an empty database: got %+v, want all pending", st)
			}

			applied, err := db.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(applied), sqldb.LatestSchemaVersion(); got != want {
				t.Fatalf("applied %v, want %d migrations", applied, want)
			}
			if err := db.CheckSchema(ctx); err != nil {
				t.Fatalf("after migrate: %v", err)
			}
			info, err := db.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info["product_version"], "test"; got != want {
				t.Fatalf("got product_version %q, want %q", got, want)
			}
			if !izy.ValidID(info["instance_id"]) {
				t.Fatalf("got instance_id %q, want a UUID", info["instance_id"])
			}
			st, err = db.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				if !s.Applied || s.Modified || s.Unknown || s.AppliedAt.IsZero() {
					t.Fatalf("status after migrate: got %+v", s)
				}
			}

			// A second Migrate is a no-op and keeps the instance ID.
			applied, err = db.Migrate(ctx)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second migrate: got %v, %v; want none", applied, err)
			}
			info2, _ := db.Info(ctx)
			if info2["instance_id"] != info["instance_id"] {
				t.Fatalf("instance_id changed from %s to %s", info["instance_id"], info2["instance_id"])
			}
		})
	}
}

func TestMigrateConcurrently(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn := sqldbtest.DSN(t, dialect)
			const n = 5
			dbs := make([]*sqldb.DB, n)
			for i := range dbs {
				dbs[i] = sqldbtest.MustOpenDSN(t, dsn)
			}
			var wg sync.WaitGroup
			applied := make([][]int, n)
			errs := make([]error, n)
			for i, db := range dbs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					applied[i], errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			total := 0
			for i := range dbs {
				if errs[i] != nil {
					t.Fatalf("migrate %d: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			if want := sqldb.LatestSchemaVersion(); total != want {
				t.Fatalf("applied %d migrations in all (%v), want %d", total, applied, want)
			}
			got, err := dbs[0].QueryInt(ctx, "SELECT count(*) FROM schema_migrations")
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(sqldb.LatestSchemaVersion()); got != want {
				t.Fatalf("schema_migrations has %d rows, want %d", got, want)
			}
		})
	}
}

func TestCheckSchema(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		latest := sqldb.LatestSchemaVersion()
		tests := []struct {
			name    string
			version int
			code    string
			say     string
		}{
			{"current", latest, "", ""},
			{"newer", latest + 2, izy.EUNAVAILABLE, "newer izytroniq"},
			{"older", latest - 1, izy.EUNAVAILABLE, "izytroniq db upgrade"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := db.Exec(ctx, "UPDATE database_info SET value = ? WHERE key = 'schema_version'", itoa(tt.version)); err != nil {
					t.Fatal(err)
				}
				// A newer schema is refused only after a contract migration this binary
				// does not know (expand migrations keep it compatible: migrate_marker_test.go).
				if err := db.Exec(ctx, "INSERT INTO database_info (key, value) VALUES ('min_compatible_schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", itoa(tt.version)); err != nil {
					t.Fatal(err)
				}
				err := db.CheckSchema(ctx)
				wantCode(t, err, tt.code)
				if err != nil && !strings.Contains(err.Error(), tt.say) {
					t.Fatalf("got %q, want it to say %q", err, tt.say)
				}
				cur, want, err := db.SchemaVersions(ctx)
				if err != nil || cur != tt.version || want != latest {
					t.Fatalf("SchemaVersions: got %d, %d, %v; want %d, %d", cur, want, err, tt.version, latest)
				}
			})
		}
		// Migrate refuses a newer schema (after a contract migration) rather than touching it.
		if err := db.Exec(ctx, "UPDATE database_info SET value = ? WHERE key IN ('schema_version', 'min_compatible_schema')", itoa(latest+1)); err != nil {
			t.Fatal(err)
		}
		_, err := db.Migrate(ctx)
		wantCode(t, err, izy.EUNAVAILABLE)
	})
	t.Run("messages", func(t *testing.T) {
		tests := []struct {
			cur, want int
			msg       string
		}{
			{1, 2, "database schema is version 1, this binary needs 2: run `izytroniq db upgrade`"},
			{3, 2, "the database was upgraded by a newer izytroniq (schema 3, this binary knows 2); run that version or restore a backup"},
			{2, 2, ""},
		}
		for _, tt := range tests {
			if got := izy.ErrorMessage(sqldb.SchemaErr(tt.cur, tt.want)); got != tt.msg {
				t.Errorf("SchemaErr(%d, %d): got %q, want %q", tt.cur, tt.want, got, tt.msg)
			}
		}
	})
}

func TestPingAndStats(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := db.Stats().OpenConnections; got < 1 {
			t.Fatalf("got %d open connections, want at least 1", got)
		}
	})
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{`SELECT '?' , ? WHERE x LIKE ? ESCAPE '\'`, `SELECT '?' , $1 WHERE x LIKE $2 ESCAPE '\'`},
		{"no placeholders", "no placeholders"},
	}
	for _, tt := range tests {
		if got := sqldb.Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
