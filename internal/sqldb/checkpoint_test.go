package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// TestBackgroundCheckpoint: the writer never checkpoints itself, so without the background
// checkpointer the schema would stay in the WAL and the database file stay empty. The file
// must fill within a few ticks, and Close must leave it complete for a plain reopen.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	db, err := sqldb.Open(ctx, path, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() < 64<<10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := size(); got < 64<<10 {
		t.Fatalf("database file is %d bytes 10 s after migrating; the background checkpoint did not run", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqldb.Open(ctx, path, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(ctx); err != nil || v != sqldb.LatestSchemaVersion() {
		t.Fatalf("after reopen: schema version %d, %v; want %d", v, err, sqldb.LatestSchemaVersion())
	}
}

// TestCloseTwice: a second Close must not panic (tests and shutdown paths both close).
func TestCloseTwice(t *testing.T) {
	db, err := sqldb.Open(context.Background(), filepath.Join(t.TempDir(), "twice.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db.Close()
}
