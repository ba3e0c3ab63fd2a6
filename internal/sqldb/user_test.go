package sqldb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestUsers(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c1 := mustCustomer(t, db, "K-1")
		c2 := mustCustomer(t, db, "K-2")
		u := mustUser(t, db, "eva", izy.RoleInspector, izy.Grant{CustomerID: c1.ID, Access: izy.AccessWrite})

		got, hash, err := db.UserByUsername(ctx, "eva")
		if err != nil {
			t.Fatal(err)
		}
		if hash != "hash-of-eva" {
			t.Fatalf("got hash %q", hash)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Fatalf("by username (-want +got):\n%s", diff)
		}
		byID, err := db.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, byID); diff != "" {
			t.Fatalf("by id (-want +got):\n%s", diff)
		}
		_, _, err = db.UserByUsername(ctx, "nobody")
		wantCode(t, err, izy.ENOTFOUND)
		_, err = db.GetUser(ctx, izy.NewID())
		wantCode(t, err, izy.ENOTFOUND)

		err = db.CreateUser(ctx, &izy.User{Username: "eva", Role: izy.RoleClerk}, "x")
		wantCode(t, err, izy.ECONFLICT)
		if want := "username eva is already taken"; izy.ErrorMessage(err) != want {
			t.Fatalf("got %q, want %q", izy.ErrorMessage(err), want)
		}
		err = db.CreateUser(ctx, &izy.User{Username: "bob", Role: izy.RoleClerk,
			Grants: []izy.Grant{{CustomerID: izy.NewID(), Access: izy.AccessRead}}}, "x")
		wantCode(t, err, izy.EINVALID)
		if _, _, err := db.UserByUsername(ctx, "bob"); izy.ErrorCode(err) != izy.ENOTFOUND {
			t.Fatalf("a failed create left user bob behind: %v", err)
		}

		t.Run("update", func(t *testing.T) {
			v := *got
			v.DisplayName = "Eva M."
			v.Role = izy.RoleClerk
			v.Grants = []izy.Grant{{CustomerID: c2.ID, Access: izy.AccessRead}, {CustomerID: c1.ID, Access: izy.AccessRead}}
			if err := db.UpdateUser(ctx, &v); err != nil {
				t.Fatal(err)
			}
			if v.Version != 2 || v.DisplayName != "Eva M." || len(v.Grants) != 2 {
				t.Fatalf("after update got %+v", v)
			}
			reread, _ := db.GetUser(ctx, u.ID)
			if diff := cmp.Diff(&v, reread); diff != "" {
				t.Fatalf("reread (-want +got):\n%s", diff)
			}
			wantCode(t, db.UpdateUser(ctx, got), izy.ECONFLICT)
			bad := v
			bad.Grants = []izy.Grant{{CustomerID: izy.NewID(), Access: izy.AccessRead}}
			wantCode(t, db.UpdateUser(ctx, &bad), izy.EINVALID)
			missing := v
			missing.ID = izy.NewID()
			wantCode(t, db.UpdateUser(ctx, &missing), izy.ENOTFOUND)
		})

		t.Run("password", func(t *testing.T) {
			if err := db.SetPassword(ctx, u.ID, "new-hash"); err != nil {
				t.Fatal(err)
			}
			after, hash, err := db.UserByUsername(ctx, "eva")
			if err != nil || hash != "new-hash" {
				t.Fatalf("got hash %q, %v; want new-hash", hash, err)
			}
			if after.Version != 2 {
				t.Fatalf("a password change moved the version to %d", after.Version)
			}
			wantCode(t, db.SetPassword(ctx, izy.NewID(), "x"), izy.ENOTFOUND)
		})

		t.Run("list", func(t *testing.T) {
			want := []string{u.ID}
			for _, name := range []string{"u1", "u2", "u3", "u4"} {
				want = append(want, mustUser(t, db, name, izy.RoleReadOnly,
					izy.Grant{CustomerID: c1.ID, Access: izy.AccessRead}, izy.Grant{CustomerID: c2.ID, Access: izy.AccessRead}).ID)
			}
			got := collect(t, 2, func(u *izy.User) string { return u.ID }, func(p izy.Page) ([]izy.User, string, error) {
				return db.ListUsers(ctx, p)
			})
			if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
				t.Fatalf("list (-want +got):\n%s", diff)
			}
			items, _, err := db.ListUsers(ctx, izy.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if len(it.Grants) != 2 {
					t.Fatalf("user %s listed with grants %v, want 2", it.Username, it.Grants)
				}
			}
		})
		if n := auditCount(t, db, "user", u.ID); n != 3 {
			t.Fatalf("got %d audit entries, want 3 (create, update, password)", n)
		}
	})
}

func TestTokens(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		u := mustUser(t, db, "eva", izy.RoleInspector, izy.Grant{CustomerID: c.ID, Access: izy.AccessRead})
		now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		tok := &izy.Token{UserID: u.ID, Name: "laptop", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateToken(ctx, tok, "hash-1"); err != nil {
			t.Fatal(err)
		}
		forever := &izy.Token{UserID: u.ID, Name: "script"}
		if err := db.CreateToken(ctx, forever, "hash-2"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateToken(ctx, &izy.Token{UserID: izy.NewID()}, "hash-3"), izy.EINVALID)
		wantCode(t, db.CreateToken(ctx, &izy.Token{UserID: u.ID}, "hash-1"), izy.ECONFLICT)

		tests := []struct {
			name, hash string
			at         time.Time
			code       string
		}{
			{"valid", "hash-1", now.Add(time.Minute), ""},
			{"expired", "hash-1", now.Add(time.Hour), izy.EUNAUTHORIZED},
			{"unknown", "hash-x", now, izy.EUNAUTHORIZED},
			{"no expiry", "hash-2", now.AddDate(10, 0, 0), ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.UserByTokenHash(ctx, tt.hash, tt.at)
				wantCode(t, err, tt.code)
				if err == nil {
					if diff := cmp.Diff(u, got); diff != "" {
						t.Fatalf("user (-want +got):\n%s", diff)
					}
				}
			})
		}
		// A disabled user's tokens stop working.
		u.Disabled = true
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		_, err := db.UserByTokenHash(ctx, "hash-2", now)
		wantCode(t, err, izy.EUNAUTHORIZED)
		u.Disabled = false
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteToken(ctx, "hash-2"); err != nil {
			t.Fatal(err)
		}
		_, err = db.UserByTokenHash(ctx, "hash-2", now)
		wantCode(t, err, izy.EUNAUTHORIZED)
		if err := db.DeleteToken(ctx, "hash-unknown"); err != nil {
			t.Fatalf("revoking an unknown token: %v", err)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		n, at, err := db.LoginFailures(ctx, "eva")
		if err != nil || n != 0 || !at.IsZero() {
			t.Fatalf("no failures: got %d, %v, %v", n, at, err)
		}
		t0 := time.Date(2025, 6, 1, 12, 0, 0, 123456000, time.UTC)
		for i := 1; i <= 3; i++ {
			n, err := db.RecordLoginFailure(ctx, "eva", t0.Add(time.Duration(i)*time.Second))
			if err != nil || n != i {
				t.Fatalf("failure %d: got %d, %v", i, n, err)
			}
		}
		if n, _ := db.RecordLoginFailure(ctx, "bob", t0); n != 1 {
			t.Fatalf("bob: got %d failures, want 1", n)
		}
		n, at, err = db.LoginFailures(ctx, "eva")
		if err != nil || n != 3 || !at.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("got %d, %v, %v; want 3 at %v", n, at, err, t0.Add(3*time.Second))
		}
		if err := db.ClearLoginFailures(ctx, "eva"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := db.LoginFailures(ctx, "eva"); n != 0 {
			t.Fatalf("after clear: got %d failures", n)
		}
		if n, _, _ := db.LoginFailures(ctx, "bob"); n != 1 {
			t.Fatalf("clearing eva cleared bob: got %d", n)
		}
	})
}

func TestAudit(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		for i := range 5 {
			mustCustomer(t, db, inv(i))
		}
		var all []izy.AuditEntry
		p := izy.Page{Limit: 2}
		for {
			items, next, err := db.ListAudit(ctx, izy.AuditFilter{Entity: "customer", Page: p})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, items...)
			if next == "" {
				break
			}
			p.Cursor = next
		}
		if len(all) != 5 {
			t.Fatalf("got %d entries, want 5", len(all))
		}
		for i, e := range all {
			if i > 0 && e.ID >= all[i-1].ID {
				t.Fatalf("entries not newest first: %d after %d", e.ID, all[i-1].ID)
			}
			if e.Action != "create" || e.UserID != actor.ID || e.At.IsZero() || e.Detail == "" {
				t.Fatalf("entry %+v", e)
			}
		}
		_, _, err := db.ListAudit(ctx, izy.AuditFilter{Page: izy.Page{Cursor: "bad!"}})
		wantCode(t, err, izy.EINVALID)
	})
}
