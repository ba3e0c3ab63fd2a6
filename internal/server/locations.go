package server

import (
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// decodeLocation decodes and validates the body of POST /api/v1/locations.
func decodeLocation(body []byte) (*izy.Location, error) {
	var l izy.Location
	if err := decodeJSON(body, &l); err != nil {
		return nil, err
	}
	if l.ID != "" && !izy.ValidID(l.ID) {
		return nil, izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	}
	l.Version, l.Seq = 0, 0
	l.CreatedAt, l.UpdatedAt = zeroTime, zeroTime
	return &l, l.Validate()
}

// decodeLocationUpdate decodes a PUT or PATCH body against the stored location cur. The
// customer of a location never changes; its parent and kind may, within the tree rules
// the store checks.
func decodeLocationUpdate(body []byte, cur *izy.Location, patch bool) (*izy.Location, error) {
	l := &izy.Location{}
	if patch {
		*l = *cur
		l.Version = 0
	}
	if err := decodeJSON(body, l); err != nil {
		return nil, err
	}
	if err := checkUpdate(l.ID, cur.ID, l.Version); err != nil {
		return nil, err
	}
	if l.CustomerID != "" && l.CustomerID != cur.CustomerID {
		return nil, izy.Errorf(izy.EINVALID, "the customer of a location cannot change")
	}
	if l.ParentID != nil && *l.ParentID == cur.ID {
		return nil, izy.Errorf(izy.EINVALID, "a location cannot be its own parent")
	}
	l.ID, l.CustomerID = cur.ID, cur.CustomerID
	l.Seq, l.CreatedAt, l.UpdatedAt = cur.Seq, cur.CreatedAt, cur.UpdatedAt
	return l, l.Validate()
}

func (s *Server) listLocations(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "customer_id", "parent_id")
	f := izy.LocationFilter{
		GrantedTo:  grantFilter(r.Context()),
		CustomerID: q.id("customer_id"),
		ParentID:   q.id("parent_id"),
		Page:       q.page(),
	}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListLocations(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// loadLocation returns the location of the path, or 404 when the caller may not see it.
func (s *Server) loadLocation(r *http.Request) (*izy.Location, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	l, err := s.store.GetLocation(r.Context(), id)
	if err != nil {
		return nil, hide(err, "location")
	}
	return l, mayRead(r.Context(), l.CustomerID, "location")
}

func (s *Server) getLocation(w http.ResponseWriter, r *http.Request) error {
	l, err := s.loadLocation(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) createLocation(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	l, err := decodeLocation(body)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), l.CustomerID, "customer"); err != nil {
		return err
	}
	if err := s.store.CreateLocation(r.Context(), l); err != nil {
		return err
	}
	created(w, "/api/v1/locations/"+l.ID, l)
	return nil
}

func (s *Server) putLocation(w http.ResponseWriter, r *http.Request) error {
	return s.updateLocation(w, r, false)
}

func (s *Server) patchLocation(w http.ResponseWriter, r *http.Request) error {
	return s.updateLocation(w, r, true)
}

func (s *Server) updateLocation(w http.ResponseWriter, r *http.Request, patch bool) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cur, err := s.loadLocation(r)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), cur.CustomerID, "location"); err != nil {
		return err
	}
	l, err := decodeLocationUpdate(body, cur, patch)
	if err != nil {
		return err
	}
	if err := s.store.UpdateLocation(r.Context(), l); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) deleteLocation(w http.ResponseWriter, r *http.Request) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	l, err := s.loadLocation(r)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), l.CustomerID, "location"); err != nil {
		return err
	}
	if version == 0 {
		version = l.Version
	}
	if err := s.store.DeleteLocation(r.Context(), l.ID, version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
