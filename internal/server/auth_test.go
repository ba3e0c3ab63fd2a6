package server_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestLoginLogout(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.createUser("ina", izy.RoleInspector)

		var res struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
			User      izy.User
		}
		e.do("POST", "/api/v1/login", "", map[string]string{"username": "ina", "password": testPassword}).want(t, 200).decode(t, &res)
		if len(res.Token) != 43 {
			t.Fatalf("token %q has %d characters, want 43 (32 bytes base64url)", res.Token, len(res.Token))
		}
		if got, want := res.ExpiresAt, e.clock.Now().Add(time.Hour); !got.Equal(want) {
			t.Fatalf("expires_at %v, want %v", got, want)
		}
		if res.User.Username != "ina" || res.User.Role != izy.RoleInspector {
			t.Fatalf("user %+v", res.User)
		}
		var me izy.User
		e.do("GET", "/api/v1/me", res.Token, nil).want(t, 200).decode(t, &me)
		if me.Username != "ina" {
			t.Fatalf("me = %q", me.Username)
		}
		e.do("POST", "/api/v1/logout", res.Token, nil).want(t, 204)
		e.do("GET", "/api/v1/me", res.Token, nil).wantError(t, 401, izy.EUNAUTHORIZED)

		e.do("POST", "/api/v1/login", "", map[string]string{"username": "ina", "password": "wrong password"}).wantError(t, 401, izy.EUNAUTHORIZED)
		e.do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "wrong password"}).wantError(t, 401, izy.EUNAUTHORIZED)
		e.do("POST", "/api/v1/login", "", map[string]string{"username": "ina"}).wantError(t, 400, izy.EINVALID, "required")

		// Malformed Authorization headers.
		for _, h := range []string{"Basic abc", "Bearer", "Bearer short", "Bearer " + res.Token + "x"} {
			doHeaders(t, e.url+"/api/v1/me", map[string]string{"Authorization": h}).wantError(t, 401, izy.EUNAUTHORIZED)
		}
	})
}

func TestChangePassword(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		tok := e.newUser("ina", izy.RoleInspector)
		e.do("PUT", "/api/v1/me/password", tok, map[string]string{"current_password": "not it at all", "new_password": "a new password 1"}).wantError(t, 403, izy.EFORBIDDEN)
		e.do("PUT", "/api/v1/me/password", tok, map[string]string{"current_password": testPassword, "new_password": "short"}).wantError(t, 400, izy.EINVALID, "at least")
		e.do("PUT", "/api/v1/me/password", tok, map[string]string{"current_password": testPassword, "new_password": "a new password 1"}).want(t, 204)
		e.do("POST", "/api/v1/login", "", map[string]string{"username": "ina", "password": testPassword}).want(t, 401)
		e.login("ina", "a new password 1")
	})
}

func TestTokenExpiry(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		tok := e.newUser("ina", izy.RoleInspector)
		e.clock.Advance(59 * time.Minute)
		e.do("GET", "/api/v1/me", tok, nil).want(t, 200)
		e.clock.Advance(2 * time.Minute)
		e.do("GET", "/api/v1/me", tok, nil).wantError(t, 401, izy.EUNAUTHORIZED, "expired")
	})
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		u := e.createUser("ina", izy.RoleInspector)
		tok := e.login("ina", testPassword)
		e.do("DELETE", "/api/v1/users/"+u.ID, e.admin, nil).want(t, 200)
		e.do("GET", "/api/v1/me", tok, nil).wantError(t, 401, izy.EUNAUTHORIZED)
		e.do("POST", "/api/v1/login", "", map[string]string{"username": "ina", "password": testPassword}).wantError(t, 401, izy.EUNAUTHORIZED)
	})
}

// TestLoginThrottle fails logins on two servers sharing one database: they count together.
func TestLoginThrottle(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.createUser("ina", izy.RoleInspector)
		_, other := startServer(t, db, testConfig(e.clock))
		bad := map[string]string{"username": "ina", "password": "wrong password"}
		good := map[string]string{"username": "ina", "password": testPassword}
		for i := range server.FreeLoginFailures {
			base := e.url
			if i%2 == 1 {
				base = other
			}
			doURL(t, base, "POST", "/api/v1/login", "", bad).wantError(t, 401, izy.EUNAUTHORIZED)
		}
		// The sixth attempt is refused on either server, even with the right password.
		for _, base := range []string{other, e.url} {
			r := doURL(t, base, "POST", "/api/v1/login", "", good)
			r.wantError(t, 429, izy.ERATELIMIT)
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}
		// After the delay one more attempt is allowed; failing it doubles the delay.
		e.clock.Advance(1100 * time.Millisecond)
		doURL(t, other, "POST", "/api/v1/login", "", bad).wantError(t, 401, izy.EUNAUTHORIZED)
		e.clock.Advance(1100 * time.Millisecond)
		r := doURL(t, e.url, "POST", "/api/v1/login", "", good)
		r.wantError(t, 429, izy.ERATELIMIT)
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After = %q, want 1 (2 s after the 6th failure, 1.1 s gone)", got)
		}
		e.clock.Advance(time.Second)
		e.login("ina", testPassword)
		// Success resets the count: the next failure is an ordinary 401.
		doURL(t, other, "POST", "/api/v1/login", "", bad).wantError(t, 401, izy.EUNAUTHORIZED)
		e.login("ina", testPassword)
		// Other usernames are not affected by ina's failures.
		e.login("admin", testPassword)
	})
}

func TestLoginDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 10: 32 * time.Second, 15: 15 * time.Minute, 1000: 15 * time.Minute} {
		if got := server.LoginDelay(n); got != want {
			t.Errorf("LoginDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestHandshake(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		var res map[string]any
		e.do("POST", "/api/v1/handshake", "", map[string]any{"client_version": "0.9.1", "protocol_version": 2, "client_id": "laptop-7"}).want(t, 200).decode(t, &res)
		want := map[string]any{
			"server_version": "1.2.3", "schema_version": float64(sqldb.LatestSchemaVersion()),
			"protocol_versions": []any{1.0, 2.0}, "protocol_version": 2.0, "protocol_supported": true,
			"min_client_version": "1.0.0", "current_client_version": "1.2.0",
			"update_available": true, "update_required": true, "edition": "Enterprise Ultimate",
		}
		for k, v := range want {
			if got, _ := json.Marshal(res[k]); string(got) != mustJSON(v) {
				t.Errorf("handshake %s = %s, want %s", k, got, mustJSON(v))
			}
		}
		e.do("POST", "/api/v1/handshake", "", map[string]any{"client_version": "1.2.0", "protocol_version": 3}).want(t, 200).decode(t, &res)
		if res["update_required"] != false || res["update_available"] != false || res["protocol_supported"] != false || res["protocol_version"] != 2.0 {
			t.Errorf("handshake of a current client speaking protocol 3: %v", res)
		}
		e.do("POST", "/api/v1/handshake", "", map[string]any{"protocol_version": 1}).wantError(t, 400, izy.EINVALID, "client_version")
		e.do("POST", "/api/v1/handshake", "", map[string]any{"client_version": "1.0", "protocol_version": "1"}).wantError(t, 400, izy.EINVALID, "protocol_version")
	})
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0}, {"1.10", "1.9", 1}, {"v1.2", "1.2.0", 0}, {"1.2.0-rc1", "1.2.0", -1},
		{"1.2.0+build5", "1.2.0", 0}, {"2", "10", -1}, {"1.2.0-rc2", "1.2.0-rc1", 1},
	} {
		if got := server.CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
