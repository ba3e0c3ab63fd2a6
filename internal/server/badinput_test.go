package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestBadBodies sends broken bodies to every endpoint that takes one: each is a 4xx with
// {"error":{"code","message"}} naming the problem, and nothing changes.
func TestBadBodies(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		dev := e.device(cust, nil, "D1")
		big := `{"number":"X","name":"` + strings.Repeat("x", 70<<10) + `"}`

		cases := []struct {
			name, ctype, body string
			status            int
			code              string
			words             []string
		}{
			{"malformed", "application/json", `{"number": "X", "name": }`, 400, izy.EINVALID, []string{"malformed JSON"}},
			{"cut short", "application/json", `{"number": "X"`, 400, izy.EINVALID, []string{"malformed JSON"}},
			{"unknown field", "application/json", `{"number":"X","name":"Y","colour_scheme":1}`, 400, izy.EINVALID, []string{"colour_scheme"}},
			{"wrong type", "application/json", `{"number":"X","name":42}`, 400, izy.EINVALID, []string{"name", "string"}},
			{"array", "application/json", `[{"number":"X","name":"Y"}]`, 400, izy.EINVALID, []string{"object"}},
			{"trailing garbage", "application/json", `{} garbage`, 400, izy.EINVALID, []string{"after the JSON object"}},
			{"two objects", "application/json", `{}{"number":"Z"}`, 400, izy.EINVALID, []string{"after the JSON object"}},
			{"empty", "application/json", ``, 400, izy.EINVALID, []string{"empty"}},
			{"whitespace", "application/json", "  \n ", 400, izy.EINVALID, []string{"empty"}},
			{"not JSON", "text/plain", `{"number":"X","name":"Y"}`, 400, izy.EINVALID, []string{"Content-Type"}},
			{"multipart", "multipart/form-data; boundary=x", `{"number":"X","name":"Y"}`, 400, izy.EINVALID, []string{"Content-Type"}},
			{"too large", "application/json", big, 413, izy.ETOOLARGE, []string{"exceeds"}},
			{"invalid UTF-8", "application/json", "{\"number\":\"X\",\"name\":\"\xff\xfe\"}", 400, izy.EINVALID, []string{"UTF-8"}},
			{"huge number", "application/json", `{"number":"X","name":"Y","version":1e999}`, 400, izy.EINVALID, []string{"version"}},
		}
		targets := []struct{ method, path string }{
			{"POST", "/api/v1/customers"},
			{"PUT", "/api/v1/customers/" + cust},
			{"PATCH", "/api/v1/devices/" + dev},
			{"POST", "/api/v1/devices"},
			{"POST", "/api/v1/tests"},
			{"POST", "/api/v1/users"},
			{"POST", "/api/v1/login"},
			{"POST", "/api/v1/handshake"},
		}
		snapshot := func() string {
			var all []string
			for _, p := range []string{"/api/v1/customers", "/api/v1/devices", "/api/v1/tests", "/api/v1/users", "/api/v1/locations"} {
				var page listPage
				e.do("GET", p+"?limit=1000", e.admin, nil).want(t, 200).decode(t, &page)
				all = append(all, mustJSON(page))
			}
			return strings.Join(all, "\n")
		}
		before := snapshot()
		for _, target := range targets {
			for _, c := range cases {
				t.Run(target.method+" "+target.path+" "+c.name, func(t *testing.T) {
					req, _ := http.NewRequest(target.method, e.url+target.path, strings.NewReader(c.body))
					if c.ctype != "" {
						req.Header.Set("Content-Type", c.ctype)
					}
					if !strings.Contains(target.path, "login") && !strings.Contains(target.path, "handshake") {
						req.Header.Set("Authorization", "Bearer "+e.admin)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					r := &response{status: res.StatusCode, header: res.Header, body: b, req: target.method + " " + target.path}
					// Field-specific words only fit the customer bodies; the structure checks fit all.
					words := c.words
					if c.name == "unknown field" || c.name == "wrong type" || c.name == "huge number" {
						if target.path != "/api/v1/customers" {
							words = nil
						}
					}
					if c.name == "wrong type" || c.name == "huge number" || c.name == "unknown field" {
						r.want(t, 400)
						if code, _ := r.apiError(t); code != izy.EINVALID {
							t.Fatalf("code %s", code)
						}
						return
					}
					r.wantError(t, c.status, c.code, words...)
				})
			}
		}
		if after := snapshot(); after != before {
			t.Fatalf("rejected requests changed data:\nbefore %s\nafter %s", before, after)
		}
	})
}

// TestBodyLimitDefault: without a configured limit, bodies up to 1 MiB are read (and
// judged on their content), larger ones are 413.
func TestBodyLimitDefault(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, func(c *server.Config) { c.MaxBodyBytes = 0 })
		under := `{"number":"X","name":"Y","address":"` + strings.Repeat("x", 1<<20-100) + `"}`
		e.do("POST", "/api/v1/customers", e.admin, under).wantError(t, 400, izy.EINVALID, "address")
		over := `{"number":"X","name":"Y","address":"` + strings.Repeat("x", 1<<20) + `"}`
		e.do("POST", "/api/v1/customers", e.admin, over).wantError(t, 413, izy.ETOOLARGE)
		if got := e.listAll("/api/v1/customers", e.admin, 10); len(got) != 0 {
			t.Fatalf("%d customers stored", len(got))
		}
	})
}

// TestLenientContentType: a JSON body without a Content-Type, or with the one `curl -d`
// sends, is accepted; scripts should not fail on a header that protects nothing here.
func TestLenientContentType(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		for i, ctype := range []string{"", "application/x-www-form-urlencoded", "application/json; charset=utf-8"} {
			req, _ := http.NewRequest("POST", e.url+"/api/v1/customers", strings.NewReader(`{"number":"N`+string(rune('0'+i))+`","name":"Lenient"}`))
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			req.Header.Set("Authorization", "Bearer "+e.admin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if got, want := res.StatusCode, http.StatusCreated; got != want {
				t.Fatalf("Content-Type %q: status %d, want %d: %s", ctype, got, want, b)
			}
		}
	})
}
