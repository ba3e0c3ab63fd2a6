package replica

import (
	"context"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
)

// Remote is what the replica needs of the server to download and upload; the client
// package's *client.Client has these methods.
type Remote interface {
	Snapshot(ctx context.Context, checkoutID, cursor string, limit int) (*izy.SyncPage, error)
	Changes(ctx context.Context, checkoutID string, since int64, limit int) (*izy.SyncPage, error)
	Upload(ctx context.Context, checkoutID string, b *izy.Batch) (*izy.BatchResult, error)
	Ack(ctx context.Context, checkoutID string, seq int64) error
}

// Progress reports a download as it goes: pages and rows stored so far, and the totals
// once known (0 before).
type Progress struct {
	Phase string // "snapshot" or "changes"
	Pages int
	Rows  int64
	Total int64
}

// DownloadSnapshot fetches the snapshot pages of a checkout from where the last
// committed page left off, storing each page and its successor's cursor in one local
// transaction. It returns the rows stored by this call.
//
// Page n+1 is fetched while page n is stored (one page ahead, no more), so the server
// builds the next page while the client writes this one. A failed fetch ends the
// download after the pages before it are stored; the next call resumes from there.
func (r *Replica) DownloadSnapshot(ctx context.Context, rem Remote, checkoutID string, pageSize int, progress func(Progress)) (int64, error) {
	cs, err := r.Checkout(ctx, checkoutID)
	if err != nil {
		return 0, err
	}
	var rows int64
	pr := Progress{Phase: "snapshot"}
	for n := range cs.SnapCounts {
		pr.Rows += cs.SnapCounts[n]
	}
	if cs.SnapshotDone {
		return 0, nil
	}
	// During the download the replica uses a rollback journal instead of the WAL: the
	// snapshot mostly appends new pages, which a rollback journal writes once, while the
	// WAL writes every page twice (the WAL, then the checkpoint) and reads it back in
	// between (39.9 s → 28.4 s for 529k rows). Commits stay atomic and durable
	// (synchronous FULL); a crash leaves a hot journal that the next Open rolls back
	// before it returns to WAL. Another izy process waits for the page being stored.
	if _, err := r.db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err == nil {
		defer r.db.ExecContext(context.WithoutCancel(ctx), `PRAGMA journal_mode = WAL`)
	}
	ctx, cancel := context.WithCancel(ctx)
	var pages <-chan fetched
	defer func() { // stop the fetching goroutine and wait for its end
		cancel()
		for range pages {
		}
	}()
	pages = prefetch(ctx, cs.Cursor, func(cursor string) (*izy.SyncPage, string, error) {
		p, err := rem.Snapshot(ctx, checkoutID, cursor, pageSize)
		if err != nil {
			return nil, "", err
		}
		return p, p.Next, nil
	})
	for f := range pages {
		if f.err != nil {
			return rows, fmt.Errorf("download snapshot: %w", f.err)
		}
		p := f.page
		if err := r.ApplySnapshotPage(ctx, checkoutID, p); err != nil {
			return rows, fmt.Errorf("store snapshot page: %w", err)
		}
		rows += int64(len(p.Rows))
		pr.Pages++
		pr.Rows += int64(len(p.Rows))
		for _, t := range p.Totals {
			pr.Total += t
		}
		if progress != nil {
			progress(pr)
		}
	}
	return rows, nil
}

// fetched is a page, or the error that ended the fetching.
type fetched struct {
	page *izy.SyncPage
	err  error
}

// prefetch fetches pages in order from cursor in its own goroutine until fetch answers
// an empty next cursor or fails (the failure is the last item). The channel is
// unbuffered: the goroutine holds at most one page the consumer has not taken. Cancel
// ctx to stop it early; it closes the channel when it ends.
func prefetch(ctx context.Context, cursor string, fetch func(cursor string) (*izy.SyncPage, string, error)) <-chan fetched {
	ch := make(chan fetched)
	go func() {
		defer close(ch)
		for {
			p, next, err := fetch(cursor)
			select {
			case ch <- fetched{p, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || next == "" {
				return
			}
			cursor = next
		}
	}()
	return ch
}

// PullChanges applies the change feed of a checkout from its stored position until the
// server has no more, acknowledging the position reached. It returns the rows applied.
func (r *Replica) PullChanges(ctx context.Context, rem Remote, checkoutID string, pageSize int, progress func(Progress)) (int, error) {
	cs, err := r.Checkout(ctx, checkoutID)
	if err != nil {
		return 0, err
	}
	if !cs.SnapshotDone {
		return 0, izy.Errorf(izy.ECONFLICT, "the snapshot of checkout %s is incomplete; run izy checkout again to resume it", checkoutID)
	}
	since, applied := cs.ChangeSeq, 0
	pr := Progress{Phase: "changes"}
	for {
		p, err := rem.Changes(ctx, checkoutID, since, pageSize)
		if err != nil {
			return applied, fmt.Errorf("download changes: %w", err)
		}
		n, err := r.ApplyChanges(ctx, checkoutID, p)
		if err != nil {
			return applied, fmt.Errorf("store changes: %w", err)
		}
		applied += n
		pr.Pages++
		pr.Rows += int64(len(p.Rows))
		if progress != nil {
			progress(pr)
		}
		if !p.More {
			since = max(since, p.UpTo)
			break
		}
		if p.UpTo <= since {
			return applied, izy.Errorf(izy.EINTERNAL, "the change feed announced more rows but did not move past seq %d", since)
		}
		since = p.UpTo
	}
	if since > cs.AckedSeq {
		if err := rem.Ack(ctx, checkoutID, since); err != nil {
			return applied, fmt.Errorf("acknowledge changes: %w", err)
		}
	}
	return applied, nil
}

// PushResult counts the outcomes of an upload.
type PushResult struct {
	Batches  int            `json:"batches"`
	Outcomes map[string]int `json:"outcomes"` // per izy.Mutation* status
}

// PushOutbox uploads the pending mutations of a checkout in batches of at most
// batchSize. Batch n+1 goes out once the answer to batch n has arrived (so the server
// applies a checkout's batches in order) while that answer is being stored here. A crash
// in between leaves batch n unanswered locally: the next push sends it again first (the
// server answers its stored result), then batch n+1.
func (r *Replica) PushOutbox(ctx context.Context, rem Remote, checkoutID string, batchSize int) (PushResult, error) {
	res := PushResult{Outcomes: map[string]int{}}
	type answer struct {
		br  *izy.BatchResult
		err error
	}
	upload := func(b *izy.Batch) answer {
		br, err := rem.Upload(ctx, checkoutID, b)
		if err != nil {
			return answer{nil, fmt.Errorf("upload batch %s: %w", b.ID, err)}
		}
		if br.BatchID == "" {
			br.BatchID = b.ID
		}
		if br.BatchID != b.ID {
			return answer{nil, izy.Errorf(izy.EINTERNAL, "the server answered batch %s for batch %s", br.BatchID, b.ID)}
		}
		return answer{br, nil}
	}
	b, err := r.NextBatch(ctx, checkoutID, batchSize)
	if err != nil || b == nil {
		return res, err
	}
	a := upload(b)
	for {
		if a.err != nil {
			return res, a.err
		}
		next, err := r.nextBatch(ctx, checkoutID, batchSize, b.ID)
		if err != nil {
			return res, err
		}
		var ahead chan answer
		if next != nil {
			ahead = make(chan answer, 1)
			go func(nb *izy.Batch) { ahead <- upload(nb) }(next)
		}
		err = r.CompleteBatch(ctx, checkoutID, a.br)
		var na answer
		if ahead != nil {
			na = <-ahead // never leave an upload running behind the caller's back
		}
		if err != nil {
			return res, fmt.Errorf("store result of batch %s: %w", b.ID, err)
		}
		res.Batches++
		for _, mr := range a.br.Results {
			res.Outcomes[mr.Status]++
		}
		if next == nil {
			// mutations the answer did not name went back to pending: send them too
			if next, err = r.NextBatch(ctx, checkoutID, batchSize); err != nil || next == nil {
				return res, err
			}
			na = upload(next)
		}
		b, a = next, na
	}
}
