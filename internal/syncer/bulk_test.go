package syncer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
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

// failingEdits lets UpdateDevices write everything and then fail, so the savepoint must
// undo it and apply must fall back to one edit at a time.
type failingEdits struct{ syncstore.Store }

type failingEditTx struct{ syncer.Tx }

func (t failingEditTx) CreateTests(ctx context.Context, tests []*izy.Test) error {
	return t.Tx.(syncer.BulkTx).CreateTests(ctx, tests)
}

func (t failingEditTx) Devices(ctx context.Context, ids []string) (map[string]*izy.Device, error) {
	return t.Tx.(syncer.DeviceReader).Devices(ctx, ids)
}

func (t failingEditTx) UpdateDevices(ctx context.Context, ds []*izy.Device) error {
	if err := t.Tx.(syncer.BulkEditTx).UpdateDevices(ctx, ds); err != nil {
		return err
	}
	return izy.Errorf(izy.EINVALID, "injected failure after the bulk update")
}

func (s failingEdits) ApplyBatch(ctx context.Context, id string, b *izy.Batch, apply func(context.Context, syncer.Tx) (*izy.BatchResult, error)) (*izy.BatchResult, error) {
	return s.Store.ApplyBatch(ctx, id, b, func(ctx context.Context, tx syncer.Tx) (*izy.BatchResult, error) {
		return apply(ctx, failingEditTx{tx})
	})
}

// editBatch mixes device edits: clean ones, a stale version that merges, a field
// conflict, an edit of a retired device (delete_edit), a stale delete, the same device
// twice in a row, an unknown device, a field that cannot be written, a duplicate
// inventory ID (the bulk update fails and the run goes one by one), and tests between
// edits of one device.
func editBatch() []byte {
	id := func(n string) string { return "01900000-0000-7000-8000-0000000000" + n }
	edit := func(mid, dev string, base int, fields, baseFields string) string {
		return fmt.Sprintf(`{"mutation_id":%q,"op":"update","entity":"device","id":%q,"base_version":%d,"fields":%s,"base":%s}`, mid, id(dev), base, fields, baseFields)
	}
	test := func(mid, tid, dev, date string) string {
		return fmt.Sprintf(`{"mutation_id":%q,"op":"test","entity":"test","id":%q,"fields":{"device_id":%q,"date":%q,"visual_ok":true,"functional_ok":true,"measurements":[{"kind":"protective_conductor_resistance","value":0.05,"unit":"Ω"},{"kind":"insulation_resistance","value":250,"unit":"MΩ"}]},"created_at":"2024-03-01T09:00:00Z"}`,
			mid, id(tid), id(dev), date)
	}
	ms := []string{
		edit("e-1", "13", 1, `{"comment":"a"}`, `{"comment":""}`),
		edit("e-2", "14", 1, `{"designation":"Säge"}`, `{"designation":"Bohrmaschine"}`),
		edit("e-3", "16", 1, `{"comment":"c"}`, `{"comment":""}`),                                        // stale version, merges
		edit("e-4", "17", 1, `{"designation":"Client"}`, `{"designation":"Bohrmaschine"}`),               // field conflict
		edit("e-5", "15", 1, `{"comment":"x"}`, `{"comment":""}`),                                        // retired: delete_edit
		edit("e-6", "13", 2, `{"comment":"b"}`, `{"comment":"a"}`),                                       // same device again
		edit("e-7", "99", 1, `{"comment":"x"}`, `{"comment":""}`),                                        // unknown
		`{"mutation_id":"e-8","op":"delete","entity":"device","id":"` + id("14") + `","base_version":1}`, // stale delete
		edit("e-9", "18", 1, `{"version":7}`, `{}`),                                                      // not writable
		edit("e-10", "18", 1, `{"comment":"d"}`, `{"comment":""}`),
		edit("e-11", "19", 1, `{"inventory_id":"INV-13"}`, `{"inventory_id":"INV-19"}`), // taken: bulk fails
		edit("e-12", "20", 1, `{"comment":"e"}`, `{"comment":""}`),
		test("e-t1", "41", "13", "2024-03-01"),
		edit("e-13", "13", 3, `{"comment":"f"}`, `{"comment":"b"}`),
		test("e-t2", "42", "20", "2024-03-02"),
		edit("e-1", "13", 1, `{"comment":"a"}`, `{"comment":""}`), // the same mutation twice
		edit("e-14", "20", 2, `{"tag":"T"}`, `{"tag":""}`),
	}
	b := `{"batch_id":"edits-1","protocol_version":2,"mutations":[`
	for i, m := range ms {
		if i > 0 {
			b += ",\n"
		}
		b += m
	}
	return []byte(b + "]}")
}

// TestBulkEditsMatchOneByOne applies the same batch of device edits with the bulk path,
// without it, with a bulk update that fails after writing and with a failing bulk
// insert of tests: outcomes, devices, the order of change seqs and the audit entries must
// be the same, and a retry answers the stored result.
func TestBulkEditsMatchOneByOne(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		id := func(n string) string { return "01900000-0000-7000-8000-0000000000" + n }
		devs := []string{"10", "12", "13", "14", "15", "16", "17", "18", "19", "20"}
		run := func(mode string) (string, string) {
			db := sqldbtest.MustOpen(t, db.Dialect())
			u := &izy.User{Username: "insp", Role: izy.RoleInspector}
			if err := db.CreateUser(context.Background(), u, ""); err != nil {
				t.Fatal(err)
			}
			ctx := izy.NewContextWithUser(context.Background(), u)
			if err := db.CreateCustomer(ctx, &izy.Customer{ID: id("00"), Number: "G1", Name: "Golden"}); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateLocation(ctx, &izy.Location{ID: id("01"), CustomerID: id("00"), Kind: izy.LocationProperty, Name: "Werk"}); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateLocation(ctx, &izy.Location{ID: id("02"), CustomerID: id("00"), ParentID: ptr(id("01")), Kind: izy.LocationRoom, Name: "Labor"}); err != nil {
				t.Fatal(err)
			}
			for _, n := range devs {
				if err := db.CreateDevice(ctx, &izy.Device{ID: id(n), CustomerID: id("00"), LocationID: ptr(id("02")), InventoryID: "INV-" + n,
					Designation: "Bohrmaschine", ProtectionClass: izy.ClassI, CableLengthM: 5, IntervalMonths: 12}); err != nil {
					t.Fatal(err)
				}
			}
			change := func(n string, f func(d *izy.Device)) {
				d, err := db.GetDevice(ctx, id(n))
				if err != nil {
					t.Fatal(err)
				}
				f(d)
				if err := db.UpdateDevice(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			change("15", func(d *izy.Device) { d.Status = izy.DeviceRetired })
			change("16", func(d *izy.Device) { d.Designation = "Server" })
			change("17", func(d *izy.Device) { d.Designation = "Server" })
			var store syncer.Store = syncstore.New(db)
			switch mode {
			case "one-by-one":
				store = oneByOne{syncstore.New(db)}
			case "failing-bulk":
				store = failingBulk{syncstore.New(db)}
			case "failing-edits":
				store = failingEdits{syncstore.New(db)}
			}
			sy := syncer.New(store, nil, syncer.Limits{}, nil)
			co := &izy.Checkout{ClientID: "edit-client", CustomerID: id("00"), Mode: izy.CheckoutExclusive}
			if err := sy.CreateCheckout(ctx, co); err != nil {
				t.Fatal(err)
			}
			raw := editBatch()
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
			type seqd struct {
				what string
				seq  int64
			}
			var seqs []seqd
			state := ""
			for _, n := range devs {
				d, err := db.GetDevice(ctx, id(n))
				if err != nil {
					t.Fatal(err)
				}
				state += fmt.Sprintf("device %s: v%d %s inv %s comment %q designation %q tag %q last %s %s due %s\n",
					n, d.Version, d.Status, d.InventoryID, d.Comment, d.Designation, d.Tag, d.LastTestDate, d.LastResult, d.NextDue)
				seqs = append(seqs, seqd{"device " + n, d.Seq})
			}
			tests, _, err := db.ListTests(ctx, izy.TestFilter{Page: izy.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range tests {
				state += fmt.Sprintf("test %s device %s date %s result %s\n", x.ID, x.DeviceID, x.Date, x.Result)
				seqs = append(seqs, seqd{"test " + x.ID, x.Seq})
			}
			sort.Slice(seqs, func(i, j int) bool { return seqs[i].seq < seqs[j].seq })
			state += "seq order:"
			for _, s := range seqs {
				state += " " + s.what
			}
			state += "\n"
			audit, _, err := db.ListAudit(ctx, izy.AuditFilter{Page: izy.Page{Limit: 500}})
			if err != nil {
				t.Fatal(err)
			}
			for k := len(audit) - 1; k >= 0; k-- {
				a := audit[k]
				if a.Entity != "device" && a.Entity != "test" {
					continue // user and checkout ids differ from run to run
				}
				var d struct {
					Version int64  `json:"version"`
					Comment string `json:"comment"`
				}
				json.Unmarshal([]byte(a.Detail), &d)
				state += fmt.Sprintf("audit %s %s %s v%d %q\n", a.Action, a.Entity, a.EntityID, d.Version, d.Comment)
			}
			return marshal(t, res.Results), state
		}
		wantResults, wantState := run("one-by-one")
		for _, mode := range []string{"bulk", "failing-bulk", "failing-edits"} {
			results, state := run(mode)
			if results != wantResults {
				t.Errorf("%s outcomes:\n%s\nwant (one by one)\n%s", mode, results, wantResults)
			}
			if state != wantState {
				t.Errorf("%s state:\n%s\nwant (one by one)\n%s", mode, state, wantState)
			}
		}
		var rs []izy.MutationResult
		json.Unmarshal([]byte(wantResults), &rs)
		count := map[string]int{}
		for _, r := range rs {
			count[r.Status]++
		}
		if count[izy.MutationMerged] < 1 || count[izy.MutationConflict] != 3 || count[izy.MutationRejected] != 3 || count[izy.MutationApplied] < 8 {
			t.Fatalf("the batch should mix outcomes: %v\n%s", count, wantResults)
		}
		t.Logf("outcomes %v\n%s", count, wantState)
	})
}
