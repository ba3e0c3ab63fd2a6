package sqldb_test

import (
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestCreateCheckoutRetry: a client that asks again for a scope it holds open (the answer
// to its first request was lost) gets the same checkout, not a second one; an exclusive
// retry is not refused as overlapping itself. Another client still is.
func TestCreateCheckoutRetry(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "RT1")
		u := mustUser(t, db, "retrier", izy.RoleInspector)
		first := &izy.Checkout{ClientID: "cl-r", UserID: u.ID, CustomerID: c.ID, Mode: izy.CheckoutExclusive, Protocol: 2}
		if err := db.CreateCheckout(ctx, first); err != nil {
			t.Fatal(err)
		}
		again := &izy.Checkout{ClientID: "cl-r", UserID: u.ID, CustomerID: c.ID, Mode: izy.CheckoutExclusive, Protocol: 2}
		if err := db.CreateCheckout(ctx, again); err != nil {
			t.Fatalf("retry of an exclusive checkout: %v", err)
		}
		if got, want := again.ID, first.ID; got != want {
			t.Fatalf("retry answered checkout %s, want the first one %s", got, want)
		}
		wantCode(t, db.CreateCheckout(ctx, &izy.Checkout{ClientID: "cl-other", UserID: u.ID, CustomerID: c.ID, Mode: izy.CheckoutShared, Protocol: 2}), izy.ECONFLICT)
		open, err := db.ListCheckouts(ctx, "", false)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, co := range open {
			if co.CustomerID == c.ID && co.ReleasedAt == nil {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d open checkouts of the customer, want 1", n)
		}
	})
}
