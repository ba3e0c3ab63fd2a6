package sqldb_test

import (
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// The server's store is a *sqldb.DB; sqldb itself must not import server, so the check
// lives in a test.
var _ server.Store = (*sqldb.DB)(nil)
