package main

import (
	"log/slog"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

// newSyncer returns the sync service on db; every client may check out until licences
// are enforced (syncer.AllowAll is where the offline-seat check plugs in).
func newSyncer(db *sqldb.DB, logger *slog.Logger) *syncer.Syncer {
	return syncer.New(syncstore.New(db), syncer.AllowAll{}, syncer.Limits{}, logger.With("component", "sync"))
}
