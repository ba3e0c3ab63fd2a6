package server

import (
	"net/http"
)

// dashboard counts active devices and instruments per colour on today, with the
// configured escalation windows. Devices are counted within the caller's grants;
// instruments belong to everybody.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r)
	if q.err != nil {
		return q.err
	}
	d, err := s.store.Dashboard(r.Context(), s.today(), s.cfg.Windows, grantFilter(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
