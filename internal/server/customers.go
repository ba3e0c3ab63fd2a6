package server

import (
	"net/http"
	"slices"

	izy "github.com/izytroniq/izytroniq"
)

// decodeCustomer decodes and validates the body of POST /api/v1/customers. Fields the
// server owns (version, seq, timestamps) are ignored, so a fetched customer can be sent back.
func decodeCustomer(body []byte) (*izy.Customer, error) {
	var c izy.Customer
	if err := decodeJSON(body, &c); err != nil {
		return nil, err
	}
	if c.ID != "" && !izy.ValidID(c.ID) {
		return nil, izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	}
	c.Version, c.Seq = 0, 0
	c.CreatedAt, c.UpdatedAt = zeroTime, zeroTime
	return &c, c.Validate()
}

// decodeCustomerUpdate decodes a PUT (patch false: the whole customer) or PATCH body
// (only the fields given change) against the stored customer cur.
func decodeCustomerUpdate(body []byte, cur *izy.Customer, patch bool) (*izy.Customer, error) {
	c := &izy.Customer{}
	if patch {
		*c = *cur
		c.Contacts = slices.Clone(cur.Contacts)
		c.Version = 0
	}
	if err := decodeJSON(body, c); err != nil {
		return nil, err
	}
	if err := checkUpdate(c.ID, cur.ID, c.Version); err != nil {
		return nil, err
	}
	c.ID, c.Seq, c.CreatedAt, c.UpdatedAt = cur.ID, cur.Seq, cur.CreatedAt, cur.UpdatedAt
	return c, c.Validate()
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "q")
	f := izy.CustomerFilter{GrantedTo: grantFilter(r.Context()), Query: q.str("q"), Page: q.page()}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListCustomers(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	c, err := s.loadCustomer(r)
	if err != nil {
		return err
	}
	if err := mayRead(r.Context(), c.ID, "customer"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) loadCustomer(r *http.Request) (*izy.Customer, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(r.Context(), id)
	return c, hide(err, "customer")
}

// createCustomer is for admins only: a new customer has no grants yet, so nobody else
// could see it afterwards.
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	c, err := decodeCustomer(body)
	if err != nil {
		return err
	}
	if err := s.store.CreateCustomer(r.Context(), c); err != nil {
		return err
	}
	created(w, "/api/v1/customers/"+c.ID, c)
	return nil
}

func (s *Server) putCustomer(w http.ResponseWriter, r *http.Request) error {
	return s.updateCustomer(w, r, false)
}

func (s *Server) patchCustomer(w http.ResponseWriter, r *http.Request) error {
	return s.updateCustomer(w, r, true)
}

func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request, patch bool) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cur, err := s.loadCustomer(r)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), cur.ID, "customer"); err != nil {
		return err
	}
	c, err := decodeCustomerUpdate(body, cur, patch)
	if err != nil {
		return err
	}
	if err := s.store.UpdateCustomer(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	c, err := s.loadCustomer(r)
	if err != nil {
		return err
	}
	if version == 0 {
		version = c.Version
	}
	if err := s.store.DeleteCustomer(r.Context(), c.ID, version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
