package replica

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

// fakeRemote serves a fixed snapshot in pages and records uploads; failAt makes the
// n-th snapshot call fail, as a cut connection does.
type fakeRemote struct {
	rows      []izy.Row
	changes   []izy.Row
	calls     int
	failAt    int
	served    map[string]int // cursor → times served
	batches   map[string]*izy.BatchResult
	uploads   int
	acked     int64
	failFirst bool // the first upload is applied but its answer is lost
	failCall  int  // the failCall-th Upload call (1-based) is applied but its answer is lost
	upCalls   int
	applied   []string // batch IDs in the order the server applied them
}

func (f *fakeRemote) Snapshot(ctx context.Context, id, cursor string, limit int) (*izy.SyncPage, error) {
	f.calls++
	if f.calls == f.failAt {
		return nil, errors.New("connection cut")
	}
	f.served[cursor]++
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	end := min(start+limit, len(f.rows))
	p := page(f.rows[start:end], "", nil)
	if end < len(f.rows) {
		p.Next = strconv.Itoa(end)
	} else {
		p.Totals = map[string]int64{"device": int64(len(f.rows))}
	}
	return p, nil
}

func (f *fakeRemote) Changes(ctx context.Context, id string, since int64, limit int) (*izy.SyncPage, error) {
	var rows []izy.Row
	upTo := since
	for _, r := range f.changes {
		if r.Seq > since && len(rows) < limit {
			rows = append(rows, r)
			upTo = r.Seq
		}
	}
	p := &izy.SyncPage{Rows: rows, Count: len(rows), Checksum: izy.RowsChecksum(rows), UpTo: upTo}
	p.More = len(rows) == limit && rows[len(rows)-1].Seq < f.changes[len(f.changes)-1].Seq
	return p, nil
}

func (f *fakeRemote) Upload(ctx context.Context, id string, b *izy.Batch) (*izy.BatchResult, error) {
	f.upCalls++
	if res, ok := f.batches[b.ID]; ok {
		return res, nil // idempotent: the stored answer
	}
	f.uploads++
	f.applied = append(f.applied, b.ID)
	res := &izy.BatchResult{BatchID: b.ID}
	for _, m := range b.Mutations {
		res.Results = append(res.Results, izy.MutationResult{MutationID: m.ID, Status: izy.MutationApplied, Entity: m.Entity, EntityID: m.EntityID})
	}
	f.batches[b.ID] = res
	if f.failFirst || f.upCalls == f.failCall {
		f.failFirst = false
		return nil, errors.New("answer lost")
	}
	return res, nil
}

func (f *fakeRemote) Ack(ctx context.Context, id string, seq int64) error { f.acked = seq; return nil }

func TestDownloadResumesAtMostOnePage(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 100)
	f := &fakeRemote{failAt: 4, served: map[string]int{}, batches: map[string]*izy.BatchResult{}}
	for i := range 95 {
		f.rows = append(f.rows, deviceRow(izy.NewID(), cust, "D"+strconv.Itoa(i), int64(i+1)))
	}
	if _, err := r.DownloadSnapshot(ctx, f, coID, 10, nil); err == nil {
		t.Fatal("download through a cut connection: no error")
	}
	n, err := r.DownloadSnapshot(ctx, f, coID, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, int64(95-30); got != want {
		t.Fatalf("rows after resume = %d, want %d", got, want)
	}
	for cursor, times := range f.served {
		if times > 1 {
			t.Fatalf("page %q served %d times", cursor, times)
		}
	}
	f.changes = []izy.Row{deviceRow(f.rows[0].ID, cust, "CHANGED", 101), {Entity: "device", ID: f.rows[1].ID, Seq: 102, Deleted: true}, deviceRow(f.rows[2].ID, cust, "X", 103)}
	applied, err := r.PullChanges(ctx, f, coID, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if applied != 3 || f.acked != 103 {
		t.Fatalf("applied %d, acked %d; want 3, 103", applied, f.acked)
	}
	counts, _ := r.Counts(ctx)
	if got, want := counts["device"], int64(94); got != want {
		t.Fatalf("devices = %d, want %d", got, want)
	}
}

func TestPushRetriesTheSameBatch(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
	addCheckout(t, r, coID, cust, 0)
	for range 7 {
		m := izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: izy.NewID()}
		if err := r.Record(ctx, Change{CheckoutID: coID, Mutation: m}); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeRemote{batches: map[string]*izy.BatchResult{}, failFirst: true}
	if _, err := r.PushOutbox(ctx, f, coID, 3); err == nil {
		t.Fatal("push with a lost answer: no error")
	}
	res, err := r.PushOutbox(ctx, f, coID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if f.uploads != 3 || res.Batches != 3 || res.Outcomes[izy.MutationApplied] != 7 {
		t.Fatalf("server applied %d batches, push %+v; want 3 batches, 7 applied, none twice", f.uploads, res)
	}
	counts, _ := r.OutboxCounts(ctx, coID)
	if counts[OutboxPending] != 0 || counts[izy.MutationApplied] != 7 {
		t.Fatalf("outbox = %v", counts)
	}
}

// The push sends batch n+1 while it stores the answer to batch n. A connection cut on a
// batch sent ahead (applied, answer lost) leaves that batch unanswered here; the next push
// sends it again with the same ID, and the server applied every batch once, in the order
// the client made them.
func TestPipelinedPushCutAndRetry(t *testing.T) {
	for _, cut := range []int{1, 2, 3, 4} {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			ctx := context.Background()
			r := mustOpen(t, filepath.Join(t.TempDir(), "replica.db"))
			addCheckout(t, r, coID, cust, 0)
			for range 10 {
				m := izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: izy.NewID()}
				if err := r.Record(ctx, Change{CheckoutID: coID, Mutation: m}); err != nil {
					t.Fatal(err)
				}
			}
			f := &fakeRemote{batches: map[string]*izy.BatchResult{}, failCall: cut}
			first, err := r.PushOutbox(ctx, f, coID, 3)
			if err == nil {
				t.Fatal("push with a lost answer: no error")
			}
			if first.Batches != cut-1 {
				t.Fatalf("first push stored %d answers, want %d (those before the cut)", first.Batches, cut-1)
			}
			again, err := r.PushOutbox(ctx, f, coID, 3)
			if err != nil {
				t.Fatal(err)
			}
			if f.uploads != 4 || len(f.applied) != 4 || first.Batches+again.Batches != 4 || first.Outcomes[izy.MutationApplied]+again.Outcomes[izy.MutationApplied] != 10 {
				t.Fatalf("server applied %d batches (%v), pushes %+v %+v; want 4 batches, 10 applied, none twice", f.uploads, f.applied, first, again)
			}
			rows, err := r.db.QueryContext(ctx, "SELECT id FROM batches WHERE checkout_id = ? ORDER BY rowid", coID)
			if err != nil {
				t.Fatal(err)
			}
			var made []string
			for rows.Next() {
				var id string
				rows.Scan(&id)
				made = append(made, id)
			}
			rows.Close()
			for i := range made {
				if i >= len(f.applied) || made[i] != f.applied[i] {
					t.Fatalf("server applied batches %v, client made them %v", f.applied, made)
				}
			}
			counts, _ := r.OutboxCounts(ctx, coID)
			if counts[OutboxPending] != 0 || counts[izy.MutationApplied] != 10 {
				t.Fatalf("outbox = %v", counts)
			}
		})
	}
}
