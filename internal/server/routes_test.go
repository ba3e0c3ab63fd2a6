package server_test

import (
	"net/http"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// routePath fills a route pattern's wildcards with a well-formed id that exists nowhere.
func routePath(pattern string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	return strings.ReplaceAll(p, "{id}", "0190a4c2-7d1e-7000-8000-000000000001")
}

// selfService are the mutating routes every signed-in user may call for themself.
var selfService = map[string]bool{
	"POST /api/v1/logout":     true,
	"PUT /api/v1/me/password": true,
	"POST /api/v1/login":      true,
	"POST /api/v1/handshake":  true,
}

func TestEveryRouteAuthorization(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("C1", "Granted read")
		readOnly := e.newUser("reader", izy.RoleReadOnly, izy.Grant{CustomerID: cust, Access: izy.AccessRead})
		clerk := e.newUser("clerk", izy.RoleClerk, izy.Grant{CustomerID: cust, Access: izy.AccessWrite})
		routes := e.srv.Routes()
		if len(routes) < 40 {
			t.Fatalf("Routes() lists %d routes; expected the whole API", len(routes))
		}
		seen := map[string]bool{}
		for _, rt := range routes {
			key := rt.Method + " " + rt.Pattern
			if seen[key] {
				t.Fatalf("route %s listed twice", key)
			}
			seen[key] = true
			path := routePath(rt.Pattern)
			mutating := rt.Method != "GET"

			t.Run("anonymous "+key, func(t *testing.T) {
				r := e.do(rt.Method, path, "", body(rt.Method))
				if rt.Public {
					if r.status == http.StatusUnauthorized {
						t.Fatalf("public route answered 401: %s", r.body)
					}
					return
				}
				r.wantError(t, 401, izy.EUNAUTHORIZED)
				if r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			})
			t.Run("forged token "+key, func(t *testing.T) {
				if rt.Public {
					t.Skip("public")
				}
				forged := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well-formed, never issued
				e.do(rt.Method, path, forged, body(rt.Method)).wantError(t, 401, izy.EUNAUTHORIZED)
			})
			t.Run("read-only "+key, func(t *testing.T) {
				if !mutating || rt.Public || selfService[key] {
					t.Skip("not a data change")
				}
				r := e.do(rt.Method, path, readOnly, body(rt.Method)).want(t, 403, 404)
				r.apiError(t)
			})
			t.Run("clerk "+key, func(t *testing.T) {
				if key != "POST /api/v1/tests" && !strings.HasPrefix(rt.Pattern, "/api/v1/users") && rt.Pattern != "/api/v1/audit" {
					t.Skip("clerk may")
				}
				e.do(rt.Method, path, clerk, body(rt.Method)).wantError(t, 403, izy.EFORBIDDEN)
			})
		}
	})
}

// body returns a minimal JSON body for methods that take one.
func body(method string) any {
	if method == "GET" || method == "DELETE" {
		return nil
	}
	return "{}"
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.do("GET", "/api/v1/nothing", e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
		e.do("GET", "/nothing", "", nil).wantError(t, 404, izy.ENOTFOUND)
		r := e.do("PUT", "/api/v1/tests/"+izy.NewID(), e.admin, "{}")
		r.wantError(t, 405, "method_not_allowed")
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
			t.Fatalf("Allow = %q", allow)
		}
		e.do("DELETE", "/api/v1/tests/"+izy.NewID(), e.admin, nil).wantError(t, 405, "method_not_allowed")
		// A malformed id in the path is a 400 that says so.
		e.do("GET", "/api/v1/devices/not-an-id", e.admin, nil).wantError(t, 400, izy.EINVALID, "not a valid id")
		e.do("GET", "/api/v1/devices/"+izy.NewID(), e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
	})
}

func TestSecurityHeadersAndRequestID(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		for _, path := range []string{"/", "/livez", "/api/v1/me", "/api/v1/nothing"} {
			r := e.do("GET", path, "", nil)
			for h, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'self'",
				"X-Frame-Options":         "DENY",
			} {
				if got := r.header.Get(h); got != want {
					t.Errorf("GET %s: %s = %q, want %q", path, h, got, want)
				}
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Errorf("GET %s: no X-Request-ID", path)
			}
		}
		req, _ := http.NewRequest("GET", e.url+"/livez", nil)
		req.Header.Set("X-Request-ID", "proxy-42")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Request-ID"); got != "proxy-42" {
			t.Fatalf("X-Request-ID = %q, want the caller's proxy-42", got)
		}
	})
}

func TestIndexPage(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		r := e.do("GET", "/", "", nil).want(t, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("Content-Type %q", ct)
		}
		page := string(r.body)
		for _, want := range []string{"Izytroniq", "1.2.3", "ready", `href="/livez"`, `href="/readyz"`, `href="/metrics"`,
			`href="/syncservice"`, `href="/bits"`, `href="/izytron.iq/handshakeremoteservice.svc"`, "/api/v1/devices/{id}"} {
			if !strings.Contains(page, want) {
				t.Errorf("index page lacks %q", want)
			}
		}
	})
}
