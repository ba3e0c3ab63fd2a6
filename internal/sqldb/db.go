// Package sqldb stores Izytroniq's data in SQLite or PostgreSQL: every SQL statement, the
// migrations of each dialect and the database_info table live here.
package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

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

	ckpt     *sql.DB // SQLite: the background checkpoint connection (checkpoint.go)
	ckptStop chan struct{}
	ckptDone chan struct{}
	ckptOnce sync.Once
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
	wq.Add("_pragma", "wal_autocheckpoint(0)") // checkpoint.go does it in the background
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
	// Switching a new file to WAL needs a lock that SQLite does not wait for with the busy
	// timeout, so a process opening the file while another migrates it retries here.
	err = w.PingContext(ctx)
	for deadline := time.Now().Add(sqliteBusyTimeout); err != nil && isBusy(err) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		err = w.PingContext(ctx)
	}
	if err != nil {
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
	cq := url.Values{"_pragma": {"busy_timeout(" + strconv.Itoa(int(sqliteBusyTimeout/time.Millisecond)) + ")"}}
	if err := db.startCheckpointer(name + sep + cq.Encode()); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open database %s: %w", name, err)
	}
	db.w, db.r = w, r
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	db.stopCheckpointer()
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
