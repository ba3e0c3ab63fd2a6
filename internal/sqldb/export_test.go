package sqldb

import (
	"context"
	"database/sql"
)

// Exec runs a statement for tests that need to set up states no method makes.
func (db *DB) Exec(ctx context.Context, q string, args ...any) error {
	_, err := db.w.ExecContext(ctx, db.rebind(q), args...)
	return err
}

// QueryInt runs a query that returns one integer.
func (db *DB) QueryInt(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := db.w.QueryRowContext(ctx, db.rebind(q), args...).Scan(&n)
	return n, err
}

var SchemaErr = schemaErr

var LikePattern = likePattern

var Rebind = func(q string) string { return (&DB{dialect: Postgres}).rebind(q) }

// QueryRow runs a query on the reader pool.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, db.rebind(q), args...)
}

// HoldWrite runs a write transaction that takes a change seq, reports it on took, and
// commits only when release is closed: tests use it to show that writes commit in seq order.
func (db *DB) HoldWrite(ctx context.Context, took chan<- int64, release <-chan struct{}) error {
	return db.write(ctx, func(t *tx) error {
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		took <- seq
		<-release
		return nil
	})
}
