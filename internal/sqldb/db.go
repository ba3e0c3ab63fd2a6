// Package sqldb stores Izytroniq's data in SQLite or PostgreSQL: every SQL statement, the
// migrations of each dialect and the database_info table live here.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	izy "github.com/izytroniq/izytroniq"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options configure a DB.
type Options struct {
	// ProductVersion is written to database_info by Migrate.
	ProductVersion string
	// Logger receives migration progress; nil discards.
	Logger *slog.Logger
	// MigrateLockTimeout bounds the wait for the migration lock; 0 means one minute.
	MigrateLockTimeout time.Duration
}

// DB is a handle on one database. It is safe for concurrent use.
//
// SQLite gets two pools on the same file: a single-connection writer pool whose
// transactions start with BEGIN IMMEDIATE (SQLite serializes writers anyway, and queueing
// them in Go avoids SQLITE_BUSY storms and lock upgrades that deadlock), and a
// multi-connection reader pool that reads concurrently thanks to WAL. PostgreSQL uses one
// pool for both.
type DB struct {
	dialect string
	w       *sql.DB // writes
	r       *sql.DB // reads (== w on PostgreSQL)
	opts    Options
	log     *slog.Logger

	rebound   sync.Map // query with ? → query with $n (PostgreSQL only)
	rstmts    sync.Map // SQLite: queries prepared once on r
	wstmts    sync.Map // SQLite: queries prepared once on w
	nprepared atomic.Int64
}

// Open opens the database named by dsn without migrating it: "postgres://…" or
// "postgresql://…" is PostgreSQL; anything else is the path of a SQLite file, optionally
// prefixed with "sqlite:" (a "file:" URI is passed on as such).
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MigrateLockTimeout <= 0 {
		opts.MigrateLockTimeout = time.Minute
	}
	db := &DB{opts: opts, log: opts.Logger}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		err = db.openPostgres(ctx, dsn)
	} else {
		err = db.openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) openPostgres(ctx context.Context, dsn string) error {
	db.dialect = Postgres
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return fmt.Errorf("open database: %w", err)
	}
	db.w, db.r = p, p
	return nil
}

// sqliteCacheSize is the page cache of each SQLite connection (negative: KiB).
const sqliteCacheSize = "-32000"

// sqliteBusyTimeout is how long a SQLite connection waits for another process's lock.
const sqliteBusyTimeout = 10 * time.Second

func (db *DB) openSQLite(ctx context.Context, dsn string) error {
	db.dialect = SQLite
	name := strings.TrimPrefix(dsn, "sqlite:")
	if name == "" {
		return izy.Errorf(izy.EINVALID, "database: empty SQLite path")
	}
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(int(sqliteBusyTimeout/time.Millisecond))+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "cache_size("+sqliteCacheSize+")")
	// Multi-row statements inside a transaction keep a statement journal; in memory it
	// costs no system calls.
	q.Add("_pragma", "temp_store(MEMORY)")
	wq := url.Values{}
	for k, v := range q {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")

	w, err := sql.Open("sqlite", name+sep+wq.Encode())
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first so that WAL is on before any reader opens the file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return fmt.Errorf("open database %s: %w", name, err)
	}
	q.Add("_pragma", "query_only(1)") // the reader pool never writes, by construction
	r, err := sql.Open("sqlite", name+sep+q.Encode())
	if err != nil {
		w.Close()
		return fmt.Errorf("open database: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open database %s: %w", name, err)
	}
	db.w, db.r = w, r
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	for _, m := range []*sync.Map{&db.rstmts, &db.wstmts} {
		m.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
	}
	err := db.w.Close()
	if db.r != db.w {
		if err2 := db.r.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Stats returns the statistics of the pool that serves reads (on SQLite the writer pool
// has exactly one connection).
func (db *DB) Stats() sql.DBStats { return db.r.Stats() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return izy.Errorf(izy.EUNAVAILABLE, "database does not answer: %v", err)
	}
	return nil
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL, skipping quoted text.
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres {
		return q
	}
	if v, ok := db.rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	db.rebound.Store(q, s)
	return s
}

// tx is a transaction that rebinds its queries and, on SQLite, runs them as statements
// prepared once per connection.
type tx struct {
	*sql.Tx
	db      *DB
	stmts   *sync.Map // prepared statements of the pool the transaction runs on; nil for none
	pool    *sql.DB
	pending []string // queries to prepare once the transaction has ended
}

// stmt returns q prepared, bound to the transaction, or nil to run q unprepared. A query
// seen for the first time is prepared after the transaction: preparing on the pool now
// would wait for a connection that this transaction may be holding (SQLite's writer pool
// has exactly one).
func (t *tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if v, ok := t.stmts.Load(q); ok {
		return t.StmtContext(ctx, v.(*sql.Stmt))
	}
	t.pending = append(t.pending, q)
	return nil
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, t.db.rebind(q), args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.QueryContext(ctx, t.db.rebind(q), args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.QueryRowContext(ctx, t.db.rebind(q), args...)
}

// newTx wraps a transaction begun on pool.
func (db *DB) newTx(sqlTx *sql.Tx, pool *sql.DB) *tx {
	t := &tx{Tx: sqlTx, db: db, pool: pool}
	if db.dialect == SQLite {
		t.stmts = &db.rstmts
		if pool == db.w {
			t.stmts = &db.wstmts
		}
	}
	return t
}

// write runs fn in a write transaction and commits when fn returns nil.
func (db *DB) write(ctx context.Context, fn func(t *tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return dbErr("begin", err)
	}
	t := db.newTx(sqlTx, db.w)
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		db.preparePending(t)
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return dbErr("commit", err)
	}
	db.preparePending(t)
	return nil
}

// preparePending prepares the queries t ran unprepared, now that t has ended.
func (db *DB) preparePending(t *tx) {
	for _, q := range t.pending {
		db.prepared(context.Background(), t.pool, t.stmts, q)
	}
}

// read runs fn in a read transaction, so that its statements see one snapshot.
func (db *DB) read(ctx context.Context, fn func(t *tx) error) error {
	var opts *sql.TxOptions
	if db.dialect == Postgres {
		// Read committed would give each statement its own snapshot.
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	sqlTx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return dbErr("begin", err)
	}
	t := db.newTx(sqlTx, db.r)
	err = fn(t)
	sqlTx.Rollback()
	db.preparePending(t)
	return err
}

// queryRow runs a single-statement read on the reader pool; one statement is a
// transaction of its own. On SQLite the statement is prepared once per connection.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if db.dialect == SQLite {
		if st := db.prepared(ctx, db.r, &db.rstmts, q); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return db.r.QueryRowContext(ctx, db.rebind(q), args...)
}

// query is queryRow for many rows.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if db.dialect == SQLite {
		if st := db.prepared(ctx, db.r, &db.rstmts, q); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return db.r.QueryContext(ctx, db.rebind(q), args...)
}

// maxPrepared bounds each pool's statement cache; list queries are built from filters, so
// the set of texts is finite but not tiny.
const maxPrepared = 512

// prepared returns q prepared on pool, cached in m. pgx caches prepared statements itself;
// modernc's SQLite driver does not, and parsing is a large part of a small statement.
// It returns nil when q should run unprepared.
func (db *DB) prepared(ctx context.Context, pool *sql.DB, m *sync.Map, q string) *sql.Stmt {
	if v, ok := m.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if db.nprepared.Load() >= maxPrepared {
		return nil
	}
	st, err := pool.PrepareContext(ctx, q)
	if err != nil {
		return nil // let the unprepared path report the error
	}
	if v, loaded := m.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	db.nprepared.Add(1)
	return st
}

// dbErr wraps an unexpected database error; *izy.Error passes through.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *izy.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if isBusy(err) {
		return izy.Errorf(izy.EUNAVAILABLE, "the database is busy; try again")
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// isPrimaryKeyDup reports whether err is a duplicate primary key.
func isPrimaryKeyDup(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" && strings.HasSuffix(pe.ConstraintName, "_pkey")
	}
	return false
}

// isForeignKey reports whether err is a foreign-key violation.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return false
}

// isCheck reports whether err is a CHECK or NOT NULL violation.
func isCheck(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK || se.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23514" || pe.Code == "23502"
	}
	return false
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED
	}
	return false
}

// constraintErr turns constraint violations into domain errors with the given messages
// and wraps anything else.
func constraintErr(what string, err error, unique, fk string) error {
	switch {
	case isPrimaryKeyDup(err):
		return izy.Errorf(izy.ECONFLICT, "%s: a row with this id already exists", what)
	case unique != "" && isUnique(err):
		return izy.Errorf(izy.ECONFLICT, "%s", unique)
	case isForeignKey(err):
		if fk == "" {
			fk = "a referenced row does not exist"
		}
		return izy.Errorf(izy.EINVALID, "%s", fk)
	case isCheck(err):
		// The domain validates first; this is the database's own guard.
		return izy.Errorf(izy.EINVALID, "%s: a value is out of range or missing", what)
	}
	return dbErr(what, err)
}
