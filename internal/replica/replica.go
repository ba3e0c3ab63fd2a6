// Package replica is the field client's local SQLite copy of checked-out data: records
// keyed by entity and id with the server's seq, the durable outbox of offline mutations,
// the snapshot cursor and change-feed position of each checkout, and a mirror of its
// conflicts.
package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	izy "github.com/izytroniq/izytroniq"
)

// Replica is one local database file. Every exported method is one local transaction.
type Replica struct {
	db  *sql.DB
	now func() time.Time
}

// schema is applied on every open; each statement is idempotent. Records keep the JSON
// the server sent (Data) plus a few columns for searching; tombstones keep their seq so
// that an older copy can never bring a deleted record back.
const schema = `
CREATE TABLE IF NOT EXISTS records (
	entity      TEXT NOT NULL,
	id          TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	deleted     INTEGER NOT NULL DEFAULT 0,
	local       INTEGER NOT NULL DEFAULT 0,
	customer_id TEXT NOT NULL DEFAULT '',
	location_id TEXT NOT NULL DEFAULT '',
	device_id   TEXT NOT NULL DEFAULT '',
	search      TEXT NOT NULL DEFAULT '',
	data        TEXT,
	PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkouts (
	id            TEXT PRIMARY KEY,
	data          TEXT NOT NULL,
	cursor        TEXT NOT NULL DEFAULT '',
	snapshot_done INTEGER NOT NULL DEFAULT 0,
	snap_counts   TEXT NOT NULL DEFAULT '{}',
	change_seq    INTEGER NOT NULL DEFAULT 0,
	released      INTEGER NOT NULL DEFAULT 0,
	last_sync     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS outbox (
	n           INTEGER PRIMARY KEY AUTOINCREMENT,
	mutation_id TEXT NOT NULL UNIQUE,
	checkout_id TEXT NOT NULL,
	entity      TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	op          TEXT NOT NULL,
	mutation    TEXT NOT NULL,
	batch_id    TEXT,
	status      TEXT NOT NULL DEFAULT 'pending',
	result      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (checkout_id, status, n);
CREATE TABLE IF NOT EXISTS batches (
	id          TEXT PRIMARY KEY,
	checkout_id TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS conflicts (
	id          TEXT PRIMARY KEY,
	checkout_id TEXT NOT NULL,
	mutation_id TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT 'open',
	data        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// indexSchema is the secondary indexes of records. A snapshot into an empty replica drops
// them and builds them with its last page (building an index once is much cheaper than
// keeping it up to date row by row); Open builds them unless such a snapshot is under way.
const indexSchema = `
CREATE INDEX IF NOT EXISTS records_customer ON records (entity, customer_id);
CREATE INDEX IF NOT EXISTS records_device ON records (device_id) WHERE device_id <> '';
`

// dropIndexes drops the secondary indexes of records (see indexSchema).
const dropIndexes = `DROP INDEX IF EXISTS records_customer; DROP INDEX IF EXISTS records_device;`

// Open opens (creating if needed) the replica at path. Writes are synchronous (FULL), so a
// committed outbox entry survives a crash or a power cut.
func Open(ctx context.Context, path string) (*Replica, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	// 16 KiB pages (the default is 4 KiB) for a new replica; an existing one keeps its
	// own. records is a WITHOUT ROWID table, whose rows stay within their page only up to
	// about a quarter of it: at 4 KiB most tests and devices (0.8–1.3 KB of JSON) spilled
	// into an overflow page each, and 421 MB of rows took 1.2 GB and as many writes.
	q.Add("_pragma", "page_size(16384)")
	// An 8 MiB page cache (the default is 2 MiB): a checkout writes hundreds of MB, and
	// each page that falls out of the cache is read again with a system call.
	q.Add("_pragma", "cache_size(-8192)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; the client is one process doing one thing at a time
	// WAL is set here rather than in the DSN, where the driver applies it before
	// page_size, which then no longer takes effect on a new file. The mode is stored in
	// the file, so a later connection finds it too.
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	r := &Replica{db: db, now: time.Now}
	if err := r.ensureIndexes(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	return r, nil
}

// ensureIndexes builds the secondary indexes of records unless a fresh snapshot (one
// that dropped them) is still under way.
func (r *Replica) ensureIndexes(ctx context.Context) error {
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM state WHERE key LIKE 'fresh_snapshot:%'`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := r.db.ExecContext(ctx, indexSchema)
	return err
}

// Close closes the database.
func (r *Replica) Close() error { return r.db.Close() }

// tx runs fn in one transaction and commits it when fn returns nil.
func (r *Replica) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// State returns the value of a state key, "" when unset.
func (r *Replica) State(ctx context.Context, key string) (string, error) {
	var v string
	err := r.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetState sets a state key (e.g. the sync state or the time of the last sync).
func (r *Replica) SetState(ctx context.Context, key, value string) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO state (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// notFound is the error for a record the replica does not hold.
func notFound(entity, id string) error {
	return izy.Errorf(izy.ENOTFOUND, "%s %s is not in the local copy; check out its customer first (izy checkout --customer ID)", entity, id)
}
