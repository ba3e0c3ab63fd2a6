package syncer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

// oneByOne hides the BulkTx of the store's transactions: apply stores tests one at a time.
type oneByOne struct{ syncstore.Store }

type plainTx struct{ syncer.Tx }

func (s oneByOne) ApplyBatch(ctx context.Context, id string, b *izy.Batch, apply func(context.Context, syncer.Tx) (*izy.BatchResult, error)) (*izy.BatchResult, error) {
	return s.Store.ApplyBatch(ctx, id, b, func(ctx context.Context, tx syncer.Tx) (*izy.BatchResult, error) {
		return apply(ctx, plainTx{tx})
	})
}

// failingBulk lets CreateTests write everything and then fail, so the savepoint must undo
// it and apply must fall back to one test at a time.
type failingBulk struct{ syncstore.Store }

type failingTx struct{ syncer.Tx }

func (t failingTx) CreateTests(ctx context.Context, tests []*izy.Test) error {
	if err := t.Tx.(syncer.BulkTx).CreateTests(ctx, tests); err != nil {
		return err
	}
	return izy.Errorf(izy.EINVALID, "injected failure after the bulk insert")
}

func (s failingBulk) ApplyBatch(ctx context.Context, id string, b *izy.Batch, apply func(context.Context, syncer.Tx) (*izy.BatchResult, error)) (*izy.BatchResult, error) {
	return s.Store.ApplyBatch(ctx, id, b, func(ctx context.Context, tx syncer.Tx) (*izy.BatchResult, error) {
		return apply(ctx, failingTx{tx})
	})
}

// mixedBatch holds, in one batch, runs of tests around edits: applied and rejected tests,
// the same test twice, the same mutation twice, an older and a newer test of one device,
// a field conflict and a merged edit.
func mixedBatch() []byte {
	id := func(n string) string { return "01900000-0000-7000-8000-0000000000" + n }
	test := func(mid, tid, dev, date string, extra string) string {
		return fmt.Sprintf(`{"mutation_id":%q,"op":"test","entity":"test","id":%q,"fields":{"device_id":%q,"date":%q,"visual_ok":true,"functional_ok":true%s,"measurements":[{"kind":"protective_conductor_resistance","value":0.05,"unit":"Ω"},{"kind":"insulation_resistance","value":250,"unit":"MΩ"}]},"created_at":"2024-03-01T09:00:00Z"}`,
			mid, tid, dev, date, extra)
	}
	ms := []string{
		`{"mutation_id":"b-m1","op":"update","entity":"device","id":"` + id("10") + `","base_version":1,"fields":{"designation":"Bohrmaschine 2"},"base":{"designation":"Bohrmaschine"}}`,
		test("b-t1", id("31"), id("10"), "2024-03-01", ""),
		test("b-t2", id("32"), id("12"), "2024-03-01", ""),
		test("b-t3", id("31"), id("10"), "2024-03-01", ""), // same test again
		test("b-t4", id("34"), id("99"), "2024-03-01", ""), // unknown device
		`{"mutation_id":"b-t5","op":"test","entity":"test","id":"` + id("35") + `","fields":{"device_id":"` + id("10") + `","measurements":[]}}`, // no visual_ok
		test("b-t6", id("36"), id("10"), "2024-02-01", ""),                                // older: device keeps 03-01
		test("b-t7", id("37"), id("10"), "2024-03-05", ""),                                // newer: device moves
		test("b-t9", id("39"), id("12"), "2024-03-02", `,"instrument_id":"`+id("98")+`"`), // unknown instrument
		`{"mutation_id":"b-m2","op":"update","entity":"device","id":"` + id("12") + `","base_version":0,"fields":{"designation":"Neu"},"base":{"designation":"Alt"}}`,
		`{"mutation_id":"b-m3","op":"update","entity":"device","id":"` + id("12") + `","base_version":0,"fields":{"comment":"geprüft"},"base":{"comment":""}}`,
		test("b-t2", id("32"), id("12"), "2024-03-01", ""), // the same mutation twice
		test("b-t8", id("38"), id("12"), "2024-03-03", ""),
	}
	b := `{"batch_id":"bulk-1","protocol_version":2,"mutations":[`
	for i, m := range ms {
		if i > 0 {
			b += ",\n"
		}
		b += m
	}
	return []byte(b + "]}")
}

// TestBulkTestsMatchOneByOne applies the same mixed batch with the bulk path, without
// it, and with a bulk insert that fails after writing: outcomes, tests, measurements and
// the devices' last tests must be the same, and a retry answers the stored result.
func TestBulkTestsMatchOneByOne(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		type outcome struct {
			results string
			state   string
		}
		run := func(mode string) outcome {
			db := sqldbtest.MustOpen(t, db.Dialect())
			ctx, _, co := fixture(t, db)
			var store syncer.Store = syncstore.New(db)
			switch mode {
			case "one-by-one":
				store = oneByOne{syncstore.New(db)}
			case "failing-bulk":
				store = failingBulk{syncstore.New(db)}
			}
			sy := syncer.New(store, nil, syncer.Limits{}, nil)
			raw := mixedBatch()
			res, err := sy.Upload(ctx, co.ID, raw)
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			again, err := sy.Upload(ctx, co.ID, raw)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := marshal(t, res.Results), marshal(t, again.Results); a != b {
				t.Fatalf("%s: retry answered %s, want %s", mode, b, a)
			}
			for i := range res.Results {
				if res.Results[i].ConflictID != "" {
					res.Results[i].ConflictID = "C"
				}
			}
			state := ""
			for _, n := range []string{"10", "12"} {
				d, err := db.GetDevice(ctx, "01900000-0000-7000-8000-0000000000"+n)
				if err != nil {
					t.Fatal(err)
				}
				state += fmt.Sprintf("device %s: last %s %s due %s version %d comment %q designation %q\n", n, d.LastTestDate, d.LastResult, d.NextDue, d.Version, d.Comment, d.Designation)
			}
			tests, _, err := db.ListTests(ctx, izy.TestFilter{Page: izy.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range tests {
				ms, _ := json.Marshal(x.Measurements)
				state += fmt.Sprintf("test %s device %s date %s result %s due %s inspector %v: %s\n", x.ID, x.DeviceID, x.Date, x.Result, x.NextDue, x.InspectorID != "", ms)
			}
			return outcome{marshal(t, res.Results), state}
		}
		want := run("one-by-one")
		for _, mode := range []string{"bulk", "failing-bulk"} {
			got := run(mode)
			if got.results != want.results {
				t.Errorf("%s outcomes:\n%s\nwant (one by one)\n%s", mode, got.results, want.results)
			}
			if got.state != want.state {
				t.Errorf("%s state:\n%s\nwant (one by one)\n%s", mode, got.state, want.state)
			}
		}
		var rs []izy.MutationResult
		json.Unmarshal([]byte(want.results), &rs)
		count := map[string]int{}
		for _, r := range rs {
			count[r.Status]++
		}
		if count[izy.MutationApplied] < 6 || count[izy.MutationRejected] != 3 || count[izy.MutationConflict] != 1 || count[izy.MutationMerged]+count[izy.MutationApplied] < 8 {
			t.Fatalf("the batch should mix outcomes: %v\n%s", count, want.results)
		}
		t.Logf("outcomes %v", count)
	})
}

// BenchmarkUploadTests applies a batch of 500 tests (6 measurements each, one device each)
// and 100 device edits on SQLite, with and without the bulk path:
//
//	go test ./internal/syncer -run '^$' -bench UploadTests -benchtime 5x
func BenchmarkUploadTests(b *testing.B) {
	for _, mode := range []string{"bulk", "one-by-one"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db := sqldbtest.MustOpen(b, "sqlite")
			u := &izy.User{Username: "insp", Role: izy.RoleInspector}
			if err := db.CreateUser(ctx, u, ""); err != nil {
				b.Fatal(err)
			}
			ctx = izy.NewContextWithUser(ctx, u)
			cust := izy.NewID()
			if err := db.CreateCustomer(ctx, &izy.Customer{ID: cust, Number: "B1", Name: "Bench"}); err != nil {
				b.Fatal(err)
			}
			devs := make([]string, 600)
			for i := range devs {
				devs[i] = izy.NewID()
				if err := db.CreateDevice(ctx, &izy.Device{ID: devs[i], CustomerID: cust, InventoryID: fmt.Sprint("INV-", i),
					Designation: "Bohrmaschine", ProtectionClass: izy.ClassI, CableLengthM: 5, IntervalMonths: 12}); err != nil {
					b.Fatal(err)
				}
			}
			var store syncer.Store = syncstore.New(db)
			if mode == "one-by-one" {
				store = oneByOne{syncstore.New(db)}
			}
			sy := syncer.New(store, nil, syncer.Limits{}, nil)
			co := &izy.Checkout{ClientID: "bench", CustomerID: cust}
			if err := sy.CreateCheckout(ctx, co); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				var sb strings.Builder
				fmt.Fprintf(&sb, `{"batch_id":"b%d","protocol_version":2,"mutations":[`, n)
				for i := range 500 {
					fmt.Fprintf(&sb, `{"mutation_id":%q,"op":"test","entity":"test","id":%q,"fields":{"device_id":%q,"date":"2026-11-24","visual_ok":true,"functional_ok":true,"measurements":[`+
						`{"kind":"protective_conductor_resistance","value":0.08,"unit":"Ω"},{"kind":"protective_conductor_resistance","value":0.09,"unit":"Ω"},`+
						`{"kind":"insulation_resistance","value":250,"unit":"MΩ"},{"kind":"protective_conductor_current","value":0.2,"unit":"mA"},`+
						`{"kind":"touch_current","value":0.05,"unit":"mA"},{"kind":"equivalent_leakage_current","value":0.4,"unit":"mA"}]}},`,
						izy.NewID(), izy.NewID(), devs[i])
				}
				for i := range 100 {
					if i > 0 {
						sb.WriteString(",")
					}
					base := ""
					if n > 0 {
						base = fmt.Sprintf("edit %d %d", n-1, i)
					}
					fmt.Fprintf(&sb, `{"mutation_id":%q,"op":"update","entity":"device","id":%q,"base_version":0,"fields":{"comment":"edit %d %d"},"base":{"comment":%q}}`,
						izy.NewID(), devs[500+i], n, i, base)
				}
				res, err := sy.Upload(ctx, co.ID, []byte(sb.String()+"]}"))
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res.Results {
					if r.Status != izy.MutationApplied && r.Status != izy.MutationMerged {
						b.Fatalf("%+v", r)
					}
				}
			}
		})
	}
}

// Batches that arrive twice or out of order: each is applied once, a mutation that comes
// in two batches is applied once (the later batch answers its stored outcome), and a
// retry answers exactly the stored result.
func TestDuplicatedAndReorderedBatches(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, sy, co := fixture(t, db)
		id := func(n string) string { return "01900000-0000-7000-8000-0000000000" + n }
		test := func(mid, tid, dev string) string {
			return fmt.Sprintf(`{"mutation_id":%q,"op":"test","entity":"test","id":%q,"fields":{"device_id":%q,"date":"2024-03-01","visual_ok":true,"functional_ok":true,"measurements":[{"kind":"protective_conductor_resistance","value":0.05,"unit":"Ω"}]}}`, mid, tid, dev)
		}
		b1 := []byte(`{"batch_id":"r-1","protocol_version":2,"mutations":[` + test("r-t1", id("51"), id("10")) + "," + test("r-t2", id("52"), id("12")) + `]}`)
		b2 := []byte(`{"batch_id":"r-2","protocol_version":2,"mutations":[` + test("r-t3", id("53"), id("10")) + "," + test("r-t1", id("51"), id("10")) + `]}`)
		answers := map[string]string{}
		for _, raw := range [][]byte{b2, b1, b2, b1, b1} {
			res, err := sy.Upload(ctx, co.ID, raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Results {
				if r.Status != izy.MutationApplied {
					t.Fatalf("batch %s: %+v", res.BatchID, r)
				}
			}
			got := marshal(t, res.Results)
			if want, ok := answers[res.BatchID]; ok && got != want {
				t.Fatalf("batch %s answered %s again, first %s", res.BatchID, got, want)
			}
			answers[res.BatchID] = got
		}
		tests, _, err := db.ListTests(ctx, izy.TestFilter{Page: izy.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(tests) != 3 {
			t.Fatalf("%d tests stored, want 3 (none twice)", len(tests))
		}
		for _, x := range tests {
			if len(x.Measurements) != 1 {
				t.Fatalf("test %s has %d measurements, want 1", x.ID, len(x.Measurements))
			}
		}
	})
}
