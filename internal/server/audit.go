package server

import (
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// listAudit shows the audit log, newest first, optionally for one entity.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "entity", "entity_id")
	f := izy.AuditFilter{
		Entity:   q.oneOf("entity", "customer", "location", "device", "instrument", "test", "user", "token", "checkout", "conflict"),
		EntityID: q.id("entity_id"),
		Page:     q.page(),
	}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}
