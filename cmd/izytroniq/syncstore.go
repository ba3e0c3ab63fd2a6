package main

import (
	"log/slog"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

// newSyncer returns the sync service on db; seats decides which clients may check out
// (nil: every client).
func newSyncer(db *sqldb.DB, seats syncer.SeatChecker, logger *slog.Logger) *syncer.Syncer {
	return syncer.New(syncstore.New(db), seats, syncer.Limits{}, logger.With("component", "sync"))
}
