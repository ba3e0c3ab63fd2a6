package replica

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// CheckoutState is a checkout as the client tracks it: the server's view plus how far
// the download got.
type CheckoutState struct {
	izy.Checkout
	Cursor       string           `json:"cursor"`        // the next snapshot page; "" before the first
	SnapshotDone bool             `json:"snapshot_done"` // every snapshot page is stored
	SnapCounts   map[string]int64 `json:"snapshot_counts"`
	ChangeSeq    int64            `json:"change_seq"` // every change up to here is applied
	Released     bool             `json:"released"`
	LastSync     string           `json:"last_sync"` // RFC 3339, "" before the first sync
}

// AddCheckout records a checkout the server opened; its change feed starts at the
// snapshot's seq. Adding it again only refreshes the server's view.
func (r *Replica) AddCheckout(ctx context.Context, co *izy.Checkout) error {
	data, err := json.Marshal(co)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO checkouts (id, data, change_seq) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`, co.ID, string(data), co.SnapshotSeq)
	if err != nil {
		return fmt.Errorf("store checkout %s: %w", co.ID, err)
	}
	return nil
}

const checkoutColumns = `data, cursor, snapshot_done, snap_counts, change_seq, released, last_sync`

func scanCheckout(sc interface{ Scan(...any) error }) (*CheckoutState, error) {
	var cs CheckoutState
	var data, counts string
	if err := sc.Scan(&data, &cs.Cursor, &cs.SnapshotDone, &counts, &cs.ChangeSeq, &cs.Released, &cs.LastSync); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(data), &cs.Checkout); err != nil {
		return nil, fmt.Errorf("decode checkout: %w", err)
	}
	if err := json.Unmarshal([]byte(counts), &cs.SnapCounts); err != nil {
		return nil, fmt.Errorf("decode checkout counts: %w", err)
	}
	return &cs, nil
}

// Checkout returns a checkout's state; ENOTFOUND when the replica does not know it.
func (r *Replica) Checkout(ctx context.Context, id string) (*CheckoutState, error) {
	cs, err := scanCheckout(r.db.QueryRowContext(ctx, `SELECT `+checkoutColumns+` FROM checkouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, izy.Errorf(izy.ENOTFOUND, "checkout %s is not known to this client; see izy status", id)
	}
	return cs, err
}

// Checkouts returns the checkouts the client holds (released ones too when all is set),
// oldest first.
func (r *Replica) Checkouts(ctx context.Context, all bool) ([]CheckoutState, error) {
	q := `SELECT ` + checkoutColumns + ` FROM checkouts`
	if !all {
		q += ` WHERE released = 0`
	}
	rows, err := r.db.QueryContext(ctx, q+` ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []CheckoutState{}
	for rows.Next() {
		cs, err := scanCheckout(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *cs)
	}
	return out, rows.Err()
}

// ApplySnapshotPage verifies a snapshot page (count and checksum), then stores its rows
// and the cursor of the next page in one transaction, so that a resume repeats at most
// this page. On the last page (Next "") it checks the snapshot's totals against the rows
// counted over all pages and marks the snapshot done.
func (r *Replica) ApplySnapshotPage(ctx context.Context, checkoutID string, p *izy.SyncPage) error {
	if err := VerifyPage(p); err != nil {
		return err
	}
	return r.tx(ctx, func(tx *sql.Tx) error { return applySnapshotPage(ctx, tx, checkoutID, p) })
}

func applySnapshotPage(ctx context.Context, tx *sql.Tx, checkoutID string, p *izy.SyncPage) error {
	var counts, cursor string
	var done bool
	err := tx.QueryRowContext(ctx, `SELECT snap_counts, snapshot_done, cursor FROM checkouts WHERE id = ?`, checkoutID).Scan(&counts, &done, &cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return izy.Errorf(izy.ENOTFOUND, "checkout %s is not known to this client", checkoutID)
	}
	if err != nil {
		return err
	}
	if done {
		return izy.Errorf(izy.ECONFLICT, "the snapshot of checkout %s is complete already", checkoutID)
	}
	m := map[string]int64{}
	if err := json.Unmarshal([]byte(counts), &m); err != nil {
		return err
	}
	fresh, err := freshSnapshot(ctx, tx, checkoutID, cursor == "" && len(m) == 0)
	if err != nil {
		return err
	}
	w, err := newRowWriter(ctx, tx, fresh)
	if err != nil {
		return err
	}
	defer w.Close()
	for _, row := range p.Rows {
		if _, err := w.apply(ctx, row); err != nil {
			return err
		}
		m[row.Entity]++
	}
	last := p.Next == ""
	if last {
		for entity, want := range p.Totals {
			if got := m[entity]; got != want {
				return izy.Errorf(izy.ECONFLICT, "snapshot incomplete: %d %s rows received, the server counts %d; run izy checkout again to resume", got, entity, want)
			}
		}
		for entity, got := range m {
			if p.Totals != nil && p.Totals[entity] != got {
				return izy.Errorf(izy.ECONFLICT, "snapshot mismatch: %d %s rows received, the server counts %d", got, entity, p.Totals[entity])
			}
		}
		if fresh {
			if err := endFreshSnapshot(ctx, tx, checkoutID); err != nil {
				return err
			}
		}
	}
	b, _ := json.Marshal(m)
	_, err = tx.ExecContext(ctx, `UPDATE checkouts SET cursor = ?, snap_counts = ?, snapshot_done = ? WHERE id = ?`, p.Next, string(b), last, checkoutID)
	return err
}

// freshSnapshot reports whether the snapshot of checkoutID is a fresh one: its first
// page went into a replica without any record. The first page decides (first) and, if
// so, drops the secondary indexes and notes it in the state table, all in the page's
// transaction, so a resume after a crash goes on the same way.
func freshSnapshot(ctx context.Context, tx *sql.Tx, checkoutID string, first bool) (bool, error) {
	key := "fresh_snapshot:" + checkoutID
	if !first {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM state WHERE key = ?`, key).Scan(&n)
		return n > 0, err
	}
	var empty bool
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM records)`).Scan(&empty); err != nil || !empty {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, dropIndexes); err != nil {
		return false, fmt.Errorf("drop indexes for a fresh snapshot: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO state (key, value) VALUES (?, '1')`, key)
	return true, err
}

// endFreshSnapshot ends a fresh snapshot: the secondary indexes are built once, over
// every row, unless another fresh snapshot is still under way.
func endFreshSnapshot(ctx context.Context, tx *sql.Tx, checkoutID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM state WHERE key = ?`, "fresh_snapshot:"+checkoutID); err != nil {
		return err
	}
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM state WHERE key LIKE 'fresh_snapshot:%'`).Scan(&others); err != nil || others > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, indexSchema); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	return nil
}

// VerifyPage checks a page's count and checksum against its rows.
func VerifyPage(p *izy.SyncPage) error {
	if p.Count != len(p.Rows) {
		return izy.Errorf(izy.ECONFLICT, "page incomplete: %d rows, the server counts %d", len(p.Rows), p.Count)
	}
	if got := p.ReceivedChecksum(); got != p.Checksum {
		return izy.Errorf(izy.ECONFLICT, "page checksum %s differs from the server's %s", got, p.Checksum)
	}
	return nil
}

// ApplyChanges verifies a change page and applies each row whose seq is newer than the
// local copy's, then moves the checkout's change position to the page's UpTo, all in one
// transaction. It returns how many rows it applied.
func (r *Replica) ApplyChanges(ctx context.Context, checkoutID string, p *izy.SyncPage) (int, error) {
	if err := VerifyPage(p); err != nil {
		return 0, err
	}
	n := 0
	err := r.tx(ctx, func(tx *sql.Tx) error {
		var since int64
		if err := tx.QueryRowContext(ctx, `SELECT change_seq FROM checkouts WHERE id = ?`, checkoutID).Scan(&since); err != nil {
			return fmt.Errorf("checkout %s: %w", checkoutID, err)
		}
		w, err := newRowWriter(ctx, tx, false)
		if err != nil {
			return err
		}
		defer w.Close()
		for _, row := range p.Rows {
			ok, err := w.apply(ctx, row)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		upTo := max(p.UpTo, since)
		_, err = tx.ExecContext(ctx, `UPDATE checkouts SET change_seq = ?, last_sync = ? WHERE id = ?`, upTo, r.now().UTC().Format(time.RFC3339), checkoutID)
		return err
	})
	return n, err
}

// ReleaseCheckout marks a checkout released and drops the records of its customer
// unless another open checkout holds that customer too. Outbox entries and conflicts
// stay as a record (the outbox keeps every mutation whole). When no open checkout is
// left the whole records table is cleared at once, which SQLite does without visiting
// each row: releasing 529k rows one by one took 8 s.
func (r *Replica) ReleaseCheckout(ctx context.Context, id string) error {
	cs, err := r.Checkout(ctx, id)
	if err != nil {
		return err
	}
	err = r.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE checkouts SET released = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM state WHERE key = ?`, "fresh_snapshot:"+id); err != nil {
			return err
		}
		var others, open int
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(json_extract(data, '$.customer_id') = ?), 0) FROM checkouts WHERE released = 0`,
			cs.CustomerID).Scan(&open, &others); err != nil {
			return err
		}
		switch {
		case open == 0:
			_, err := tx.ExecContext(ctx, `DELETE FROM records`)
			return err
		case others == 0:
			_, err := tx.ExecContext(ctx, `DELETE FROM records WHERE customer_id = ?`, cs.CustomerID)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.ensureIndexes(ctx)
}
