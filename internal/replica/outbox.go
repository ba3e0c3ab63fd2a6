package replica

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
)

// Outbox statuses: pending until the server answered, then the mutation's outcome.
const (
	OutboxPending = "pending"
)

// LocalRecord is a record written offline together with a mutation.
type LocalRecord struct {
	Entity string
	ID     string
	Value  any // marshalled to JSON
}

// Change is one offline edit: the records it changes locally and the mutation to send.
type Change struct {
	CheckoutID string
	Records    []LocalRecord
	Mutation   izy.Mutation
}

// Record stores an offline change — its records and its outbox mutation — in one
// transaction. The mutation needs its client-made ID; a missing CreatedAt is set.
func (r *Replica) Record(ctx context.Context, c Change) error {
	m := c.Mutation
	if !izy.ValidID(m.ID) {
		return izy.Errorf(izy.EINVALID, "a mutation needs a valid id")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = r.now().UTC()
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return r.tx(ctx, func(tx *sql.Tx) error {
		var released bool
		err := tx.QueryRowContext(ctx, `SELECT released FROM checkouts WHERE id = ?`, c.CheckoutID).Scan(&released)
		if errors.Is(err, sql.ErrNoRows) || released {
			return izy.Errorf(izy.ECONFLICT, "checkout %s is not open on this client; run izy checkout first", c.CheckoutID)
		}
		if err != nil {
			return err
		}
		for _, rec := range c.Records {
			if err := putLocal(ctx, tx, rec.Entity, rec.ID, rec.Value); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox (mutation_id, checkout_id, entity, entity_id, op, mutation) VALUES (?, ?, ?, ?, ?, ?)`,
			m.ID, c.CheckoutID, m.Entity, m.EntityID, m.Op, string(data))
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	})
}

// NextBatch returns the batch to upload next for a checkout, or nil when nothing is
// pending. A batch that was assigned but never answered comes back first, with the same
// ID and mutations, so that a retry after a crash re-sends exactly the same batch (the
// server answers it from its store). Otherwise up to max pending mutations get a new
// batch ID, persisted before the caller sends anything.
func (r *Replica) NextBatch(ctx context.Context, checkoutID string, max int) (*izy.Batch, error) {
	return r.nextBatch(ctx, checkoutID, max, "")
}

// nextBatch is NextBatch, passing over the unanswered batch inFlight (whose answer the
// caller holds but has not stored yet).
func (r *Replica) nextBatch(ctx context.Context, checkoutID string, max int, inFlight string) (*izy.Batch, error) {
	var b *izy.Batch
	err := r.tx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM batches WHERE checkout_id = ? AND done = 0 AND id <> ? ORDER BY rowid LIMIT 1`, checkoutID, inFlight).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = izy.NewID()
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET batch_id = ? WHERE n IN (
				SELECT n FROM outbox WHERE checkout_id = ? AND status = 'pending' AND batch_id IS NULL ORDER BY n LIMIT ?)`,
				id, checkoutID, max)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO batches (id, checkout_id, created_at) VALUES (?, ?, ?)`, id, checkoutID, r.now().UTC().Format("2006-01-02T15:04:05Z")); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		ms, err := batchMutations(ctx, tx, id)
		if err != nil {
			return err
		}
		b = &izy.Batch{ID: id, Protocol: izy.ProtocolVersion, Mutations: ms}
		return nil
	})
	return b, err
}

func batchMutations(ctx context.Context, tx *sql.Tx, batchID string) ([]izy.Mutation, error) {
	rows, err := tx.QueryContext(ctx, `SELECT mutation FROM outbox WHERE batch_id = ? ORDER BY n`, batchID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []izy.Mutation
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var m izy.Mutation
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CompleteBatch stores the server's answer to a batch: each mutation's outcome, and a
// local open conflict for each conflict, and the rows the batch changed (res.Rows). It is
// one transaction; a batch completed twice changes nothing the second time.
func (r *Replica) CompleteBatch(ctx context.Context, checkoutID string, res *izy.BatchResult) error {
	return r.tx(ctx, func(tx *sql.Tx) error {
		// The rows the batch changed, as the server now holds them: the change feed
		// leaves them out, since they are stored here.
		if len(res.Rows) > 0 {
			w, err := newRowWriter(ctx, tx, false)
			if err != nil {
				return err
			}
			defer w.Close()
			for _, row := range res.Rows {
				if _, err := w.apply(ctx, row); err != nil {
					return err
				}
			}
		}
		for _, mr := range res.Results {
			b, _ := json.Marshal(mr)
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, result = ? WHERE mutation_id = ? AND batch_id = ?`,
				mr.Status, string(b), mr.MutationID, res.BatchID); err != nil {
				return err
			}
			if mr.Status == izy.MutationConflict && mr.ConflictID != "" {
				c := izy.Conflict{ID: mr.ConflictID, CheckoutID: checkoutID, MutationID: mr.MutationID, Entity: mr.Entity, EntityID: mr.EntityID, Status: "open"}
				if err := putConflict(ctx, tx, &c, false); err != nil {
					return err
				}
			}
		}
		// A mutation the answer does not name stays pending, in a new batch.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET batch_id = NULL WHERE batch_id = ? AND status = 'pending'`, res.BatchID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE batches SET done = 1 WHERE id = ?`, res.BatchID)
		return err
	})
}

// OutboxEntry is a mutation in the outbox with its state.
type OutboxEntry struct {
	N          int64               `json:"n"`
	CheckoutID string              `json:"checkout_id"`
	Mutation   izy.Mutation        `json:"mutation"`
	BatchID    string              `json:"batch_id,omitempty"`
	Status     string              `json:"status"`
	Result     *izy.MutationResult `json:"result,omitempty"`
}

// Outbox returns the outbox entries of a checkout ("" for all) with status ("" for all),
// oldest first.
func (r *Replica) Outbox(ctx context.Context, checkoutID, status string) ([]OutboxEntry, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT n, checkout_id, mutation, coalesce(batch_id, ''), status, coalesce(result, '')
		FROM outbox WHERE (? = '' OR checkout_id = ?) AND (? = '' OR status = ?) ORDER BY n`, checkoutID, checkoutID, status, status)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OutboxEntry{}
	for rows.Next() {
		var e OutboxEntry
		var m, res string
		if err := rows.Scan(&e.N, &e.CheckoutID, &m, &e.BatchID, &e.Status, &res); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(m), &e.Mutation); err != nil {
			return nil, err
		}
		if res != "" {
			e.Result = new(izy.MutationResult)
			if err := json.Unmarshal([]byte(res), e.Result); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// OutboxCounts returns the number of outbox entries per status for a checkout ("" for all).
func (r *Replica) OutboxCounts(ctx context.Context, checkoutID string) (map[string]int, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT status, count(*) FROM outbox WHERE (? = '' OR checkout_id = ?) GROUP BY status`, checkoutID, checkoutID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
