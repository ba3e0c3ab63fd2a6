package sqldb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestOpenSQLiteForms(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, dsn string }{
		{"path", filepath.Join(dir, "a.db")},
		{"sqlite prefix", "sqlite:" + filepath.Join(dir, "b.db")},
		{"file URI", "file:" + filepath.Join(dir, "c.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := sqldbtest.MustOpenDSN(t, tt.dsn)
			if got := db.Dialect(); got != sqldb.SQLite {
				t.Fatalf("got dialect %q, want sqlite", got)
			}
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			mustCustomer(t, db, "K-1")
			var mode string
			if err := db.QueryRow(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Fatalf("got journal_mode %q, %v; want wal", mode, err)
			}
			var fk int
			if err := db.QueryRow(context.Background(), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
				t.Fatalf("got foreign_keys %d, %v; want 1", fk, err)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		_, err := sqldb.Open(context.Background(), filepath.Join(dir, "no", "such", "dir", "x.db"), sqldb.Options{})
		if err == nil {
			t.Fatal("opening a file in a missing directory succeeded")
		}
	})
	t.Run("postgres down", func(t *testing.T) {
		_, err := sqldb.Open(context.Background(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", sqldb.Options{})
		if err == nil {
			t.Fatal("opening an unreachable PostgreSQL succeeded")
		}
	})
}
