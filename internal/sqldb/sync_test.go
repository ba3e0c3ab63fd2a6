package sqldb_test

import (
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestSyncStore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "SY1")
		prop := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site")
		a := mustLocation(t, db, c.ID, prop, izy.LocationBuilding, "A")
		b := mustLocation(t, db, c.ID, prop, izy.LocationBuilding, "B")
		inA := newDevice(c.ID, "IN-A")
		inA.LocationID = &a.ID
		mustDevice(t, db, inA)
		inB := newDevice(c.ID, "IN-B")
		inB.LocationID = &b.ID
		mustDevice(t, db, inB)
		u := mustUser(t, db, "holder", izy.RoleInspector)

		// An exclusive checkout of building A.
		co := &izy.Checkout{ClientID: "cl-1", ClientName: "Field laptop", UserID: u.ID, CustomerID: c.ID, LocationID: &a.ID, Mode: izy.CheckoutExclusive, Protocol: 2}
		if err := db.CreateCheckout(ctx, co); err != nil {
			t.Fatal(err)
		}
		// Overlaps: the whole customer and A itself are refused; B may be checked out.
		wantCode(t, db.CreateCheckout(ctx, &izy.Checkout{ClientID: "cl-2", UserID: u.ID, CustomerID: c.ID, Mode: izy.CheckoutShared, Protocol: 2}), izy.ECONFLICT)
		if err := db.CreateCheckout(ctx, &izy.Checkout{ClientID: "cl-2", UserID: u.ID, CustomerID: c.ID, LocationID: &b.ID, Mode: izy.CheckoutShared, Protocol: 2}); err != nil {
			t.Fatal(err)
		}
		// Online writes inside A are refused, naming the holder; B stays writable.
		inA.Comment = "x"
		err := db.UpdateDevice(ctx, inA)
		wantCode(t, err, izy.ECONFLICT)
		if msg := izy.ErrorMessage(err); msg == "" || !strings.Contains(msg, "holder") || !strings.Contains(msg, "Field laptop") {
			t.Fatalf("message %q does not name the holder", msg)
		}
		moved := *inB
		moved.LocationID = &a.ID
		wantCode(t, db.UpdateDevice(ctx, &moved), izy.ECONFLICT) // moving a device into the held scope
		inB.Comment = "fine"
		if err := db.UpdateDevice(ctx, inB); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateTest(ctx, &izy.Test{DeviceID: inA.ID, Date: date(t, "2024-01-02"), Standard: "VDE 0701-0702:2008", Result: "pass"}), izy.ECONFLICT)
		room := &izy.Location{CustomerID: c.ID, ParentID: &a.ID, Kind: izy.LocationRoom, Name: "R"}
		wantCode(t, db.CreateLocation(ctx, room), izy.ECONFLICT)

		// Deleting a location leaves a tombstone in the change feed of the customer.
		shared := &izy.Checkout{ClientID: "cl-3", UserID: u.ID, CustomerID: mustCustomer(t, db, "SY2").ID, Mode: izy.CheckoutShared, Protocol: 2}
		if err := db.CreateCheckout(ctx, shared); err != nil {
			t.Fatal(err)
		}
		if err := db.ReleaseCheckout(ctx, co.ID); err != nil {
			t.Fatal(err)
		}
		gone := mustLocation(t, db, c.ID, b, izy.LocationRoom, "Gone")
		if err := db.DeleteLocation(ctx, gone.ID, gone.Version); err != nil {
			t.Fatal(err)
		}
		p, err := db.Changes(ctx, co, co.SnapshotSeq, 100)
		if err != nil {
			t.Fatal(err)
		}
		last := p.Rows[len(p.Rows)-1]
		if !last.Deleted || last.ID != gone.ID || p.Checksum != izy.RowsChecksum(p.Rows) {
			t.Fatalf("changes end with %+v", last)
		}
		// Tombstones stay until every open checkout acknowledged them.
		if n, err := db.CollectTombstones(ctx); err != nil || n != 0 {
			t.Fatalf("collected %d (%v) before the acks", n, err)
		}
		open, err := db.ListCheckouts(ctx, "", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range open {
			if err := db.AckCheckout(ctx, o.ID, last.Seq); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.CollectTombstones(ctx); err != nil || n != 1 {
			t.Fatalf("collected %d (%v) after the acks, want 1", n, err)
		}
		st, err := db.SyncStatus(ctx)
		if err != nil || st[izy.SyncReady] != 2 {
			t.Fatalf("sync status %v %v", st, err)
		}
	})
}
