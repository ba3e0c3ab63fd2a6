package server

import (
	"net/http"
)

// The vendor manual's update checklist opens three "test pages" and expects them to load
// without error. We keep their paths so that the habit (and `izytroniq check`) still
// works: each answers 200 with a small status document when the process can serve
// (database reachable, schema current) and 503 when it cannot.
//
// Every process serves every route whatever its role; the role decides which background
// workers run in it (cmd/izytroniq wires them). A load balancer may send /syncservice and
// /bits to the sync processes. /syncservice says in "worker" whether the sync worker runs
// in this process or in another one.

// testPage is the status document of a test page.
type testPage struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // ok or unavailable
	Version string `json:"version"`
	Role    string `json:"role"`
	State   string `json:"state"`
	Worker  string `json:"worker,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Checkouts counts open checkouts per sync state (/syncservice only).
	Checkouts map[string]int `json:"checkouts,omitempty"`
}

func (s *Server) writeTestPage(w http.ResponseWriter, r *http.Request, p testPage) {
	p.Version, p.Role, p.Status = s.cfg.ProductVersion, s.cfg.Role, "ok"
	status := http.StatusOK
	if h := s.ready(r.Context()); h.Status == fail {
		status, p.Status, p.State = http.StatusServiceUnavailable, "unavailable", "unavailable"
		p.Detail = "not ready; see /readyz"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, p)
}

// syncServicePage stands for the manual's "BackEnd SyncService" test page.
func (s *Server) syncServicePage(w http.ResponseWriter, r *http.Request) error {
	p := testPage{Name: "syncservice", State: "ready", Worker: "this process"}
	if s.cfg.Role == RoleApp {
		p.Worker = "another process (role sync)"
	}
	if s.cfg.Syncer != nil {
		counts, err := s.cfg.Syncer.SyncStatus(r.Context())
		if err != nil {
			return err
		}
		p.Checkouts = counts
	}
	s.writeTestPage(w, r, p)
	return nil
}

// bitsPage stands for the manual's BITS upload server test page; transfers live below /bits/.
func (s *Server) bitsPage(w http.ResponseWriter, r *http.Request) error {
	p := testPage{Name: "bits", State: "ready"}
	switch {
	case s.cfg.Transfers == nil:
		p.Detail = "no transfer service in this process"
		p.Status, p.State = "unavailable", "unavailable"
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, p)
		return nil
	case s.cfg.Transfers.Health() != nil:
		p.Detail = "transfer store not writable: " + s.cfg.Transfers.Health().Error()
		p.Status, p.State = "unavailable", "unavailable"
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, p)
		return nil
	}
	s.writeTestPage(w, r, p)
	return nil
}

// handshakePage stands for the manual's WCF handshake service test page; the real
// handshake is POST /api/v1/handshake.
func (s *Server) handshakePage(w http.ResponseWriter, r *http.Request) error {
	s.writeTestPage(w, r, testPage{Name: "handshakeremoteservice", State: "serving", Detail: "POST /api/v1/handshake negotiates versions"})
	return nil
}
