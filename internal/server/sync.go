package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	izy "github.com/izytroniq/izytroniq"
)

// Syncer is the sync service (internal/syncer): checkouts, the download feed, uploads and
// the conflict manager. cmd/izytroniq passes it in Config; without one the sync routes
// answer 503.
type Syncer interface {
	CreateCheckout(ctx context.Context, co *izy.Checkout) error
	Checkout(ctx context.Context, id string) (*izy.Checkout, error)
	Checkouts(ctx context.Context, userID string, p izy.Page) ([]izy.Checkout, string, error)
	Release(ctx context.Context, id string) error
	Ack(ctx context.Context, id string, seq int64) error
	Snapshot(ctx context.Context, id, cursor string, limit int) (*izy.SyncPage, error)
	Changes(ctx context.Context, id string, since int64, limit int) (*izy.SyncPage, error)
	// Upload stores the raw body, then applies it; MaxBatchBytes bounds the body.
	Upload(ctx context.Context, checkoutID string, raw []byte) (*izy.BatchResult, error)
	MaxBatchBytes() int64
	Conflicts(ctx context.Context, checkoutID, status, userID string, p izy.Page) ([]izy.Conflict, string, error)
	Conflict(ctx context.Context, id string) (*izy.Conflict, error)
	Resolve(ctx context.Context, id, resolution string, fields map[string]json.RawMessage) (*izy.Conflict, error)
	SyncStatus(ctx context.Context) (map[string]int, error)
}

// sync adapts a sync handler to a route; without a sync service the routes answer 503.
func (s *Server) sync(h func(sy Syncer, w http.ResponseWriter, r *http.Request) error) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.cfg.Syncer == nil {
			return izy.Errorf(izy.EUNAVAILABLE, "this process serves no sync service")
		}
		return h(s.cfg.Syncer, w, r)
	}
}

// checkoutRequest is the body of POST /api/v1/checkouts.
type checkoutRequest struct {
	ClientID   string  `json:"client_id"`
	ClientName string  `json:"client_name"`
	CustomerID string  `json:"customer_id"`
	LocationID *string `json:"location_id"`
	Mode       string  `json:"mode"`
	Protocol   int     `json:"protocol_version"`
}

func (s *Server) createCheckout(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in checkoutRequest
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	ctx := r.Context()
	if in.LocationID != nil {
		if !izy.ValidID(*in.LocationID) {
			return izy.Errorf(izy.EINVALID, "location_id must be a valid id")
		}
		l, err := s.store.GetLocation(ctx, *in.LocationID)
		if err != nil {
			return hide(err, "location")
		}
		if in.CustomerID != "" && in.CustomerID != l.CustomerID {
			return izy.Errorf(izy.EINVALID, "location_id belongs to another customer than customer_id")
		}
		in.CustomerID = l.CustomerID
	}
	if !izy.ValidID(in.CustomerID) {
		return izy.Errorf(izy.EINVALID, "customer_id or location_id is required")
	}
	if err := mayWrite(ctx, in.CustomerID, "customer"); err != nil {
		return err
	}
	co := &izy.Checkout{ClientID: in.ClientID, ClientName: in.ClientName, CustomerID: in.CustomerID,
		LocationID: in.LocationID, Mode: in.Mode, Protocol: in.Protocol}
	if err := sy.CreateCheckout(ctx, co); err != nil {
		return err
	}
	created(w, "/api/v1/checkouts/"+co.ID, co)
	return nil
}

// ownCheckout loads the checkout of the path: the caller's own, or any for an admin.
func ownCheckout(sy Syncer, r *http.Request, id string) (*izy.Checkout, error) {
	co, err := sy.Checkout(r.Context(), id)
	if err != nil {
		return nil, hide(err, "checkout")
	}
	u := caller(r.Context())
	if u.Role != izy.RoleAdmin && co.UserID != u.ID {
		return nil, izy.Errorf(izy.ENOTFOUND, "checkout not found")
	}
	return co, nil
}

func (s *Server) pathCheckout(sy Syncer, r *http.Request) (*izy.Checkout, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return ownCheckout(sy, r, id)
}

// listCheckouts answers a page of the open checkouts (an admin's: everyone's; others':
// their own) in the order they were made.
func (s *Server) listCheckouts(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r)
	p := q.page()
	if q.err != nil {
		return q.err
	}
	userID := ""
	if u := caller(r.Context()); u.Role != izy.RoleAdmin {
		userID = u.ID
	}
	items, next, err := sy.Checkouts(r.Context(), userID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) getCheckout(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, co)
	return nil
}

func (s *Server) releaseCheckout(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	if err := sy.Release(r.Context(), co.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) ackCheckout(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	var in struct {
		Seq *int64 `json:"seq"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if in.Seq == nil {
		return izy.Errorf(izy.EINVALID, "seq is required")
	}
	if err := sy.Ack(r.Context(), co.ID, *in.Seq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// intParam reads an optional whole-number query parameter.
func intParam(q *query, name string) int64 {
	v := q.v.Get(name)
	if v == "" || q.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		q.fail("%s must be a whole number of at least 0", name)
	}
	return n
}

func (s *Server) snapshot(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r)
	limit := intParam(q, "limit")
	cursor := q.v.Get("cursor")
	if q.err != nil {
		return q.err
	}
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	p, err := sy.Snapshot(r.Context(), co.ID, cursor, int(min(limit, 1<<30)))
	if err != nil {
		return err
	}
	writeSyncPage(w, p)
	return nil
}

func (s *Server) changes(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "since")
	limit := intParam(q, "limit")
	since := intParam(q, "since")
	if q.err != nil {
		return q.err
	}
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	p, err := sy.Changes(r.Context(), co.ID, since, int(min(limit, 1<<30)))
	if err != nil {
		return err
	}
	writeSyncPage(w, p)
	return nil
}

func (s *Server) upload(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	co, err := s.pathCheckout(sy, r)
	if err != nil {
		return err
	}
	if !caller(r.Context()).CanWrite(co.CustomerID) {
		return izy.Errorf(izy.EFORBIDDEN, "you hold no write grant for the customer of this checkout")
	}
	body, err := readBody(w, r, sy.MaxBatchBytes())
	if err != nil {
		return err
	}
	res, err := sy.Upload(r.Context(), co.ID, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) listConflicts(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "checkout_id", "status")
	checkoutID := q.id("checkout_id")
	status := q.oneOf("status", "open", "resolved")
	p := q.page()
	if q.err != nil {
		return q.err
	}
	userID := ""
	if u := caller(r.Context()); u.Role != izy.RoleAdmin {
		userID = u.ID
	}
	items, next, err := sy.Conflicts(r.Context(), checkoutID, status, userID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// pathConflict loads the conflict of the path if the caller may see its checkout.
func (s *Server) pathConflict(sy Syncer, r *http.Request) (*izy.Conflict, *izy.Checkout, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	c, err := sy.Conflict(r.Context(), id)
	if err != nil {
		return nil, nil, hide(err, "conflict")
	}
	co, err := ownCheckout(sy, r, c.CheckoutID)
	if err != nil {
		return nil, nil, izy.Errorf(izy.ENOTFOUND, "conflict not found")
	}
	return c, co, nil
}

func (s *Server) getConflict(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	c, _, err := s.pathConflict(sy, r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) resolveConflict(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	c, co, err := s.pathConflict(sy, r)
	if err != nil {
		return err
	}
	if !caller(r.Context()).CanWrite(co.CustomerID) {
		return izy.Errorf(izy.EFORBIDDEN, "you hold no write grant for the customer of this conflict")
	}
	var in struct {
		Resolution string                     `json:"resolution"`
		Fields     map[string]json.RawMessage `json:"fields"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	out, err := sy.Resolve(r.Context(), c.ID, in.Resolution, in.Fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// writeSyncPage answers a sync page with exactly the bytes its checksum covers
// (writeJSON would re-scan the whole page to compact it).
func writeSyncPage(w http.ResponseWriter, p *izy.SyncPage) {
	head, rows, tail, err := p.JSONParts()
	if err != nil {
		writeJSON(w, http.StatusOK, p) // answers the internal error
		return
	}
	tail = append(tail, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(rows)+len(tail)))
	w.WriteHeader(http.StatusOK)
	for _, b := range [][]byte{head, rows, tail} {
		if _, err := w.Write(b); err != nil {
			return // the client went away; it resumes from its last stored page
		}
	}
}
