package sqldb_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestCustomers(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := &izy.Customer{Number: "K-1", Name: "Acme", Address: "Hauptstr. 1",
			Contacts: []izy.Contact{{Name: "Eva", Phone: "123"}}}
		if err := db.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		if !izy.ValidID(c.ID) || c.Version != 1 || c.Seq == 0 || c.CreatedAt.IsZero() {
			t.Fatalf("create did not fill id, version, seq, created_at: %+v", c)
		}
		got, err := db.GetCustomer(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("get after create (-want +got):\n%s", diff)
		}

		t.Run("update", func(t *testing.T) {
			u := *got
			u.Name = "Acme GmbH"
			if err := db.UpdateCustomer(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if u.Version != 2 || u.Seq <= c.Seq || u.Name != "Acme GmbH" || !u.CreatedAt.Equal(c.CreatedAt) {
				t.Fatalf("after update got %+v", u)
			}
			stale := *got // version 1
			stale.Name = "Stale"
			err := db.UpdateCustomer(ctx, &stale)
			wantCode(t, err, izy.ECONFLICT)
			if want := "customer was changed by someone else (version 2, you sent 1); reload and try again"; izy.ErrorMessage(err) != want {
				t.Fatalf("got %q, want %q", izy.ErrorMessage(err), want)
			}
			missing := u
			missing.ID = izy.NewID()
			wantCode(t, db.UpdateCustomer(ctx, &missing), izy.ENOTFOUND)
		})

		t.Run("not found", func(t *testing.T) {
			_, err := db.GetCustomer(ctx, izy.NewID())
			wantCode(t, err, izy.ENOTFOUND)
		})

		t.Run("duplicate number", func(t *testing.T) {
			err := db.CreateCustomer(ctx, &izy.Customer{Number: "K-1", Name: "Other"})
			wantCode(t, err, izy.ECONFLICT)
			if want := "customer number K-1 already exists"; izy.ErrorMessage(err) != want {
				t.Fatalf("got %q, want %q", izy.ErrorMessage(err), want)
			}
			dupID := &izy.Customer{ID: c.ID, Number: "K-other", Name: "Other"}
			wantCode(t, db.CreateCustomer(ctx, dupID), izy.ECONFLICT)
			other := mustCustomer(t, db, "K-2")
			other.Number = "K-1"
			wantCode(t, db.UpdateCustomer(ctx, other), izy.ECONFLICT)
		})

		if n := auditCount(t, db, "customer", c.ID); n != 2 {
			t.Fatalf("got %d audit entries for the customer, want 2 (create, update)", n)
		}
	})
}

func TestDeleteCustomer(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		u := mustUser(t, db, "eva", izy.RoleInspector, izy.Grant{CustomerID: c.ID, Access: izy.AccessRead})
		l := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site")

		err := db.DeleteCustomer(ctx, c.ID, c.Version)
		wantCode(t, err, izy.ECONFLICT)
		if want := "customer K-1 still has 1 locations; delete or move them first"; izy.ErrorMessage(err) != want {
			t.Fatalf("got %q, want %q", izy.ErrorMessage(err), want)
		}
		if err := db.DeleteLocation(ctx, l.ID, l.Version); err != nil {
			t.Fatal(err)
		}
		d := mustDevice(t, db, newDevice(c.ID, "D1"))
		wantCode(t, db.DeleteCustomer(ctx, c.ID, c.Version), izy.ECONFLICT)
		_ = d

		c2 := mustCustomer(t, db, "K-2")
		wantCode(t, db.DeleteCustomer(ctx, c2.ID, c2.Version+1), izy.ECONFLICT)
		wantCode(t, db.DeleteCustomer(ctx, izy.NewID(), 1), izy.ENOTFOUND)
		if err := db.DeleteCustomer(ctx, c2.ID, c2.Version); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetCustomer(ctx, c2.ID)
		wantCode(t, err, izy.ENOTFOUND)
		if n := auditCount(t, db, "customer", c2.ID); n != 2 {
			t.Fatalf("got %d audit entries, want 2 (create, delete)", n)
		}
		// Grants of a deleted customer go with it.
		c3 := mustCustomer(t, db, "K-3")
		u.Grants = append(u.Grants, izy.Grant{CustomerID: c3.ID, Access: izy.AccessWrite})
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteCustomer(ctx, c3.ID, c3.Version); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := []izy.Grant{{CustomerID: c.ID, Access: izy.AccessRead}}; !cmp.Equal(got.Grants, want) {
			t.Fatalf("grants after deleting a customer: got %v, want %v", got.Grants, want)
		}
	})
}

func TestListCustomers(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		var all []string
		for i := range 23 {
			all = append(all, mustCustomer(t, db, inv(i)).ID)
		}
		special := []*izy.Customer{
			{Number: "P-1", Name: "100% Strom"},
			{Number: "P-2", Name: "a_b Elektro"},
			{Number: "P-3", Name: `O'; DROP TABLE customers; --`},
			{Number: "P-4", Name: `back\slash`},
		}
		for _, c := range special {
			if err := db.CreateCustomer(ctx, c); err != nil {
				t.Fatal(err)
			}
			all = append(all, c.ID)
		}
		slices.Sort(all)
		for _, limit := range []int{1, 5, 27, 100} {
			got := collect(t, limit, func(c *izy.Customer) string { return c.ID }, func(p izy.Page) ([]izy.Customer, string, error) {
				return db.ListCustomers(ctx, izy.CustomerFilter{Page: p})
			})
			if diff := cmp.Diff(all, got); diff != "" {
				t.Fatalf("limit %d (-want +got):\n%s", limit, diff)
			}
		}
		search := []struct {
			q    string
			want []string
		}{
			{"%", []string{"P-1"}},
			{"_", []string{"P-2"}},
			{"'; drop table customers; --", []string{"P-3"}},
			{`\`, []string{"P-4"}},
			{"strom", []string{"P-1"}},
			{"p-", []string{"P-1", "P-2", "P-3", "P-4"}},
			{"nothing", nil},
		}
		for _, s := range search {
			items, _, err := db.ListCustomers(ctx, izy.CustomerFilter{Query: s.q})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range items {
				got = append(got, c.Number)
			}
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("query %q (-want +got):\n%s", s.q, diff)
			}
		}
		granted := mustUser(t, db, "g", izy.RoleReadOnly, izy.Grant{CustomerID: special[0].ID, Access: izy.AccessRead})
		items, _, err := db.ListCustomers(ctx, izy.CustomerFilter{GrantedTo: granted.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].ID != special[0].ID {
			t.Fatalf("granted list: got %v, want only %s", items, special[0].ID)
		}
		for _, cur := range []string{"garbage!", "AAAA", "bm90LWFuLWlk"} {
			_, _, err := db.ListCustomers(ctx, izy.CustomerFilter{Page: izy.Page{Cursor: cur}})
			wantCode(t, err, izy.EINVALID)
		}
		_, _, err = db.ListCustomers(ctx, izy.CustomerFilter{Page: izy.Page{Limit: izy.MaxPageLimit + 1}})
		wantCode(t, err, izy.EINVALID)
	})
}
