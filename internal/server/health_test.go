package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

type healthDoc struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Checks  map[string][]struct {
		Status string `json:"status"`
		Time   string `json:"time"`
		Output string `json:"output"`
	} `json:"checks"`
}

type testPageDoc struct {
	Name, Status, Version, Role, State string
}

var testPages = []string{"/syncservice", "/bits", "/izytron.iq/handshakeremoteservice.svc"}

func TestHealth(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		var h healthDoc
		r := e.do("GET", "/livez", "", nil).want(t, 200).decode(t, &h)
		if ct := r.header.Get("Content-Type"); ct != "application/health+json" {
			t.Fatalf("/livez Content-Type %q", ct)
		}
		if h.Status != "pass" || h.Version != "1.2.3" {
			t.Fatalf("/livez %+v", h)
		}
		r = e.do("GET", "/readyz", "", nil).want(t, 200).decode(t, &h)
		if ct := r.header.Get("Content-Type"); ct != "application/health+json" {
			t.Fatalf("/readyz Content-Type %q", ct)
		}
		if h.Status != "pass" || len(h.Checks["database:ping"]) != 1 || len(h.Checks["database:schema"]) != 1 ||
			h.Checks["database:ping"][0].Status != "pass" || h.Checks["database:schema"][0].Status != "pass" || h.Checks["database:ping"][0].Time == "" {
			t.Fatalf("/readyz %s", r.body)
		}
		for _, p := range testPages {
			var doc testPageDoc
			e.do("GET", p, "", nil).want(t, 200).decode(t, &doc)
			if doc.Status != "ok" || doc.Version != "1.2.3" || doc.Role != "all" || doc.Name == "" {
				t.Errorf("GET %s: %+v", p, doc)
			}
			if p == "/syncservice" && doc.State != "ready" {
				t.Errorf("/syncservice state %q, want ready", doc.State)
			}
		}

		// With the database gone: readiness and the test pages fail, liveness does not.
		db.Close()
		r = e.do("GET", "/readyz", "", nil).want(t, 503).decode(t, &h)
		if h.Status != "fail" || h.Checks["database:ping"][0].Status != "fail" || h.Checks["database:ping"][0].Output == "" {
			t.Fatalf("/readyz with a closed database: %s", r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/health+json" {
			t.Fatalf("/readyz Content-Type %q", ct)
		}
		e.do("GET", "/livez", "", nil).want(t, 200)
		for _, p := range testPages {
			var doc testPageDoc
			e.do("GET", p, "", nil).want(t, 503).decode(t, &doc)
			if doc.Status != "unavailable" {
				t.Errorf("GET %s with a closed database: %+v", p, doc)
			}
		}
		if page := string(e.do("GET", "/", "", nil).want(t, 200).body); !strings.Contains(page, "NOT READY") {
			t.Error("the index page does not say the server is not ready")
		}
		// API requests fail with a JSON error and reveal nothing of the cause.
		r = e.do("GET", "/api/v1/me", e.admin, nil).want(t, 500, 503)
		if _, msg := r.apiError(t); strings.Contains(msg, "sql") || strings.Contains(msg, "closed") {
			t.Fatalf("error message leaks the cause: %q", msg)
		}
	})
}

// oldSchema reports a database one migration behind this binary.
type oldSchema struct{ *sqldb.DB }

func (s oldSchema) SchemaVersions(ctx context.Context) (int, int, error) {
	cur, want, err := s.DB.SchemaVersions(ctx)
	return cur - 1, want, err
}

func TestReadyzOldSchema(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		_, url := startServer(t, oldSchema{db}, testConfig(newClock()))
		var h healthDoc
		doURL(t, url, "GET", "/readyz", "", nil).want(t, 503).decode(t, &h)
		if c := h.Checks["database:schema"]; h.Status != "fail" || c[0].Status != "fail" || !strings.Contains(c[0].Output, "db upgrade") {
			t.Fatalf("/readyz on an old schema: %+v", h)
		}
		for _, p := range testPages {
			doURL(t, url, "GET", p, "", nil).want(t, 503)
		}
	})
}

func TestSyncServiceRoleApp(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		cfg := testConfig(newClock())
		cfg.Role = server.RoleApp
		_, url := startServer(t, db, cfg)
		var doc struct{ Role, Worker, State string }
		doURL(t, url, "GET", "/syncservice", "", nil).want(t, 200).decode(t, &doc)
		if doc.Role != "app" || !strings.Contains(doc.Worker, "another process") {
			t.Fatalf("/syncservice in role app: %+v", doc)
		}
	})
}

// panicky panics where a bug would.
type panicky struct{ *sqldb.DB }

func (panicky) Dashboard(context.Context, izy.Date, izy.EscalationWindows, string) (*izy.Dashboard, error) {
	panic("boom: secret detail")
}

func TestPanicRecovery(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		_, url := startServer(t, panicky{db}, testConfig(e.clock))
		r := doURL(t, url, "GET", "/api/v1/dashboard", e.admin, nil)
		r.wantError(t, 500, izy.EINTERNAL, r.header.Get("X-Request-ID"))
		if strings.Contains(string(r.body), "boom") || strings.Contains(string(r.body), "goroutine") {
			t.Fatalf("panic detail leaked: %s", r.body)
		}
		doURL(t, url, "GET", "/api/v1/me", e.admin, nil).want(t, 200) // still serving
	})
}

// TestBitsThroughServer uploads a blob in two fragments through the server's /bits routes
// (authenticated like the API) and downloads a range of it; without a transfer service
// the routes and the test page answer 503.
func TestBitsThroughServer(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		data := []byte("0123456789abcdefghij")
		sum := sha256.Sum256(data)
		var sess struct{ ID string }
		e.do("POST", "/bits/sessions", e.admin, map[string]any{"size": len(data), "sha256": hex.EncodeToString(sum[:])}).want(t, 201).decode(t, &sess)
		for _, part := range []struct{ from, to int }{{10, 19}, {0, 9}} {
			req, _ := http.NewRequest("PUT", e.url+"/bits/sessions/"+sess.ID, bytes.NewReader(data[part.from:part.to+1]))
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", part.from, part.to, len(data)))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode >= 300 {
				t.Fatalf("PUT fragment %v: status %d", part, res.StatusCode)
			}
		}
		e.do("POST", "/bits/sessions/"+sess.ID+"/close", e.admin, nil).want(t, 200, 201)
		r := doHeaders(t, e.url+"/bits/blobs/"+hex.EncodeToString(sum[:]), map[string]string{"Authorization": "Bearer " + e.admin, "Range": "bytes=5-9"})
		if got, want := r.status, http.StatusPartialContent; got != want {
			t.Fatalf("ranged GET status %d, want %d", got, want)
		}
		if got, want := string(r.body), "56789"; got != want {
			t.Fatalf("ranged GET body %q, want %q", got, want)
		}
		if got := doHeaders(t, e.url+"/bits/blobs/"+hex.EncodeToString(sum[:]), nil).status; got != http.StatusUnauthorized {
			t.Fatalf("GET blob without token: status %d, want 401", got)
		}

		_, url := startServer(t, db, testConfig(newClock()))
		if got := doHeaders(t, url+"/bits", nil).status; got != http.StatusServiceUnavailable {
			t.Fatalf("/bits without a transfer service: status %d, want 503", got)
		}
	})
}
