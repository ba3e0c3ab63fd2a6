package syncer_test

import (
	"encoding/json"
	"os"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// An upload answers the rows it changed with their new seqs, and the change feed of the
// same checkout leaves those rows out (its up_to still passes them); the batch result
// stored for a retry carries the same rows.
func TestUploadAnswersRowsAndFeedSkipsEcho(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, sy, co := fixture(t, db)
		raw, err := os.ReadFile("testdata/batch_v2.json")
		if err != nil {
			t.Fatal(err)
		}
		res, err := sy.Upload(ctx, co.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range res.Rows {
			got[r.Entity+" "+r.ID] = r.Seq
		}
		dev := "01900000-0000-7000-8000-000000000010"
		test := "01900000-0000-7000-8000-000000000021"
		if got["device "+dev] == 0 || got["test "+test] == 0 || got["location 01900000-0000-7000-8000-000000000003"] == 0 {
			t.Fatalf("rows of the answer: %v; want the edited device, the test and the new location", got)
		}
		again, err := sy.Upload(ctx, co.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(res.Rows)
		b, _ := json.Marshal(again.Rows)
		if string(a) != string(b) {
			t.Fatalf("the retry answered other rows:\n%s\nwant\n%s", b, a)
		}

		p, err := sy.Changes(ctx, co.ID, co.SnapshotSeq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rows {
			if !r.Deleted && got[r.Entity+" "+r.ID] == r.Seq {
				t.Errorf("the feed sends %s %s (seq %d) back to the client that uploaded it", r.Entity, r.ID, r.Seq)
			}
		}
		if p.UpTo < res.Seq-1 || p.Count != len(p.Rows) {
			t.Fatalf("feed page up_to %d (batch seq %d), count %d of %d rows", p.UpTo, res.Seq, p.Count, len(p.Rows))
		}

	})
}

// The feed leaves echoed rows out in its query; paged with a small limit it still sends
// every other change once (online changes before and after the upload, and a row the
// upload changed that changed again online) and its last up_to passes the upload.
func TestFeedPagesAroundEcho(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, sy, excl := fixture(t, db)
		if err := sy.Release(ctx, excl.ID); err != nil {
			t.Fatal(err)
		}
		co := &izy.Checkout{ClientID: "golden-client", CustomerID: excl.CustomerID, Mode: izy.CheckoutShared}
		if err := sy.CreateCheckout(ctx, co); err != nil {
			t.Fatal(err)
		}
		before := &izy.Device{ID: "01900000-0000-7000-8000-000000000040", CustomerID: co.CustomerID, InventoryID: "INV-40",
			Designation: "Säge", ProtectionClass: izy.ClassII, IntervalMonths: 12}
		if err := db.CreateDevice(ctx, before); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile("testdata/batch_v2.json")
		if err != nil {
			t.Fatal(err)
		}
		res, err := sy.Upload(ctx, co.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		d, err := db.GetDevice(ctx, "01900000-0000-7000-8000-000000000010")
		if err != nil {
			t.Fatal(err)
		}
		d.Comment = "online"
		if err := db.UpdateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 2, 1000} {
			since, got := co.SnapshotSeq, map[string]int{}
			for range 100 {
				p, err := sy.Changes(ctx, co.ID, since, limit)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Rows {
					if !r.Deleted {
						got[r.Entity+" "+r.ID]++
					}
				}
				if p.UpTo < since {
					t.Fatalf("up_to %d went back from %d", p.UpTo, since)
				}
				since = p.UpTo
				if !p.More {
					break
				}
			}
			want := map[string]int{"device " + before.ID: 1, "device " + d.ID: 1}
			if len(got) != len(want) || got["device "+before.ID] != 1 || got["device "+d.ID] != 1 {
				t.Fatalf("limit %d: feed sent %v, want %v", limit, got, want)
			}
			if since < res.Seq {
				t.Fatalf("limit %d: last up_to %d does not pass the upload (seq %d)", limit, since, res.Seq)
			}
		}
	})
}
