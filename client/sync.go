package client

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"

	izy "github.com/izytroniq/izytroniq"
)

// CheckoutRequest opens a checkout of a customer or of a location subtree.
type CheckoutRequest struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`
	LocationID string `json:"location_id,omitempty"`
	Mode       string `json:"mode"` // izy.CheckoutShared or izy.CheckoutExclusive
	Protocol   int    `json:"protocol_version"`
}

// CreateCheckout opens a checkout.
func (c *Client) CreateCheckout(ctx context.Context, req CheckoutRequest) (*izy.Checkout, error) {
	if req.Protocol == 0 {
		req.Protocol = izy.ProtocolVersion
	}
	if req.Mode == "" {
		req.Mode = izy.CheckoutShared
	}
	var out izy.Checkout
	return &out, c.do(ctx, "POST", "/api/v1/checkouts", req, &out)
}

// Checkouts lists checkouts (all for an admin, else the caller's own).
func (c *Client) Checkouts(ctx context.Context, q url.Values) (*List[izy.Checkout], error) {
	return list[izy.Checkout](ctx, c, "/api/v1/checkouts", q)
}

// Checkout gets a checkout.
func (c *Client) Checkout(ctx context.Context, id string) (*izy.Checkout, error) {
	var out izy.Checkout
	return &out, c.do(ctx, "GET", "/api/v1/checkouts/"+url.PathEscape(id), nil, &out)
}

// ReleaseCheckout checks a checkout in; the server refuses while conflicts are open.
func (c *Client) ReleaseCheckout(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/checkouts/"+url.PathEscape(id), nil, nil)
}

// Snapshot returns the snapshot page at cursor ("" for the first) of at most limit rows
// (0: the server's default).
func (c *Client) Snapshot(ctx context.Context, checkoutID, cursor string, limit int) (*izy.SyncPage, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return c.syncPage(ctx, withQuery("/api/v1/checkouts/"+url.PathEscape(checkoutID)+"/snapshot", q))
}

// Changes returns the changes with seq > since, in seq order, tombstones included.
func (c *Client) Changes(ctx context.Context, checkoutID string, since int64, limit int) (*izy.SyncPage, error) {
	q := url.Values{"since": {strconv.FormatInt(since, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return c.syncPage(ctx, withQuery("/api/v1/checkouts/"+url.PathEscape(checkoutID)+"/changes", q))
}

// syncPage GETs a snapshot or change page. It reads the whole body and decodes it with
// izy.DecodeSyncPage, which walks it once and hashes the rows' bytes as received
// (encoding/json would scan each page three times before decoding it).
func (c *Client) syncPage(ctx context.Context, path string) (*izy.SyncPage, error) {
	req, err := c.newRequest(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if res.ContentLength > 0 && res.ContentLength < 1<<30 {
		buf.Grow(int(res.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return nil, &NetError{Op: "GET " + path, Err: fmt.Errorf("read answer: %w", err)}
	}
	p, err := izy.DecodeSyncPage(buf.Bytes())
	if err != nil {
		return nil, &NetError{Op: "GET " + path, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return p, nil
}

// Ack tells the server the client holds every change up to seq.
func (c *Client) Ack(ctx context.Context, checkoutID string, seq int64) error {
	return c.do(ctx, "POST", "/api/v1/checkouts/"+url.PathEscape(checkoutID)+"/ack", map[string]int64{"seq": seq}, nil)
}

// Upload sends a batch of mutations. It is idempotent by batch ID: a retry answers the
// stored result.
func (c *Client) Upload(ctx context.Context, checkoutID string, b *izy.Batch) (*izy.BatchResult, error) {
	var out izy.BatchResult
	return &out, c.do(ctx, "POST", "/api/v1/checkouts/"+url.PathEscape(checkoutID)+"/uploads", b, &out)
}

// Conflicts lists conflicts (checkout_id, status, limit, cursor).
func (c *Client) Conflicts(ctx context.Context, q url.Values) (*List[izy.Conflict], error) {
	return list[izy.Conflict](ctx, c, "/api/v1/conflicts", q)
}

// Conflict gets a conflict with base, server and client values.
func (c *Client) Conflict(ctx context.Context, id string) (*izy.Conflict, error) {
	var out izy.Conflict
	return &out, c.do(ctx, "GET", "/api/v1/conflicts/"+url.PathEscape(id), nil, &out)
}

// Resolution resolves a conflict: Resolution is one of izy.ResolveKeepServer,
// ResolveTakeClient, ResolveMerge (with Fields) or ResolveCreateNew.
type Resolution struct {
	Resolution string         `json:"resolution"`
	Fields     map[string]any `json:"fields,omitempty"`
}

// ResolveConflict resolves a conflict and returns it as stored.
func (c *Client) ResolveConflict(ctx context.Context, id string, r Resolution) (*izy.Conflict, error) {
	var out izy.Conflict
	return &out, c.do(ctx, "POST", "/api/v1/conflicts/"+url.PathEscape(id)+"/resolve", r, &out)
}
