package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func mustOpen(tb testing.TB, path string) *Replica {
	tb.Helper()
	r, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func deviceRow(id, customer, inventory string, seq int64) izy.Row {
	d := izy.Device{ID: id, CustomerID: customer, InventoryID: inventory, Designation: "Drill " + inventory,
		SerialNumber: "SN-" + inventory, ProtectionClass: izy.ClassI, CableLengthM: 5, IntervalMonths: 12, Status: izy.DeviceActive, Version: 1, Seq: seq}
	b, _ := json.Marshal(d)
	return izy.Row{Entity: "device", ID: id, Seq: seq, Data: b}
}

func page(rows []izy.Row, next string, totals map[string]int64) *izy.SyncPage {
	return &izy.SyncPage{Rows: rows, Count: len(rows), Checksum: izy.RowsChecksum(rows), Next: next, Totals: totals}
}

func addCheckout(t *testing.T, r *Replica, id, customer string, seq int64) {
	t.Helper()
	if err := r.AddCheckout(context.Background(), &izy.Checkout{ID: id, CustomerID: customer, SnapshotSeq: seq, Mode: izy.CheckoutShared}); err != nil {
		t.Fatal(err)
	}
}

var (
	cust = izy.NewID()
	coID = izy.NewID()
)

func TestSnapshotCursorAtomicWithRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	r := mustOpen(t, path)
	addCheckout(t, r, coID, cust, 10)

	d1, d2, d3 := izy.NewID(), izy.NewID(), izy.NewID()
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d1, cust, "A1", 1)}, "c1", nil)); err != nil {
		t.Fatal(err)
	}
	// A crash after writing the second page's rows and cursor but before the commit.
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := applySnapshotPage(ctx, tx, coID, page([]izy.Row{deviceRow(d2, cust, "A2", 2)}, "c2", nil)); err != nil {
		t.Fatal(err)
	}
	tx.Rollback() // the process died: nothing of the page is committed
	r.Close()

	r = mustOpen(t, path)
	cs, err := r.Checkout(ctx, coID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cs.Cursor, "c1"; got != want {
		t.Fatalf("cursor after crash = %q, want %q", got, want)
	}
	if _, err := r.Device(ctx, d2); izy.ErrorCode(err) != izy.ENOTFOUND {
		t.Fatalf("row of the uncommitted page: err %v, want not_found", err)
	}
	// Resume from c1: the page is sent again, then the last one with totals.
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d2, cust, "A2", 2)}, "c2", nil)); err != nil {
		t.Fatal(err)
	}
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d3, cust, "A3", 3)}, "", map[string]int64{"device": 3})); err != nil {
		t.Fatal(err)
	}
	cs, _ = r.Checkout(ctx, coID)
	if !cs.SnapshotDone || cs.SnapCounts["device"] != 3 {
		t.Fatalf("snapshot state %+v, want done with 3 devices", cs)
	}
	ds, err := r.Devices(ctx, DeviceFilter{CustomerID: cust})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ds), 3; got != want {
		t.Fatalf("devices = %d, want %d", got, want)
	}
}

func TestSnapshotVerifies(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 10)
	rows := []izy.Row{deviceRow(izy.NewID(), cust, "A1", 1)}
	for name, p := range map[string]*izy.SyncPage{
		"count":    {Rows: rows, Count: 2, Checksum: izy.RowsChecksum(rows)},
		"checksum": {Rows: rows, Count: 1, Checksum: "00"},
		"totals":   page(rows, "", map[string]int64{"device": 2}),
	} {
		t.Run(name, func(t *testing.T) {
			if err := r.ApplySnapshotPage(ctx, coID, p); izy.ErrorCode(err) != izy.ECONFLICT {
				t.Fatalf("err %v, want conflict", err)
			}
			cs, _ := r.Checkout(ctx, coID)
			if cs.Cursor != "" || cs.SnapshotDone {
				t.Fatalf("a refused page moved the cursor: %+v", cs)
			}
		})
	}
}

func TestChangesOnlyNewerAndTombstones(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 5)
	d1, d2 := izy.NewID(), izy.NewID()
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d1, cust, "A1", 4), deviceRow(d2, cust, "A2", 5)}, "", map[string]int64{"device": 2})); err != nil {
		t.Fatal(err)
	}
	stale := deviceRow(d1, cust, "OLD", 3)
	newer := deviceRow(d2, cust, "NEW", 7)
	tomb := izy.Row{Entity: "device", ID: d1, Seq: 8, Deleted: true}
	resurrect := deviceRow(d1, cust, "ZOMBIE", 6)
	p := &izy.SyncPage{Rows: []izy.Row{stale, newer, tomb, resurrect}, UpTo: 8}
	p.Count, p.Checksum = len(p.Rows), izy.RowsChecksum(p.Rows)
	n, err := r.ApplyChanges(ctx, coID, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, 2; got != want {
		t.Fatalf("applied %d rows, want %d", got, want)
	}
	if _, err := r.Device(ctx, d1); izy.ErrorCode(err) != izy.ENOTFOUND {
		t.Fatalf("tombstoned device: err %v, want not_found", err)
	}
	d, err := r.Device(ctx, d2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.InventoryID, "NEW"; got != want {
		t.Fatalf("inventory = %q, want %q", got, want)
	}
	cs, _ := r.Checkout(ctx, coID)
	if got, want := cs.ChangeSeq, int64(8); got != want {
		t.Fatalf("change seq = %d, want %d", got, want)
	}
}

func TestOutboxDurableAndBatchStable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	r := mustOpen(t, path)
	addCheckout(t, r, coID, cust, 0)
	var ids []string
	for i := range 5 {
		m := izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: izy.NewID()}
		ids = append(ids, m.ID)
		rec := LocalRecord{Entity: "test", ID: m.EntityID, Value: map[string]any{"id": m.EntityID, "device_id": "d", "comment": fmt.Sprint(i)}}
		if err := r.Record(ctx, Change{CheckoutID: coID, Records: []LocalRecord{rec}, Mutation: m}); err != nil {
			t.Fatal(err)
		}
	}
	b1, err := r.NextBatch(ctx, coID, 3)
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // crash after assigning the batch, before (or while) sending it

	r = mustOpen(t, path)
	b2, err := r.NextBatch(ctx, coID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if b1.ID != b2.ID || len(b2.Mutations) != 3 || b2.Mutations[0].ID != ids[0] {
		t.Fatalf("batch after reopen = %s with %d mutations, want %s with 3 starting %s", b2.ID, len(b2.Mutations), b1.ID, ids[0])
	}
	res := &izy.BatchResult{BatchID: b2.ID}
	for _, m := range b2.Mutations {
		res.Results = append(res.Results, izy.MutationResult{MutationID: m.ID, Status: izy.MutationApplied})
	}
	res.Results[1] = izy.MutationResult{MutationID: b2.Mutations[1].ID, Status: izy.MutationConflict, ConflictID: izy.NewID()}
	if err := r.CompleteBatch(ctx, coID, res); err != nil {
		t.Fatal(err)
	}
	b3, err := r.NextBatch(ctx, coID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if b3.ID == b2.ID || len(b3.Mutations) != 2 || b3.Mutations[0].ID != ids[3] {
		t.Fatalf("next batch = %+v, want a new one with the last 2 mutations", b3)
	}
	counts, _ := r.OutboxCounts(ctx, coID)
	if counts[izy.MutationApplied] != 2 || counts[izy.MutationConflict] != 1 || counts[OutboxPending] != 2 {
		t.Fatalf("outbox counts = %v", counts)
	}
	cs, _ := r.Conflicts(ctx, coID, "open")
	if len(cs) != 1 || cs[0].MutationID != ids[1] {
		t.Fatalf("conflicts = %+v, want one for mutation %s", cs, ids[1])
	}
}

func TestRecordNeedsOpenCheckout(t *testing.T) {
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	err := r.Record(context.Background(), Change{CheckoutID: izy.NewID(), Mutation: izy.Mutation{ID: izy.NewID(), Op: izy.OpTest}})
	if izy.ErrorCode(err) != izy.ECONFLICT {
		t.Fatalf("err %v, want conflict", err)
	}
	n, _ := r.OutboxCounts(context.Background(), "")
	if len(n) != 0 {
		t.Fatalf("outbox = %v, want empty", n)
	}
}
