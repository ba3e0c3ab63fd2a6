package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func indexNames(t *testing.T, r *Replica) map[string]bool {
	t.Helper()
	rows, err := r.db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND name LIKE 'records_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out[n] = true
	}
	return out
}

// A snapshot into an empty replica drops the secondary indexes, inserts plainly, and
// builds the indexes with its last page; a crash in between resumes the same way.
func TestFreshSnapshotDefersIndexesAcrossCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	r := mustOpen(t, path)
	addCheckout(t, r, coID, cust, 10)
	if got := indexNames(t, r); !got["records_customer"] || !got["records_device"] {
		t.Fatalf("indexes of a new replica: %v", got)
	}
	d := []string{izy.NewID(), izy.NewID(), izy.NewID()}
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d[0], cust, "A1", 1)}, "c1", nil)); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, r); len(got) != 0 {
		t.Fatalf("indexes during a fresh snapshot: %v", got)
	}
	r.Close() // a crash (or kill -9) between pages: reopening does not rebuild them

	r = mustOpen(t, path)
	if got := indexNames(t, r); len(got) != 0 {
		t.Fatalf("indexes after reopening mid-snapshot: %v", got)
	}
	// The resumed page holds a row that exists already (as a shared instrument would):
	// the plain INSERT fails and the upsert keeps the newer copy.
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d[0], cust, "A1-NEWER", 5), deviceRow(d[1], cust, "A2", 2)}, "c2", nil)); err != nil {
		t.Fatal(err)
	}
	// The totals count rows as received: d0 came twice.
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d[2], cust, "A3", 3)}, "", map[string]int64{"device": 4})); err != nil {
		t.Fatal(err)
	}
	cs, _ := r.Checkout(ctx, coID)
	if !cs.SnapshotDone {
		t.Fatalf("snapshot not done: %+v", cs)
	}
	if got := indexNames(t, r); !got["records_customer"] || !got["records_device"] {
		t.Fatalf("indexes after the last page: %v", got)
	}
	if v, _ := r.State(ctx, "fresh_snapshot:"+coID); v != "" {
		t.Fatalf("fresh marker left: %q", v)
	}
	dev, err := r.Device(ctx, d[0])
	if err != nil || dev.InventoryID != "A1-NEWER" {
		t.Fatalf("device %+v, %v; want the newer copy", dev, err)
	}
	ds, err := r.Devices(ctx, DeviceFilter{CustomerID: cust, Query: "a2"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("search after the snapshot: %v, %v", ds, err)
	}
}

// A snapshot into a replica that holds records already keeps the indexes and upserts.
func TestSnapshotIntoNonEmptyReplicaKeepsIndexes(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	other, otherCo := izy.NewID(), izy.NewID()
	addCheckout(t, r, otherCo, other, 1)
	if err := r.ApplySnapshotPage(ctx, otherCo, page([]izy.Row{deviceRow(izy.NewID(), other, "O1", 1)}, "", map[string]int64{"device": 1})); err != nil {
		t.Fatal(err)
	}
	addCheckout(t, r, coID, cust, 10)
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(izy.NewID(), cust, "A1", 2)}, "c1", nil)); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, r); !got["records_customer"] || !got["records_device"] {
		t.Fatalf("indexes dropped although the replica held records: %v", got)
	}
	if v, _ := r.State(ctx, "fresh_snapshot:"+coID); v != "" {
		t.Fatal("a snapshot into a non-empty replica counts as fresh")
	}
	// Releasing the first checkout drops only its customer's rows.
	if err := r.ReleaseCheckout(ctx, otherCo); err != nil {
		t.Fatal(err)
	}
	counts, _ := r.Counts(ctx)
	if counts["device"] != 1 {
		t.Fatalf("devices after releasing the other customer: %v", counts)
	}
}

// Releasing the last open checkout clears the records at once, and keeps the outbox.
func TestReleaseLastCheckoutKeepsOutbox(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 1)
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(izy.NewID(), cust, "A1", 1)}, "", map[string]int64{"device": 1})); err != nil {
		t.Fatal(err)
	}
	m := izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: izy.NewID()}
	if err := r.Record(ctx, Change{CheckoutID: coID, Mutation: m}); err != nil {
		t.Fatal(err)
	}
	if err := r.ReleaseCheckout(ctx, coID); err != nil {
		t.Fatal(err)
	}
	counts, _ := r.Counts(ctx)
	if len(counts) != 0 {
		t.Fatalf("records after release: %v", counts)
	}
	out, err := r.Outbox(ctx, coID, OutboxPending)
	if err != nil || len(out) != 1 || out[0].Mutation.ID != m.ID {
		t.Fatalf("outbox after release: %+v, %v", out, err)
	}
}

// A page whose bytes changed on the way fails its checksum, which the replica computes
// over the bytes received, and is not stored.
func TestTamperedPageRejected(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 10)
	p := page([]izy.Row{deviceRow(izy.NewID(), cust, "A1", 1), deviceRow(izy.NewID(), cust, "A2", 2)}, "", map[string]int64{"device": 2})
	p.Seal()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(b, []byte(`"Drill A2"`), []byte(`"Drill A3"`), 1)
	got, err := izy.DecodeSyncPage(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ApplySnapshotPage(ctx, coID, got); izy.ErrorCode(err) != izy.ECONFLICT {
		t.Fatalf("tampered page: err %v, want conflict", err)
	}
	good, err := izy.DecodeSyncPage(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ApplySnapshotPage(ctx, coID, good); err != nil {
		t.Fatal(err)
	}
}

// gatedRemote serves pages of a fakeRemote and records how far fetching ran ahead of
// storing.
type gatedRemote struct {
	*fakeRemote
	r        *Replica
	fetched  atomic.Int64
	maxAhead atomic.Int64
}

func (g *gatedRemote) Snapshot(ctx context.Context, id, cursor string, limit int) (*izy.SyncPage, error) {
	p, err := g.fakeRemote.Snapshot(ctx, id, cursor, limit)
	if err != nil {
		return nil, err
	}
	n := g.fetched.Add(1)
	cs, _ := g.r.Checkout(ctx, id)
	stored := int64(0)
	for _, c := range cs.SnapCounts {
		stored += c
	}
	if ahead := n - stored/int64(limit); ahead > g.maxAhead.Load() {
		g.maxAhead.Store(ahead)
	}
	return p, nil
}

// The download fetches one page ahead at most; a connection cut while a page is being
// stored ends it after that page, and the resume starts right after it.
func TestPrefetchCutConnection(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 100)
	f := &fakeRemote{failAt: 6, served: map[string]int{}, batches: map[string]*izy.BatchResult{}}
	for i := range 95 {
		f.rows = append(f.rows, deviceRow(izy.NewID(), cust, "D"+strconv.Itoa(i), int64(i+1)))
	}
	g := &gatedRemote{fakeRemote: f, r: r}
	n, err := r.DownloadSnapshot(ctx, g, coID, 10, nil)
	if err == nil || !strings.Contains(err.Error(), "connection cut") {
		t.Fatalf("download through a cut connection: %v", err)
	}
	if n != 50 {
		t.Fatalf("stored %d rows before the cut, want the 5 pages fetched before it (50)", n)
	}
	cs, _ := r.Checkout(ctx, coID)
	if cs.Cursor != "50" {
		t.Fatalf("cursor after the cut = %q, want 50", cs.Cursor)
	}
	n, err = r.DownloadSnapshot(ctx, g, coID, 10, nil)
	if err != nil || n != 45 {
		t.Fatalf("resume: %d rows, %v; want 45", n, err)
	}
	for cursor, times := range f.served {
		if times > 1 {
			t.Fatalf("page %q served %d times", cursor, times)
		}
	}
	if a := g.maxAhead.Load(); a > 2 {
		t.Fatalf("fetching ran %d pages ahead of storing, want at most 2 (one stored, one waiting)", a)
	}
	counts, _ := r.Counts(ctx)
	if counts["device"] != 95 {
		t.Fatalf("devices = %v", counts)
	}
	// The download used a rollback journal; the replica is back in WAL mode.
	var mode string
	if err := r.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode after the download: %q, %v", mode, err)
	}
}

// A batch answer's rows replace the local copies (seq and data, no longer local), so the
// change feed need not send them back.
func TestCompleteBatchStoresAnsweredRows(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 1)
	d := izy.NewID()
	if err := r.ApplySnapshotPage(ctx, coID, page([]izy.Row{deviceRow(d, cust, "A1", 1)}, "", map[string]int64{"device": 1})); err != nil {
		t.Fatal(err)
	}
	m := izy.Mutation{ID: izy.NewID(), Op: izy.OpUpdate, Entity: "device", EntityID: d}
	local := izy.Device{ID: d, CustomerID: cust, InventoryID: "A1", Comment: "offline"}
	if err := r.Record(ctx, Change{CheckoutID: coID, Records: []LocalRecord{{Entity: "device", ID: d, Value: local}}, Mutation: m}); err != nil {
		t.Fatal(err)
	}
	b, err := r.NextBatch(ctx, coID, 10)
	if err != nil {
		t.Fatal(err)
	}
	server := deviceRow(d, cust, "A1-SERVER", 42)
	res := &izy.BatchResult{BatchID: b.ID, Seq: 42, Rows: izy.Rows{server},
		Results: []izy.MutationResult{{MutationID: m.ID, Status: izy.MutationApplied, Entity: "device", EntityID: d, Version: 2}}}
	// Through JSON, as it comes from the server.
	raw, _ := json.Marshal(res)
	var got izy.BatchResult
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if err := r.CompleteBatch(ctx, coID, &got); err != nil {
		t.Fatal(err)
	}
	rec, err := r.Get(ctx, "device", d)
	if err != nil || rec.Local || rec.Seq != 42 {
		t.Fatalf("device after the answer: %+v, %v; want seq 42, not local", rec, err)
	}
	dev, _ := r.Device(ctx, d)
	if dev.InventoryID != "A1-SERVER" {
		t.Fatalf("device data %+v, want the server's", dev)
	}
}
