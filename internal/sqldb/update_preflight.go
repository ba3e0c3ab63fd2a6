package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// This file holds the read-only questions `izytroniq update` asks the database before it
// changes anything: may the migration lock be taken, and does the configured identity
// own what the migrations will alter.

// ErrMigrationLockHeld reports that another process holds the migration lock (or, on
// SQLite, the database's write lock, which migrations take).
var ErrMigrationLockHeld = errors.New("migration lock held")

// HoldMigrationLock takes the migration lock Migrate takes, waiting at most wait, and
// returns the function that releases it. On PostgreSQL it is the session advisory lock
// of the current schema; on SQLite the write lock, held by an open BEGIN IMMEDIATE
// transaction on the writer connection, so the DB cannot write until release. Nothing is
// written either way. A lock another process holds past wait is ErrMigrationLockHeld.
func (db *DB) HoldMigrationLock(ctx context.Context, wait time.Duration) (release func(), err error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, dbErr("migration lock", err)
	}
	if db.dialect == Postgres {
		return db.holdPostgresLock(ctx, conn, wait)
	}
	return db.holdSQLiteLock(ctx, conn, wait)
}

func (db *DB) holdPostgresLock(ctx context.Context, conn *sql.Conn, wait time.Duration) (func(), error) {
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		conn.Close()
		return nil, dbErr("migration lock: current schema", err)
	}
	key := migrateLockKey(schema)
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			conn.Close()
			return nil, dbErr("migration lock", err)
		}
		if ok {
			break
		}
		if !time.Now().Before(deadline) {
			conn.Close()
			return nil, fmt.Errorf("%w: another process is migrating schema %q (waited %s)", ErrMigrationLockHeld, schema, wait)
		}
		select {
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key)
		conn.Close()
	}, nil
}

func (db *DB) holdSQLiteLock(ctx context.Context, conn *sql.Conn, wait time.Duration) (func(), error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(wait.Milliseconds(), 10)); err != nil {
		conn.Close()
		return nil, dbErr("migration lock", err)
	}
	restore := func() {
		conn.ExecContext(context.Background(), "PRAGMA busy_timeout = "+strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10))
		conn.Close()
	}
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock) takes the write lock
	if err != nil {
		restore()
		if isBusy(err) {
			return nil, fmt.Errorf("%w: another process holds the database's write lock (waited %s)", ErrMigrationLockHeld, wait)
		}
		return nil, dbErr("migration lock", err)
	}
	return func() {
		tx.Rollback()
		restore()
	}, nil
}

// TryMigrationLock takes the migration lock and releases it at once: whether a
// migration could start now. It waits at most wait for a lock held by someone else.
func (db *DB) TryMigrationLock(ctx context.Context, wait time.Duration) error {
	release, err := db.HoldMigrationLock(ctx, wait)
	if err != nil {
		return err
	}
	release()
	return nil
}

// Ownership says whether the identity the DB connects as may run migrations.
type Ownership struct {
	// Identity is who the database sees: the PostgreSQL role, or the SQLite file's path.
	Identity string `json:"identity"`
	// Owner is the schema's owner (PostgreSQL) or the file's owner (SQLite, where known).
	Owner string `json:"owner,omitempty"`
	// OK is true when migrations can create and alter tables.
	OK bool `json:"ok"`
	// Problem says why not, in plain words.
	Problem string `json:"problem,omitempty"`
}

// CheckOwnership reports whether the connected identity owns the current PostgreSQL
// schema (or may CREATE in it) and every table in it, or whether the SQLite file and its
// directory are writable. It changes nothing: the file is opened for writing and closed,
// a file in its directory is created and removed.
func (db *DB) CheckOwnership(ctx context.Context, sqlitePath string) (Ownership, error) {
	if db.dialect == Postgres {
		return db.pgOwnership(ctx)
	}
	return sqliteOwnership(sqlitePath)
}

func (db *DB) pgOwnership(ctx context.Context) (Ownership, error) {
	var o Ownership
	var schema string
	var owns, create bool
	err := db.r.QueryRowContext(ctx, `SELECT current_user, current_schema(), pg_get_userbyid(n.nspowner),
			pg_has_role(current_user, n.nspowner, 'USAGE'), has_schema_privilege(n.oid, 'CREATE')
		FROM pg_namespace n WHERE n.nspname = current_schema()`).Scan(&o.Identity, &schema, &o.Owner, &owns, &create)
	if errors.Is(err, sql.ErrNoRows) {
		return o, izy.Errorf(izy.EUNAVAILABLE, "the database has no current schema: check search_path in the DSN")
	}
	if err != nil {
		return o, dbErr("check ownership", err)
	}
	var foreign int
	var example sql.NullString
	err = db.r.QueryRowContext(ctx, `SELECT count(*), min(tablename) FROM pg_tables
		WHERE schemaname = current_schema() AND NOT pg_has_role(current_user, tableowner, 'USAGE')`).Scan(&foreign, &example)
	if err != nil {
		return o, dbErr("check ownership", err)
	}
	switch {
	case !owns && !create:
		o.Problem = fmt.Sprintf("role %s neither owns schema %s (owner %s) nor may CREATE in it", o.Identity, schema, o.Owner)
	case foreign > 0:
		o.Problem = fmt.Sprintf("role %s does not own %d table(s) in schema %s, e.g. %s; migrations must alter them", o.Identity, foreign, schema, example.String)
	default:
		o.OK = true
	}
	return o, nil
}

func sqliteOwnership(path string) (Ownership, error) {
	o := Ownership{Identity: path}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		o.Problem = fmt.Sprintf("the database file is not writable: %v", err)
		return o, nil
	}
	f.Close()
	if err := probeWritable(filepath.Dir(path)); err != nil {
		o.Problem = fmt.Sprintf("the database directory is not writable (SQLite writes its journal there): %v", err)
		return o, nil
	}
	o.OK = true
	return o, nil
}

// probeWritable creates and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".izytroniq-probe-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
