// Package client is the Go client of the Izytroniq HTTP API: sign-in, handshake, the
// resources the field client uses, the sync endpoints and /bits transfers. Every call
// takes a context; every error the server answers comes back as an *izy.Error with the
// server's code and message.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Client talks to one server. Its zero value is not usable; build it with New. A Client
// is safe for concurrent use once configured; SetToken is not synchronised.
type Client struct {
	base          string
	token         string
	http          *http.Client
	clientVersion string
}

// Option changes a new Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (e.g. one with a proxy or
// special timeouts in tests).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithToken makes the Client send token as its bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// ClientVersionHeader carries the caller's izy version on every request: the server
// refuses downloads to an izy below its minimum client version.
const ClientVersionHeader = "Izy-Client-Version"

// WithClientVersion makes the Client send version (the izy's own) on every request.
func WithClientVersion(version string) Option { return func(c *Client) { c.clientVersion = version } }

// DefaultTimeout bounds one request of a Client without its own http.Client.
const DefaultTimeout = 5 * time.Minute

// New returns a Client of the server at baseURL (scheme, host and optional path prefix,
// e.g. "https://izy.example.com"). It refuses a URL that is not http or https.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, izy.Errorf(izy.EINVALID, "server URL %q must look like https://host[:port]", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: strings.TrimRight(u.String(), "/"), http: &http.Client{Timeout: DefaultTimeout}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the server URL the Client talks to, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Token returns the bearer token the Client sends ("" before Login).
func (c *Client) Token() string { return c.token }

// SetToken sets the bearer token.
func (c *Client) SetToken(token string) { c.token = token }

// errorBody is the server's JSON error answer.
type errorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// StatusError is an error answer of the server: its HTTP status, the wait it asked for
// and the *izy.Error it carried (errors.As finds that, too).
type StatusError struct {
	Status     int
	RetryAfter time.Duration // from a Retry-After header; 0 without one
	Err        *izy.Error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// decodeError turns a non-2xx answer into a *StatusError holding an *izy.Error; an answer
// that is not the JSON error object (a proxy's HTML page, say) gets a code from its status.
func decodeError(res *http.Response) error {
	return &StatusError{Status: res.StatusCode, RetryAfter: retryAfter(res.Header.Get("Retry-After"), time.Now()), Err: decodeErrorBody(res)}
}

func decodeErrorBody(res *http.Response) *izy.Error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return &izy.Error{Code: e.Error.Code, Message: e.Error.Message}
	}
	code := izy.EINTERNAL
	switch {
	case res.StatusCode == http.StatusBadRequest:
		code = izy.EINVALID
	case res.StatusCode == http.StatusUnauthorized:
		code = izy.EUNAUTHORIZED
	case res.StatusCode == http.StatusForbidden:
		code = izy.EFORBIDDEN
	case res.StatusCode == http.StatusNotFound:
		code = izy.ENOTFOUND
	case res.StatusCode == http.StatusConflict || res.StatusCode == http.StatusPreconditionFailed:
		code = izy.ECONFLICT
	case res.StatusCode == http.StatusRequestEntityTooLarge:
		code = izy.ETOOLARGE
	case res.StatusCode == http.StatusTooManyRequests:
		code = izy.ERATELIMIT
	case res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusGatewayTimeout:
		code = izy.EUNAVAILABLE
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &izy.Error{Code: code, Message: fmt.Sprintf("%s %s: %s %s", res.Request.Method, res.Request.URL.Path, res.Status, msg)}
}

// newRequest builds a request to path (which may hold a query) with the token.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	if c.clientVersion != "" {
		req.Header.Set(ClientVersionHeader, c.clientVersion)
	}
	return req, nil
}

// send sends req and returns the response when its status is 2xx; otherwise it closes
// the body and returns the decoded error.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &NetError{Op: req.Method + " " + req.URL.Path, Err: err}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, decodeError(res)
	}
	return res, nil
}

// do sends in as JSON (nil: no body) and decodes a 2xx answer into out (nil: discard).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.send(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return &NetError{Op: method + " " + path, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}

// NetError is a failure to reach the server or to read its whole answer: the request
// may or may not have been applied. Every idempotent call may simply be retried.
type NetError struct {
	Op  string
	Err error
}

func (e *NetError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *NetError) Unwrap() error { return e.Err }

// IsNetError reports whether err is a failure to reach the server (not an answer of it).
func IsNetError(err error) bool {
	var n *NetError
	return errors.As(err, &n)
}

// retryAfter reads a Retry-After header: whole seconds or an HTTP date; 0 when absent
// or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// Retryable reports whether a call that failed with err may be sent again unchanged: the
// server was not reached or its answer was cut off (a *NetError), or it answered 408
// Request Timeout, 429 Too Many Requests, 502, 503 or 504 (a gateway or the server is
// briefly unavailable). Any other answer, 4xx or 500, would fail the same way again. Only
// an idempotent call may be retried; this package's sync calls are (batch IDs, the
// checkout a client already holds, acks, releases and resolutions all answer a repeat
// with the first result). A caller whose context ended must stop instead.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if IsNetError(err) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// RetryAfter returns the wait the server asked for with its error answer (Retry-After),
// 0 when it asked for none.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// StatusOf returns the HTTP status of the server's error answer in err, 0 when err is not
// an answer of the server.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
