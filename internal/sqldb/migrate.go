package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one numbered schema change of one dialect.
type migration struct {
	Version  int
	Name     string // file name, e.g. "0001_init.sql"
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

var (
	sqliteMigrations   = sync.OnceValue(func() []migration { return loadMigrations(SQLite) })
	postgresMigrations = sync.OnceValue(func() []migration { return loadMigrations(Postgres) })
)

// migrations returns the embedded migrations of dialect in version order.
func migrations(dialect string) []migration {
	if dialect == Postgres {
		return postgresMigrations()
	}
	return sqliteMigrations()
}

func loadMigrations(dialect string) []migration {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic("sqldb: badly named migration " + name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			panic(fmt.Sprintf("sqldb: migration %s of %s is out of sequence", m.Name, dialect))
		}
	}
	return ms
}

// LatestSchemaVersion returns the schema version this binary's migrations reach.
func LatestSchemaVersion() int {
	s, p := len(migrations(SQLite)), len(migrations(Postgres))
	if s != p {
		panic("sqldb: the dialects have different numbers of migrations")
	}
	return s
}

// LatestSchemaVersion returns the schema version this binary's migrations reach.
func (db *DB) LatestSchemaVersion() int { return LatestSchemaVersion() }

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion reads schema_version through q; an empty database is version 0.
func (db *DB) schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	var err error
	if db.dialect == Postgres {
		err = q.QueryRowContext(ctx, "SELECT to_regclass('database_info') IS NOT NULL").Scan(&exists)
	} else {
		var n int
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'database_info'").Scan(&n)
		exists = n > 0
	}
	if err != nil {
		return 0, dbErr("read schema version", err)
	}
	if !exists {
		return 0, nil
	}
	var s string
	err = q.QueryRowContext(ctx, db.rebind("SELECT value FROM database_info WHERE key = ?"), "schema_version").Scan(&s)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, dbErr("read schema version", err)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("database_info.schema_version is %q, not a number", s)
	}
	return v, nil
}

// SchemaVersion returns the schema version stored in database_info, 0 for an empty database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return db.schemaVersion(ctx, db.r)
}

// SchemaVersions returns the stored schema version and the one this binary needs.
func (db *DB) SchemaVersions(ctx context.Context) (current, want int, err error) {
	current, err = db.SchemaVersion(ctx)
	return current, LatestSchemaVersion(), err
}

// CheckSchema returns nil when the database schema is the one this binary needs, and an
// EUNAVAILABLE error that says what to do otherwise.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, want, err := db.SchemaVersions(ctx)
	if err != nil {
		return izy.Errorf(izy.EUNAVAILABLE, "cannot read the database schema version: %v", err)
	}
	return schemaErr(cur, want)
}

func schemaErr(cur, want int) error {
	switch {
	case cur == 0:
		return izy.Errorf(izy.EUNAVAILABLE, "the database is empty (schema version 0), this binary needs %d: run `izytroniq db upgrade`", want)
	case cur < want:
		return izy.Errorf(izy.EUNAVAILABLE, "database schema is version %d, this binary needs %d: run `izytroniq db upgrade`", cur, want)
	case cur > want:
		return newerErr(cur, want)
	}
	return nil
}

func newerErr(cur, want int) error {
	return izy.Errorf(izy.EUNAVAILABLE, "the database was upgraded by a newer izytroniq (schema %d, this binary knows %d); run that version or restore a backup", cur, want)
}

// Info returns the key/value pairs of database_info.
func (db *DB) Info(ctx context.Context) (map[string]string, error) {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	if v == 0 {
		return info, nil
	}
	rows, err := db.r.QueryContext(ctx, "SELECT key, value FROM database_info")
	if err != nil {
		return nil, dbErr("read database_info", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, val string
		if err := rows.Scan(&k, &val); err != nil {
			return nil, dbErr("read database_info", err)
		}
		info[k] = val
	}
	return info, dbErr("read database_info", rows.Err())
}

// MigrationStatus is one migration as `izytroniq db status` shows it.
type MigrationStatus struct {
	Version   int       `json:"version"`
	Name      string    `json:"name"`
	Applied   bool      `json:"applied"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// Modified is true when the applied migration's checksum differs from this binary's.
	Modified bool `json:"modified,omitempty"`
	// Unknown is true for a migration recorded in the database that this binary lacks.
	Unknown bool `json:"unknown,omitempty"`
}

// Status lists every migration, applied or pending, in version order.
func (db *DB) Status(ctx context.Context) ([]MigrationStatus, error) {
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	type rec struct {
		name, sum string
		at        time.Time
	}
	applied := map[int]rec{}
	if cur > 0 {
		rows, err := db.r.QueryContext(ctx, "SELECT version, name, applied_at, checksum FROM schema_migrations ORDER BY version")
		if err != nil {
			return nil, dbErr("read schema_migrations", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var r rec
			if err := rows.Scan(&v, &r.name, timeCol{&r.at}, &r.sum); err != nil {
				return nil, dbErr("read schema_migrations", err)
			}
			applied[v] = r
		}
		if err := rows.Err(); err != nil {
			return nil, dbErr("read schema_migrations", err)
		}
	}
	var out []MigrationStatus
	ms := migrations(db.dialect)
	for _, m := range ms {
		s := MigrationStatus{Version: m.Version, Name: m.Name}
		if r, ok := applied[m.Version]; ok {
			s.Applied, s.AppliedAt, s.Modified = true, r.at, r.sum != m.Checksum
			delete(applied, m.Version)
		}
		out = append(out, s)
	}
	for v, r := range applied {
		out = append(out, MigrationStatus{Version: v, Name: r.name, Applied: true, AppliedAt: r.at, Unknown: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the pending migrations under a database-wide lock, each in its own
// transaction together with database_info.schema_version, and returns the versions it
// applied (none when another process got there first). It refuses a database whose schema
// is newer than this binary's.
func (db *DB) Migrate(ctx context.Context) (applied []int, err error) {
	ms := migrations(db.dialect)
	if db.dialect == Postgres {
		applied, err = db.migratePostgres(ctx, ms)
	} else {
		applied, err = db.migrateSQLite(ctx, ms)
	}
	if err != nil {
		return applied, err
	}
	return applied, nil
}

// step applies migration m in t unless the schema, read inside the lock, is already there.
// It reports whether it applied m.
func (db *DB) step(ctx context.Context, t *tx, m migration) (bool, error) {
	cur, err := db.schemaVersion(ctx, t.Tx)
	if err != nil {
		return false, err
	}
	if cur > len(migrations(db.dialect)) {
		return false, newerErr(cur, len(migrations(db.dialect)))
	}
	if cur >= m.Version {
		return false, nil
	}
	if cur != m.Version-1 {
		return false, fmt.Errorf("schema is version %d, cannot apply migration %d", cur, m.Version)
	}
	db.log.Info("applying migration", "version", m.Version, "name", m.Name, "dialect", db.dialect)
	start := time.Now()
	if _, err := t.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO database_info (key, value) VALUES ('schema_version', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.Itoa(m.Version)); err != nil {
		return false, fmt.Errorf("migration %s: set schema_version: %w", m.Name, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (?, ?, ?, ?)`,
		m.Version, m.Name, db.ts(now()), m.Checksum); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	db.log.Info("applied migration", "version", m.Version, "name", m.Name, "took", time.Since(start).String())
	return true, nil
}

// finish records the product version and makes the instance ID once.
func (db *DB) finish(ctx context.Context, t *tx) error {
	cur, err := db.schemaVersion(ctx, t.Tx)
	if err != nil {
		return err
	}
	if want := len(migrations(db.dialect)); cur > want {
		return newerErr(cur, want)
	}
	if cur == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `INSERT INTO database_info (key, value) VALUES ('instance_id', ?) ON CONFLICT (key) DO NOTHING`, izy.NewID()); err != nil {
		return dbErr("set instance_id", err)
	}
	if db.opts.ProductVersion != "" {
		if _, err := t.exec(ctx, `INSERT INTO database_info (key, value) VALUES ('product_version', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, db.opts.ProductVersion); err != nil {
			return dbErr("set product_version", err)
		}
	}
	return nil
}

// migrateSQLite takes the lock by BEGIN IMMEDIATE on the writer connection: each
// migration's transaction holds the database's write lock, and the schema version is read
// again inside it, so processes starting together apply every migration exactly once.
func (db *DB) migrateSQLite(ctx context.Context, ms []migration) ([]int, error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, dbErr("migrate", err)
	}
	defer conn.Close()
	// Wait as long as the caller allows for another process holding the lock.
	ms0 := db.opts.MigrateLockTimeout.Milliseconds()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(ms0, 10)); err != nil {
		return nil, dbErr("migrate", err)
	}
	defer conn.ExecContext(context.Background(), "PRAGMA busy_timeout = "+strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10))
	// Foreign keys cannot be switched inside a transaction; migrations that rebuild
	// tables need them off, and check them with PRAGMA foreign_key_check themselves.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return nil, dbErr("migrate", err)
	}
	defer conn.ExecContext(context.Background(), "PRAGMA foreign_keys = ON")

	run := func(fn func(t *tx) error) error {
		sqlTx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock) takes the write lock
		if err != nil {
			if isBusy(err) {
				return izy.Errorf(izy.EUNAVAILABLE, "migration lock not obtained within %s: another process holds the database", db.opts.MigrateLockTimeout)
			}
			return dbErr("migrate: begin", err)
		}
		t := &tx{Tx: sqlTx, db: db} // migrations change the schema: no cached statements
		if err := fn(t); err != nil {
			sqlTx.Rollback()
			return err
		}
		return dbErr("migrate: commit", sqlTx.Commit())
	}
	return db.migrateSteps(ctx, ms, run)
}

// migrateSteps runs each migration and then finish, each through run (one transaction).
func (db *DB) migrateSteps(ctx context.Context, ms []migration, run func(func(t *tx) error) error) ([]int, error) {
	var applied []int
	for _, m := range ms {
		ok := false
		err := run(func(t *tx) error {
			var err error
			ok, err = db.step(ctx, t, m)
			return err
		})
		if err != nil {
			return applied, err
		}
		if ok {
			applied = append(applied, m.Version)
		}
	}
	return applied, run(func(t *tx) error { return db.finish(ctx, t) })
}

// migrateLockKey derives the advisory lock key from the current schema, so that
// databases in different schemas (parallel tests) do not wait for each other.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("izytroniq migrate " + schema))
	return int64(h.Sum64())
}

// migratePostgres holds a session advisory lock on a dedicated connection, polled with
// pg_try_advisory_lock until MigrateLockTimeout, and applies each migration in its own
// transaction on that connection.
func (db *DB) migratePostgres(ctx context.Context, ms []migration) ([]int, error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, dbErr("migrate", err)
	}
	defer conn.Close()
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, dbErr("migrate: current schema", err)
	}
	key := migrateLockKey(schema)
	deadline := time.Now().Add(db.opts.MigrateLockTimeout)
	for waited := false; ; waited = true {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			return nil, dbErr("migrate: lock", err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, izy.Errorf(izy.EUNAVAILABLE, "migration lock not obtained within %s: another process is migrating schema %q", db.opts.MigrateLockTimeout, schema)
		}
		if !waited {
			db.log.Info("waiting for the migration lock: another process is migrating", "schema", schema)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key)

	run := func(fn func(t *tx) error) error {
		sqlTx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return dbErr("migrate: begin", err)
		}
		t := &tx{Tx: sqlTx, db: db} // migrations change the schema: no cached statements
		if err := fn(t); err != nil {
			sqlTx.Rollback()
			return err
		}
		return dbErr("migrate: commit", sqlTx.Commit())
	}
	return db.migrateSteps(ctx, ms, run)
}
