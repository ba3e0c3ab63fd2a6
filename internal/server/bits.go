package server

import (
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// Transfers is the resumable transfer service below /bits (internal/transfer): upload
// sessions in fragments and ranged downloads of content-addressed blobs. Its handlers
// return *izy.Error values, which this package answers like every other error.
type Transfers interface {
	CreateSession(w http.ResponseWriter, r *http.Request) error
	GetSession(w http.ResponseWriter, r *http.Request) error
	PutFragment(w http.ResponseWriter, r *http.Request) error
	CloseSession(w http.ResponseWriter, r *http.Request) error
	CancelSession(w http.ResponseWriter, r *http.Request) error
	GetBlob(w http.ResponseWriter, r *http.Request) error
	// Health reports whether the store directory is usable.
	Health() error
}

// bits adapts one Transfers handler to a route; without a transfer service (a process
// wired without a data directory) the routes answer 503.
func (s *Server) bits(pick func(Transfers) apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.cfg.Transfers == nil {
			return izy.Errorf(izy.EUNAVAILABLE, "this process serves no transfers; check the data directory setting")
		}
		return pick(s.cfg.Transfers)(w, r)
	}
}
