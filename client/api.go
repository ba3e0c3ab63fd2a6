package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Login signs in and keeps the token for the following calls; it also returns it.
func (c *Client) Login(ctx context.Context, username, password string) (string, error) {
	var res struct {
		Token string `json:"token"`
	}
	in := map[string]string{"username": username, "password": password}
	if err := c.do(ctx, "POST", "/api/v1/login", in, &res); err != nil {
		return "", err
	}
	if res.Token == "" {
		return "", izy.Errorf(izy.EINTERNAL, "the server answered the login without a token")
	}
	c.token = res.Token
	return res.Token, nil
}

// Logout revokes the Client's token.
func (c *Client) Logout(ctx context.Context) error {
	err := c.do(ctx, "POST", "/api/v1/logout", struct{}{}, nil)
	if err == nil {
		c.token = ""
	}
	return err
}

// HandshakeRequest is what a client says about itself in the handshake.
type HandshakeRequest struct {
	ClientVersion   string `json:"client_version"`
	ProtocolVersion int    `json:"protocol_version"`
	ClientID        string `json:"client_id"`
}

// Handshake is the server's answer: what it speaks and what the client should do.
type Handshake struct {
	ServerVersion        string    `json:"server_version"`
	SchemaVersion        int       `json:"schema_version"`
	ProtocolVersions     []int     `json:"protocol_versions"`
	ProtocolVersion      int       `json:"protocol_version"`
	ProtocolSupported    bool      `json:"protocol_supported"`
	MinClientVersion     string    `json:"min_client_version"`
	CurrentClientVersion string    `json:"current_client_version"`
	UpdateAvailable      bool      `json:"update_available"`
	UpdateRequired       bool      `json:"update_required"`
	Edition              string    `json:"edition"`
	Role                 string    `json:"role"`
	ServerTime           time.Time `json:"server_time"`
}

// Handshake negotiates versions with the server; it needs no token.
func (c *Client) Handshake(ctx context.Context, req HandshakeRequest) (*Handshake, error) {
	var h Handshake
	if err := c.do(ctx, "POST", "/api/v1/handshake", req, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (*izy.User, error) {
	var u izy.User
	if err := c.do(ctx, "GET", "/api/v1/me", nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// List is one page of a list answer; NextCursor is nil after the last page.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// ListOptions are the query parameters of a list call (filters, "limit", "cursor").
type ListOptions = url.Values

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func list[T any](ctx context.Context, c *Client, path string, q url.Values) (*List[T], error) {
	var l List[T]
	if err := c.do(ctx, "GET", withQuery(path, q), nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// DeviceView is a device as the API shows it, with today's colour.
type DeviceView struct {
	izy.Device
	Colour izy.Colour `json:"colour"`
}

// Customers lists customers (q, limit, cursor).
func (c *Client) Customers(ctx context.Context, q url.Values) (*List[izy.Customer], error) {
	return list[izy.Customer](ctx, c, "/api/v1/customers", q)
}

// CreateCustomer creates a customer and returns it as stored.
func (c *Client) CreateCustomer(ctx context.Context, cu *izy.Customer) (*izy.Customer, error) {
	var out izy.Customer
	return &out, c.do(ctx, "POST", "/api/v1/customers", cu, &out)
}

// Customer gets a customer.
func (c *Client) Customer(ctx context.Context, id string) (*izy.Customer, error) {
	var out izy.Customer
	return &out, c.do(ctx, "GET", "/api/v1/customers/"+url.PathEscape(id), nil, &out)
}

// Locations lists locations (customer_id, parent_id, limit, cursor).
func (c *Client) Locations(ctx context.Context, q url.Values) (*List[izy.Location], error) {
	return list[izy.Location](ctx, c, "/api/v1/locations", q)
}

// CreateLocation creates a location and returns it as stored.
func (c *Client) CreateLocation(ctx context.Context, l *izy.Location) (*izy.Location, error) {
	var out izy.Location
	return &out, c.do(ctx, "POST", "/api/v1/locations", l, &out)
}

// Devices lists devices (customer_id, location_id, colour, status, q, limit, cursor).
func (c *Client) Devices(ctx context.Context, q url.Values) (*List[DeviceView], error) {
	return list[DeviceView](ctx, c, "/api/v1/devices", q)
}

// Device gets a device with its colour.
func (c *Client) Device(ctx context.Context, id string) (*DeviceView, error) {
	var out DeviceView
	return &out, c.do(ctx, "GET", "/api/v1/devices/"+url.PathEscape(id), nil, &out)
}

// CreateDevice creates a device and returns it as stored.
func (c *Client) CreateDevice(ctx context.Context, d *izy.Device) (*DeviceView, error) {
	var out DeviceView
	return &out, c.do(ctx, "POST", "/api/v1/devices", d, &out)
}

// PatchDevice changes the given fields of a device; fields must hold "version", the
// version the caller last saw (a stale one is a conflict).
func (c *Client) PatchDevice(ctx context.Context, id string, fields map[string]any) (*DeviceView, error) {
	var out DeviceView
	return &out, c.do(ctx, "PATCH", "/api/v1/devices/"+url.PathEscape(id), fields, &out)
}

// RetireDevice retires a device; version 0 skips the version check.
func (c *Client) RetireDevice(ctx context.Context, id string, version int64) (*DeviceView, error) {
	var out DeviceView
	p := "/api/v1/devices/" + url.PathEscape(id)
	if version != 0 {
		p += "?version=" + strconv.FormatInt(version, 10)
	}
	return &out, c.do(ctx, "DELETE", p, nil, &out)
}

// Instruments lists test instruments (colour, limit, cursor).
func (c *Client) Instruments(ctx context.Context, q url.Values) (*List[izy.Instrument], error) {
	return list[izy.Instrument](ctx, c, "/api/v1/instruments", q)
}

// MeasurementInput is one reading as an inspector records it.
type MeasurementInput struct {
	Kind       string            `json:"kind"`
	Value      float64           `json:"value"`
	Unit       string            `json:"unit"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// TestInput is the body of POST /api/v1/tests: what an inspector records. The server
// evaluates limits, results and the next due date. ID may be set by the client (offline
// tests carry theirs) or left empty.
type TestInput struct {
	ID           string             `json:"id,omitempty"`
	DeviceID     string             `json:"device_id"`
	Date         izy.Date           `json:"date"`
	Standard     string             `json:"standard,omitempty"`
	InstrumentID *string            `json:"instrument_id,omitempty"`
	VisualOK     bool               `json:"visual_ok"`
	FunctionalOK bool               `json:"functional_ok"`
	Comment      string             `json:"comment,omitempty"`
	Measurements []MeasurementInput `json:"measurements"`
}

// CreateTest records a test and returns it as the server evaluated it.
func (c *Client) CreateTest(ctx context.Context, t *TestInput) (*izy.Test, error) {
	var out izy.Test
	return &out, c.do(ctx, "POST", "/api/v1/tests", t, &out)
}

// Test gets a test with its measurements.
func (c *Client) Test(ctx context.Context, id string) (*izy.Test, error) {
	var out izy.Test
	return &out, c.do(ctx, "GET", "/api/v1/tests/"+url.PathEscape(id), nil, &out)
}

// Tests lists tests (device_id, customer_id, result, limit, cursor).
func (c *Client) Tests(ctx context.Context, q url.Values) (*List[izy.Test], error) {
	return list[izy.Test](ctx, c, "/api/v1/tests", q)
}

// Dashboard returns the counts per colour.
func (c *Client) Dashboard(ctx context.Context) (*izy.Dashboard, error) {
	var out izy.Dashboard
	return &out, c.do(ctx, "GET", "/api/v1/dashboard", nil, &out)
}
