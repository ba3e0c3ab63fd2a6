package syncer_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

var update = flag.Bool("update", false, "rewrite the expected results in testdata")

// fixture makes the records the golden payloads refer to and an open checkout of them.
func fixture(t *testing.T, db *sqldb.DB) (context.Context, *syncer.Syncer, *izy.Checkout) {
	t.Helper()
	ctx := context.Background()
	u := &izy.User{Username: "insp", Role: izy.RoleInspector}
	if err := db.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	ctx = izy.NewContextWithUser(ctx, u)
	id := func(n string) string { return "01900000-0000-7000-8000-0000000000" + n }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateCustomer(ctx, &izy.Customer{ID: id("00"), Number: "G1", Name: "Golden"}))
	must(db.CreateLocation(ctx, &izy.Location{ID: id("01"), CustomerID: id("00"), Kind: izy.LocationProperty, Name: "Werk"}))
	must(db.CreateLocation(ctx, &izy.Location{ID: id("02"), CustomerID: id("00"), ParentID: ptr(id("01")), Kind: izy.LocationRoom, Name: "Labor"}))
	for _, n := range []string{"10", "12"} {
		must(db.CreateDevice(ctx, &izy.Device{ID: id(n), CustomerID: id("00"), LocationID: ptr(id("02")), InventoryID: "INV-" + n,
			Designation: "Bohrmaschine", ProtectionClass: izy.ClassI, CableLengthM: 5, IntervalMonths: 12}))
	}
	sy := syncer.New(syncstore.New(db), nil, syncer.Limits{}, nil)
	co := &izy.Checkout{ClientID: "golden-client", CustomerID: id("00"), Mode: izy.CheckoutExclusive}
	must(sy.CreateCheckout(ctx, co))
	return ctx, sy, co
}

func ptr[T any](v T) *T { return &v }

// TestGoldenPayloads converts and applies the golden payloads of every protocol version
// and compares the results with testdata/*.want.json (-update rewrites them).
func TestGoldenPayloads(t *testing.T) {
	files, _ := filepath.Glob("testdata/batch_v*.json")
	if len(files) < 2 {
		t.Fatalf("golden payloads: %v", files)
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		for _, f := range files {
			if strings.HasSuffix(f, ".want.json") {
				continue
			}
			t.Run(filepath.Base(f), func(t *testing.T) {
				ctx, sy, co := fixture(t, sqldbtest.MustOpen(t, db.Dialect()))
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				res, err := sy.Upload(ctx, co.ID, raw)
				if err != nil {
					t.Fatal(err)
				}
				again, err := sy.Upload(ctx, co.ID, raw)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := marshal(t, res), marshal(t, again); a != b {
					t.Fatalf("retry answered %s, want %s", b, a)
				}
				// The answer carries the rows the batch changed, with their new seqs (they
				// hold timestamps, so they are checked here rather than in the golden file; a
				// deleted location comes as a tombstone through the change feed).
				inRows := map[string]bool{}
				for _, r := range res.Rows {
					if r.Seq <= 0 || r.Seq > res.Seq || r.Deleted != (r.Data == nil) {
						t.Errorf("row %+v of the answer (batch seq %d)", r, res.Seq)
					}
					inRows[r.Entity+" "+r.ID] = true
				}
				for _, r := range res.Results {
					if (r.Status == izy.MutationApplied || r.Status == izy.MutationMerged) && r.Entity != "location" && !inRows[r.Entity+" "+r.EntityID] {
						t.Errorf("%s %s %s is not among the answer's rows", r.Status, r.Entity, r.EntityID)
					}
				}
				res.Seq, res.Rows = 0, nil
				for i := range res.Results {
					if res.Results[i].ConflictID != "" {
						res.Results[i].ConflictID = "CONFLICT"
					}
				}
				got := marshal(t, res)
				wantFile := strings.TrimSuffix(f, ".json") + ".want.json"
				if *update {
					if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(wantFile)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if got != string(want) {
					t.Fatalf("result of %s:\n%s\nwant\n%s", f, got, want)
				}
			})
		}
	})
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestParseBatchConvertsV1(t *testing.T) {
	raw, err := os.ReadFile("testdata/batch_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := syncer.ParseBatch(raw, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Mutations[1].Op, izy.OpTest; got != want {
		t.Fatalf("op %q, want %q", got, want)
	}
	if b.Protocol != izy.ProtocolVersion || b.Mutations[0].Fields["designation"] == nil || b.Mutations[0].Base != nil {
		t.Fatalf("converted %+v", b.Mutations[0])
	}
}
