package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestCustomersCRUD(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		var want []string
		for i := range 23 {
			want = append(want, e.customer(fmt.Sprintf("K-%03d", i), fmt.Sprintf("Customer %d", i)))
		}
		odd := e.customer("K-100%", "Müller_&_Söhne 'GmbH'")
		want = append(want, odd)

		// Walk all pages at several sizes: every customer once, none twice.
		for _, limit := range []int{1, 7, 24, 1000} {
			got := e.listAll("/api/v1/customers", e.admin, limit)
			if !sameSet(got, want) {
				t.Fatalf("limit %d: listed %d customers, want %d", limit, len(got), len(want))
			}
		}
		// q searches number and name; SQL wildcards and quotes are literal.
		for q, wantIDs := range map[string][]string{
			"%":              {odd},
			"_&_":            {odd},
			"'GmbH'":         {odd},
			"K-01":           want[10:20],
			"Customer 22":    {want[22]},
			"x' OR '1'='1":   nil,
			"Müller":         {odd},
			"nothing at all": nil,
		} {
			got := e.listAll("/api/v1/customers?q="+url.QueryEscape(q), e.admin, 100)
			if !sameSet(got, wantIDs) {
				t.Errorf("q=%q: got %d customers %v, want %v", q, len(got), got, wantIDs)
			}
		}

		// Update with the version read; a stale version is 409 and changes nothing.
		var c izy.Customer
		e.get("/api/v1/customers/"+odd, &c)
		if c.Version != 1 || c.Name != "Müller_&_Söhne 'GmbH'" {
			t.Fatalf("created customer %+v", c)
		}
		c.Name = "Müller & Söhne GmbH"
		c.Contacts = []izy.Contact{{Name: "Frau Kern", Phone: "0911 1234"}}
		var put izy.Customer
		e.do("PUT", "/api/v1/customers/"+odd, e.admin, c).want(t, 200).decode(t, &put)
		if put.Version != 2 || put.Name != c.Name || len(put.Contacts) != 1 {
			t.Fatalf("after PUT: %+v", put)
		}
		c.Name = "Stale"
		e.do("PUT", "/api/v1/customers/"+odd, e.admin, c).wantError(t, 409, izy.ECONFLICT)
		e.do("PATCH", "/api/v1/customers/"+odd, e.admin, map[string]any{"version": 1, "name": "Stale"}).wantError(t, 409, izy.ECONFLICT)
		var after izy.Customer
		e.get("/api/v1/customers/"+odd, &after)
		if after.Name != "Müller & Söhne GmbH" || after.Version != 2 {
			t.Fatalf("stale update changed the customer: %+v", after)
		}
		// PATCH changes only what it names.
		var patched izy.Customer
		e.do("PATCH", "/api/v1/customers/"+odd, e.admin, map[string]any{"version": 2, "address": "Hauptstr. 1"}).want(t, 200).decode(t, &patched)
		if patched.Address != "Hauptstr. 1" || patched.Name != after.Name || len(patched.Contacts) != 1 || patched.Version != 3 {
			t.Fatalf("after PATCH: %+v", patched)
		}
		e.do("PATCH", "/api/v1/customers/"+odd, e.admin, map[string]any{"name": "No version"}).wantError(t, 400, izy.EINVALID, "version")
		e.do("PATCH", "/api/v1/customers/"+odd, e.admin, map[string]any{"version": 3, "name": ""}).wantError(t, 400, izy.EINVALID, "name")
		e.do("PATCH", "/api/v1/customers/"+odd, e.admin, map[string]any{"version": 3, "id": want[0]}).wantError(t, 400, izy.EINVALID, "id")
		// Duplicate numbers conflict.
		e.do("POST", "/api/v1/customers", e.admin, map[string]any{"number": "K-001", "name": "Twin"}).wantError(t, 409, izy.ECONFLICT)

		// Delete: only an empty customer; a stale version is 409.
		e.location(want[0], nil, "property", "Werk 1")
		e.do("DELETE", "/api/v1/customers/"+want[0], e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		e.do("DELETE", "/api/v1/customers/"+odd+"?version=1", e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		e.do("DELETE", "/api/v1/customers/"+odd+"?version=3", e.admin, nil).want(t, 204)
		e.do("GET", "/api/v1/customers/"+odd, e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
		e.do("DELETE", "/api/v1/customers/"+odd, e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
	})
}

func TestListQueryValidation(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		for _, c := range []struct{ path, word string }{
			{"/api/v1/customers?limit=0", "limit"},
			{"/api/v1/customers?limit=1001", "limit"},
			{"/api/v1/customers?limit=ten", "limit"},
			{"/api/v1/customers?limit=5&limit=6", "more than once"},
			{"/api/v1/customers?sort=name", "unknown query parameter"},
			{"/api/v1/devices?colour=purple", "colour"},
			{"/api/v1/devices?color=blue", "color"},
			{"/api/v1/devices?status=broken", "status"},
			{"/api/v1/devices?customer_id=abc", "customer_id"},
			{"/api/v1/locations?parent_id=1", "parent_id"},
			{"/api/v1/tests?result=maybe", "result"},
			{"/api/v1/instruments?colour=pink", "colour"},
			{"/api/v1/audit?entity_id=x", "entity_id"},
		} {
			e.do("GET", c.path, e.admin, nil).wantError(t, 400, izy.EINVALID, c.word)
		}
	})
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
