package sqldb

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

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
	holder  string   // the checkout whose upload this transaction applies; its own scope is writable
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
	if db.dialect == Postgres {
		// The change feed hands out rows "since seq N", so seq numbers must become visible
		// in order. A SEQUENCE alone does not promise that: a transaction holding seq 10 may
		// commit after one holding 11, and a client that read up to 11 would never see 10.
		// One transaction-level lock, taken first by every write, makes writes commit in
		// seq order (as SQLite's single writer does) and, being the only lock taken before
		// row locks, cannot deadlock.
		if _, err := sqlTx.ExecContext(ctx, writeLockSQL); err != nil {
			sqlTx.Rollback()
			return dbErr("take the write lock", err)
		}
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

// writeLockSQL takes the PostgreSQL write lock until the end of the transaction; the key
// depends on the schema, so databases (and test schemas) do not block each other.
const writeLockSQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.izytroniq.write'))"

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
