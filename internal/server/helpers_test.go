package server_test

import (
	"path/filepath"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/izytroniq/izytroniq/internal/transfer"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// testIterations keeps password hashing cheap in tests.
const testIterations = 1000

// testPassword is the password of every user the tests create.
const testPassword = "correct horse battery"

// clock is a settable time source shared by the servers of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at 2025-06-15 12:00 local time, so "today" is 2025-06-15.
func newClock() *clock {
	return &clock{t: time.Date(2025, 6, 15, 12, 0, 0, 0, time.Local)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one server on a real database, reachable over loopback HTTP.
type env struct {
	t     *testing.T
	db    *sqldb.DB
	srv   *server.Server
	url   string
	clock *clock
	admin string // token of the user "admin"
}

// testConfig is the configuration the tests use unless they change it.
func testConfig(c *clock) server.Config {
	return server.Config{
		ProductVersion:       "1.2.3",
		SchemaVersion:        sqldb.LatestSchemaVersion(),
		ProtocolVersions:     []int{1, 2},
		MinClientVersion:     "1.0.0",
		CurrentClientVersion: "1.2.0",
		Edition:              "Enterprise Ultimate",
		PasswordIterations:   testIterations,
		TokenTTL:             time.Hour,
		MaxBodyBytes:         64 << 10,
		Now:                  c.Now,
	}
}

// newEnv starts a server on db and signs in an admin.
func newEnv(t *testing.T, db *sqldb.DB, change ...func(*server.Config)) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: newClock()}
	cfg := testConfig(e.clock)
	ts, err := transfer.New(filepath.Join(t.TempDir(), "blobs"), transfer.Limits{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	cfg.Transfers = ts
	for _, f := range change {
		f(&cfg)
	}
	e.srv, e.url = startServer(t, db, cfg)
	e.admin = e.newUser("admin", izy.RoleAdmin)
	return e
}

// startServer serves a new Server for store on an httptest server.
func startServer(t *testing.T, store server.Store, cfg server.Config) (*server.Server, string) {
	t.Helper()
	s := server.New(store, cfg, testLogger(t))
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// testLogger logs to the test's output only when it fails (-v shows it always).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// newUser creates a user in the database with testPassword and signs in; it returns the token.
func (e *env) newUser(username string, role izy.Role, grants ...izy.Grant) string {
	e.t.Helper()
	e.createUser(username, role, grants...)
	return e.login(username, testPassword)
}

func (e *env) createUser(username string, role izy.Role, grants ...izy.Grant) *izy.User {
	e.t.Helper()
	hash, err := password.Hash(testPassword, testIterations)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &izy.User{Username: username, DisplayName: username, Role: role, Grants: grants}
	if err := e.db.CreateUser(context.Background(), u, hash); err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func (e *env) login(username, pw string) string {
	e.t.Helper()
	var res struct{ Token string }
	e.do("POST", "/api/v1/login", "", map[string]string{"username": username, "password": pw}).want(e.t, 200).decode(e.t, &res)
	if res.Token == "" {
		e.t.Fatal("login answered no token")
	}
	return res.Token
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
	req    string
}

// do sends a request to the env's server. body is sent as is when it is a string or
// []byte (with Content-Type application/json), else as its JSON.
func (e *env) do(method, path, token string, body any) *response {
	e.t.Helper()
	return doURL(e.t, e.url, method, path, token, body)
}

func doURL(t testing.TB, base, method, path, token string, body any) *response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b, req: method + " " + path}
}

// doHeaders sends a GET with the given headers.
func doHeaders(t testing.TB, url string, headers map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: b, req: "GET " + url}
}

// want fails the test unless the status is one of codes.
func (r *response) want(t testing.TB, codes ...int) *response {
	t.Helper()
	for _, c := range codes {
		if r.status == c {
			return r
		}
	}
	t.Fatalf("%s: status %d, want %v; body: %s", r.req, r.status, codes, r.body)
	return r
}

func (r *response) decode(t testing.TB, v any) *response {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: decode %s: %v", r.req, r.body, err)
	}
	return r
}

// apiError checks that the body is {"error":{"code","message"}} and returns them.
func (r *response) apiError(t testing.TB) (code, message string) {
	t.Helper()
	var e struct {
		Error *struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: status %d, body %q is not an error object", r.req, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: error Content-Type %q", r.req, ct)
	}
	return e.Error.Code, e.Error.Message
}

// wantError checks status, error code and that the message contains each of words.
func (r *response) wantError(t testing.TB, status int, code string, words ...string) {
	t.Helper()
	r.want(t, status)
	gotCode, msg := r.apiError(t)
	if gotCode != code {
		t.Fatalf("%s: error code %q, want %q (message %q)", r.req, gotCode, code, msg)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Fatalf("%s: error message %q does not mention %q", r.req, msg, w)
		}
	}
}

// listPage is a list answer with raw items.
type listPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// listAll walks every page of path (which may hold a query) and returns the IDs in order,
// failing on a repeated ID.
func (e *env) listAll(path, token string, limit int) []string {
	e.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var ids []string
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			e.t.Fatalf("%s: more than 10000 pages", path)
		}
		p := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		var page listPage
		e.do("GET", p, token, nil).want(e.t, 200).decode(e.t, &page)
		if page.Items == nil {
			e.t.Fatalf("GET %s: items is null, want []", p)
		}
		if len(page.Items) > limit {
			e.t.Fatalf("GET %s: %d items, limit %d", p, len(page.Items), limit)
		}
		for _, raw := range page.Items {
			var it struct{ ID json.RawMessage } // a string, or a number for audit entries
			if err := json.Unmarshal(raw, &it); err != nil {
				e.t.Fatal(err)
			}
			id := strings.Trim(string(it.ID), `"`)
			if seen[id] {
				e.t.Fatalf("GET %s: id %s listed twice", path, id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = *page.NextCursor
	}
}

// create POSTs body as the admin and returns the new object's id.
func (e *env) create(path string, body any) string {
	e.t.Helper()
	return e.createAs(e.admin, path, body)
}

func (e *env) createAs(token, path string, body any) string {
	e.t.Helper()
	var obj struct{ ID string }
	r := e.do("POST", path, token, body).want(e.t, 201).decode(e.t, &obj)
	if loc := r.header.Get("Location"); loc != path+"/"+obj.ID {
		e.t.Fatalf("POST %s: Location %q, want %q", path, loc, path+"/"+obj.ID)
	}
	return obj.ID
}

// get reads an object as the admin into v.
func (e *env) get(path string, v any) {
	e.t.Helper()
	e.do("GET", path, e.admin, nil).want(e.t, 200).decode(e.t, v)
}

func (e *env) customer(number, name string) string {
	e.t.Helper()
	return e.create("/api/v1/customers", map[string]any{"number": number, "name": name})
}

func (e *env) location(customerID string, parentID *string, kind, name string) string {
	e.t.Helper()
	return e.create("/api/v1/locations", map[string]any{"customer_id": customerID, "parent_id": parentID, "kind": kind, "name": name})
}

// device creates a class I device with a 5 m lead.
func (e *env) device(customerID string, locationID *string, inventory string) string {
	e.t.Helper()
	return e.create("/api/v1/devices", map[string]any{
		"customer_id": customerID, "location_id": locationID, "inventory_id": inventory,
		"designation": "Drill " + inventory, "serial_number": "SN-" + inventory,
		"protection_class": "I", "cable_length_m": 5,
	})
}

// passTest records a passing test of a class I device on date.
func (e *env) passTest(token, deviceID, date string) map[string]any {
	e.t.Helper()
	var res map[string]any
	e.do("POST", "/api/v1/tests", token, map[string]any{
		"device_id": deviceID, "date": date, "visual_ok": true, "functional_ok": true,
		"measurements": []map[string]any{
			{"kind": "protective_conductor_resistance", "value": 0.1, "unit": "Ω"},
			{"kind": "insulation_resistance", "value": 20, "unit": "MΩ"},
		},
	}).want(e.t, 201).decode(e.t, &res)
	return res
}

func ptr[T any](v T) *T { return &v }
