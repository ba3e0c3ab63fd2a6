package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
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
	// NoTx is set by a line "-- izytroniq:no-transaction": the statements run outside a
	// transaction (such as CREATE INDEX CONCURRENTLY). A crash in one leaves the schema
	// between two versions, which the in-progress marker detects.
	NoTx bool
	// Contract is set by a line "-- izytroniq:contract": the step removes or changes
	// something older binaries use, so they cannot run on the result. Every other
	// migration is an expand step (docs/migrations.md).
	Contract bool
}

// Directives a migration file may carry, each on a line of its own.
const (
	directiveNoTx     = "-- izytroniq:no-transaction"
	directiveContract = "-- izytroniq:contract"
)

// Keys of database_info that migrations maintain besides schema_version.
const (
	// infoInProgress holds the version of the migration being applied; committed before
	// the step starts and cleared by the step's own transaction.
	infoInProgress = "migration_in_progress"
	// infoMinCompatible is the oldest schema a binary may know and still run on this
	// database: the version of the last contract migration applied.
	infoMinCompatible = "min_compatible_schema"
)

// newMigration parses the directives of one migration file.
func newMigration(version int, name string, b []byte) migration {
	sum := sha256.Sum256(b)
	m := migration{Version: version, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])}
	for _, line := range strings.Split(m.SQL, "\n") {
		switch strings.TrimSpace(line) {
		case directiveNoTx:
			m.NoTx = true
		case directiveContract:
			m.Contract = true
		}
	}
	return m
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
		ms = append(ms, newMigration(v, name, b))
	}
	ms = append(ms, extraMigrations(dialect, len(ms))...)
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
func (db *DB) LatestSchemaVersion() int { return len(db.migrations()) }

// testMigrations holds migrations tests add to one DB (migrate_export_test.go), after
// the embedded ones.
var testMigrations sync.Map // *DB → []migration

// migrations returns the DB's migrations: the embedded ones and any a test added.
func (db *DB) migrations() []migration {
	ms := migrations(db.dialect)
	if extra, ok := testMigrations.Load(db); ok {
		ms = append(slices.Clip(ms), extra.([]migration)...)
	}
	return ms
}

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
	return current, db.LatestSchemaVersion(), err
}

// CheckSchema returns nil when this binary can run on the database: its schema is the
// one this binary needs, or newer but only by expand migrations since a contract
// migration this binary knows (SchemaCompatible). Otherwise it returns an EUNAVAILABLE
// error that says what to do.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, want, err := db.SchemaVersions(ctx)
	if err != nil {
		return izy.Errorf(izy.EUNAVAILABLE, "cannot read the database schema version: %v", err)
	}
	if cur > want {
		ok, err := db.SchemaCompatible(ctx)
		if err != nil {
			return izy.Errorf(izy.EUNAVAILABLE, "cannot read the database schema version: %v", err)
		}
		if ok {
			return nil
		}
	}
	return schemaErr(cur, want)
}

// MinCompatibleSchema returns database_info.min_compatible_schema: the oldest schema a
// binary may know and still run on this database (0 when no contract migration was
// ever applied).
func (db *DB) MinCompatibleSchema(ctx context.Context) (int, error) {
	return db.infoInt(ctx, db.r, infoMinCompatible)
}

// SchemaCompatible reports whether this binary may run on the database: its schema is
// at most this binary's, or newer by expand migrations only, which keep every table and
// column older binaries use.
func (db *DB) SchemaCompatible(ctx context.Context) (bool, error) {
	return db.compatible(ctx, db.r)
}

func (db *DB) compatible(ctx context.Context, q querier) (bool, error) {
	cur, err := db.schemaVersion(ctx, q)
	if err != nil {
		return false, err
	}
	want := db.LatestSchemaVersion()
	if cur <= want {
		return true, nil
	}
	min, err := db.infoInt(ctx, q, infoMinCompatible)
	if err != nil {
		return false, err
	}
	return min <= want, nil
}

// infoInt reads an integer from database_info; a missing key (or table) is 0.
func (db *DB) infoInt(ctx context.Context, q querier, key string) (int, error) {
	cur, err := db.schemaVersion(ctx, q)
	if err != nil || cur == 0 {
		return 0, err
	}
	var s string
	err = q.QueryRowContext(ctx, db.rebind("SELECT value FROM database_info WHERE key = ?"), key).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, dbErr("read database_info."+key, err)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("database_info.%s is %q, not a number", key, s)
	}
	return v, nil
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
	ms := db.migrations()
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
// applied (none when another process got there first). Before each step it commits
// database_info.migration_in_progress, which the step's transaction clears: a marker
// left behind means a step was interrupted. An interrupted transactional step was rolled
// back by the database and is applied again; an interrupted no-transaction step is a
// dirty migration, and Migrate refuses with ErrDirtyMigration. It refuses a database
// whose schema is newer than this binary's unless only expand migrations lie between
// (then it changes nothing).
func (db *DB) Migrate(ctx context.Context) (applied []int, err error) {
	ms := db.migrations()
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

// MigrationHook, when set, runs after a migration's in-progress marker is committed (and
// a no-transaction step's statements ran) and before the step's transaction: the point
// where a crash leaves the marker behind. Tests of `izytroniq update` kill the process
// there (IZYTRONIQ_UPDATE_CRASH_AT=migration:N); nothing else sets it.
var MigrationHook func(version int)

// ErrDirtyMigration reports a migration that cannot run in a transaction and was
// interrupted: the schema may be half-way between two versions.
var ErrDirtyMigration = errors.New("dirty migration")

// Interrupted is a migration whose in-progress marker outlived it.
type Interrupted struct {
	Version int    `json:"version"`
	Name    string `json:"name,omitempty"` // "" when this binary does not know the migration
	// NoTx: the step ran outside a transaction, so the database may hold part of it.
	NoTx bool `json:"no_transaction"`
}

// Dirty reports whether the interruption left the schema between two versions.
func (i *Interrupted) Dirty() bool { return i.NoTx }

// Error describes the interruption and what to do.
func (i *Interrupted) Error() string {
	name := i.Name
	if name == "" {
		name = fmt.Sprintf("%d (unknown to this binary)", i.Version)
	}
	if !i.NoTx {
		return fmt.Sprintf("migration %s was interrupted and rolled back by the database; the next upgrade applies it again", name)
	}
	return fmt.Sprintf("%s: migration %s runs outside a transaction and was interrupted, so the schema may hold part of it: "+
		"restore the backup taken before it (izytroniq backup restore latest), or finish the step by hand and delete "+
		"database_info.%s", ErrDirtyMigration, name, infoInProgress)
}

// Unwrap makes errors.Is(i, ErrDirtyMigration) true for a dirty migration.
func (i *Interrupted) Unwrap() error {
	if i.NoTx {
		return ErrDirtyMigration
	}
	return nil
}

// InterruptedMigration returns the migration whose in-progress marker is still set
// while the schema is below it, or nil when no step was interrupted.
func (db *DB) InterruptedMigration(ctx context.Context) (*Interrupted, error) {
	return db.interrupted(ctx, db.r)
}

func (db *DB) interrupted(ctx context.Context, q querier) (*Interrupted, error) {
	marker, err := db.infoInt(ctx, q, infoInProgress)
	if err != nil || marker == 0 {
		return nil, err
	}
	cur, err := db.schemaVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	if marker <= cur {
		return nil, nil // the step committed; the marker is stale
	}
	i := &Interrupted{Version: marker}
	for _, m := range db.migrations() {
		if m.Version == marker {
			i.Name, i.NoTx = m.Name, m.NoTx
		}
	}
	if i.Name == "" {
		// A newer binary's step: whether it ran in a transaction is not known here, so
		// it is treated as dirty until that binary looks at it.
		i.NoTx = true
	}
	return i, nil
}

// resolveInterrupted runs, under the lock, before the first step: a stale marker is
// removed, an interrupted transactional step is reported and its marker removed (the
// step runs again), and a dirty one stops the migration.
func (db *DB) resolveInterrupted(ctx context.Context, t *tx) error {
	i, err := db.interrupted(ctx, t.Tx)
	if err != nil {
		return err
	}
	marker, err := db.infoInt(ctx, t.Tx, infoInProgress)
	if err != nil || marker == 0 {
		return err
	}
	if i != nil && i.Dirty() {
		return i
	}
	if i != nil {
		db.log.Warn("migration was interrupted; the database rolled it back", "version", i.Version, "name", i.Name)
	}
	if _, err := t.exec(ctx, "DELETE FROM database_info WHERE key = ?", infoInProgress); err != nil {
		return dbErr("clear "+infoInProgress, err)
	}
	return nil
}

// next decides, under the lock, whether m is to be applied now and if so commits its
// in-progress marker (in t). A newer schema made only by expand steps is left alone.
func (db *DB) next(ctx context.Context, t *tx, m migration, latest int) (bool, error) {
	cur, err := db.schemaVersion(ctx, t.Tx)
	if err != nil {
		return false, err
	}
	if cur > latest {
		ok, err := db.compatible(ctx, t.Tx)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, newerErr(cur, latest)
		}
		return false, nil
	}
	if cur >= m.Version {
		return false, nil
	}
	if cur != m.Version-1 {
		return false, fmt.Errorf("schema is version %d, cannot apply migration %d", cur, m.Version)
	}
	if cur == 0 {
		return true, nil // no database_info yet; the first step is always transactional
	}
	if _, err := t.exec(ctx, `INSERT INTO database_info (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, infoInProgress, strconv.Itoa(m.Version)); err != nil {
		return false, dbErr("set "+infoInProgress, err)
	}
	return true, nil
}

// step applies migration m in t unless the schema, read inside the lock, is already
// there; sqlDone says m's statements already ran outside a transaction (NoTx). It clears
// the in-progress marker and reports whether it applied m.
func (db *DB) step(ctx context.Context, t *tx, m migration, sqlDone bool) (bool, error) {
	cur, err := db.schemaVersion(ctx, t.Tx)
	if err != nil {
		return false, err
	}
	if cur >= m.Version {
		return false, nil
	}
	if cur != m.Version-1 {
		return false, fmt.Errorf("schema is version %d, cannot apply migration %d", cur, m.Version)
	}
	db.log.Info("applying migration", "version", m.Version, "name", m.Name, "dialect", db.dialect, "contract", m.Contract, "no_transaction", m.NoTx)
	start := time.Now()
	if !sqlDone {
		if _, err := t.ExecContext(ctx, m.SQL); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	set := func(key, value string) error {
		_, err := t.exec(ctx, `INSERT INTO database_info (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	}
	if err := set("schema_version", strconv.Itoa(m.Version)); err != nil {
		return false, fmt.Errorf("migration %s: set schema_version: %w", m.Name, err)
	}
	if m.Contract {
		if err := set(infoMinCompatible, strconv.Itoa(m.Version)); err != nil {
			return false, fmt.Errorf("migration %s: set %s: %w", m.Name, infoMinCompatible, err)
		}
	}
	if _, err := t.exec(ctx, "DELETE FROM database_info WHERE key = ?", infoInProgress); err != nil {
		return false, fmt.Errorf("migration %s: clear %s: %w", m.Name, infoInProgress, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (?, ?, ?, ?)`,
		m.Version, m.Name, db.ts(now()), m.Checksum); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	db.log.Info("applied migration", "version", m.Version, "name", m.Name, "took", time.Since(start).String())
	return true, nil
}

// finish records the product version and makes the instance ID once. On a newer,
// compatible schema it changes nothing.
func (db *DB) finish(ctx context.Context, t *tx) error {
	cur, err := db.schemaVersion(ctx, t.Tx)
	if err != nil {
		return err
	}
	if want := db.LatestSchemaVersion(); cur > want {
		ok, err := db.compatible(ctx, t.Tx)
		if err != nil {
			return err
		}
		if !ok {
			return newerErr(cur, want)
		}
		return nil
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
	return db.migrateSteps(ctx, conn, ms, run)
}

// migrateSteps resolves an interrupted step, then runs each migration and then finish,
// each through run (one transaction; a migration's marker in one more before it). A
// NoTx migration's statements run on conn between the two.
func (db *DB) migrateSteps(ctx context.Context, conn *sql.Conn, ms []migration, run func(func(t *tx) error) error) ([]int, error) {
	if err := run(func(t *tx) error { return db.resolveInterrupted(ctx, t) }); err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range ms {
		apply := false
		if err := run(func(t *tx) (err error) { apply, err = db.next(ctx, t, m, len(ms)); return err }); err != nil {
			return applied, err
		}
		if !apply {
			continue
		}
		if m.NoTx {
			db.log.Info("running migration outside a transaction", "version", m.Version, "name", m.Name)
			if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
				return applied, fmt.Errorf("migration %s (outside a transaction; it may be partly applied): %w", m.Name, err)
			}
		}
		if MigrationHook != nil {
			MigrationHook(m.Version)
		}
		ok := false
		err := run(func(t *tx) error {
			var err error
			ok, err = db.step(ctx, t, m, m.NoTx)
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
	return db.migrateSteps(ctx, conn, ms, run)
}
