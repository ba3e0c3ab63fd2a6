package server_test

import (
	"fmt"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestUsersCRUD(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		var u izy.User
		r := e.do("POST", "/api/v1/users", e.admin, map[string]any{
			"username": "ina", "display_name": "Ina Prüfer", "role": "inspector", "password": "first password",
			"grants": []map[string]any{{"customer_id": cust, "access": "write"}},
		}).want(t, 201).decode(t, &u)
		if strings.Contains(string(r.body), "password") {
			t.Fatalf("the answer shows the password: %s", r.body)
		}
		if u.Version != 1 || len(u.Grants) != 1 || u.Role != izy.RoleInspector {
			t.Fatalf("created %+v", u)
		}
		tok := e.login("ina", "first password")
		e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "ina", "role": "clerk", "password": "long enough 1"}).wantError(t, 409, izy.ECONFLICT)
		e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "bob", "role": "clerk", "password": "short"}).wantError(t, 400, izy.EINVALID, "password")
		e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "bob", "role": "boss", "password": "long enough 1"}).wantError(t, 400, izy.EINVALID, "role")
		e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "bob", "role": "clerk", "password": "long enough 1",
			"grants": []map[string]any{{"customer_id": izy.NewID(), "access": "write"}}}).wantError(t, 400, izy.EINVALID, "customer")

		for i := range 5 {
			e.createUser(fmt.Sprintf("user%d", i), izy.RoleReadOnly)
		}
		if got := e.listAll("/api/v1/users", e.admin, 2); len(got) != 7 {
			t.Fatalf("%d users listed, want 7", len(got))
		}

		// PATCH: role and a password reset; the username never changes.
		e.do("PATCH", "/api/v1/users/"+u.ID, e.admin, map[string]any{"version": 1, "role": "clerk", "password": "second password"}).want(t, 200).decode(t, &u)
		if u.Role != izy.RoleClerk || u.Version != 2 || len(u.Grants) != 1 {
			t.Fatalf("after PATCH %+v", u)
		}
		e.login("ina", "second password")
		e.do("PATCH", "/api/v1/users/"+u.ID, e.admin, map[string]any{"version": 1, "display_name": "stale"}).wantError(t, 409, izy.ECONFLICT)
		e.do("PATCH", "/api/v1/users/"+u.ID, e.admin, map[string]any{"version": 2, "username": "ina2"}).wantError(t, 400, izy.EINVALID, "username")
		e.do("PATCH", "/api/v1/users/"+u.ID, e.admin, map[string]any{"version": 2, "password": "short"}).wantError(t, 400, izy.EINVALID, "password")

		// Admins cannot lock themselves out.
		var admin izy.User
		e.do("GET", "/api/v1/me", e.admin, nil).decode(t, &admin)
		e.do("DELETE", "/api/v1/users/"+admin.ID, e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		e.do("PATCH", "/api/v1/users/"+admin.ID, e.admin, map[string]any{"version": admin.Version, "role": "clerk"}).wantError(t, 409, izy.ECONFLICT)

		// DELETE disables; the user's tokens stop working.
		e.do("DELETE", "/api/v1/users/"+u.ID, e.admin, nil).want(t, 200).decode(t, &u)
		if !u.Disabled {
			t.Fatal("DELETE did not disable the user")
		}
		e.do("GET", "/api/v1/me", tok, nil).wantError(t, 401, izy.EUNAUTHORIZED)
		e.do("GET", "/api/v1/users/"+u.ID, e.admin, nil).want(t, 200)
	})
}

func TestAudit(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		e.do("PATCH", "/api/v1/customers/"+cust, e.admin, map[string]any{"version": 1, "name": "Alpha GmbH"}).want(t, 200)
		var admin izy.User
		e.do("GET", "/api/v1/me", e.admin, nil).decode(t, &admin)
		var page struct{ Items []izy.AuditEntry }
		e.do("GET", "/api/v1/audit?entity=customer&entity_id="+cust, e.admin, nil).want(t, 200).decode(t, &page)
		if len(page.Items) != 2 || page.Items[0].Action != "update" || page.Items[1].Action != "create" || page.Items[0].UserID != admin.ID {
			t.Fatalf("audit of the customer: %+v", page.Items)
		}
		// Logins are audited as tokens created by the user who signed in.
		e.do("GET", "/api/v1/audit?entity=token", e.admin, nil).want(t, 200).decode(t, &page)
		if len(page.Items) == 0 || page.Items[0].UserID != admin.ID {
			t.Fatalf("audit of logins: %+v", page.Items)
		}
		if got := e.listAll("/api/v1/audit", e.admin, 1); len(got) < 3 {
			t.Fatalf("%d audit entries", len(got))
		}
	})
}
