// Package syncstore adapts a *sqldb.DB to syncer.Store; sqldb and syncer do not know each
// other, so the transaction type of the store's callbacks is converted here.
package syncstore

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

// Store is a *sqldb.DB as a syncer.Store.
type Store struct{ *sqldb.DB }

var _ syncer.Store = Store{}

// New returns db as a syncer.Store.
func New(db *sqldb.DB) Store { return Store{db} }

// ApplyBatch runs apply in sqldb's upload transaction.
func (s Store) ApplyBatch(ctx context.Context, checkoutID string, b *izy.Batch, apply func(context.Context, syncer.Tx) (*izy.BatchResult, error)) (*izy.BatchResult, error) {
	return s.DB.ApplyBatch(ctx, checkoutID, b, func(ctx context.Context, tx *sqldb.SyncTx) (*izy.BatchResult, error) {
		return apply(ctx, tx)
	})
}

// ResolveConflict runs apply in sqldb's resolution transaction.
func (s Store) ResolveConflict(ctx context.Context, id, resolution string, apply func(context.Context, syncer.Tx, *izy.Conflict) error) (*izy.Conflict, error) {
	return s.DB.ResolveConflict(ctx, id, resolution, func(ctx context.Context, tx *sqldb.SyncTx, c *izy.Conflict) error {
		return apply(ctx, tx, c)
	})
}
