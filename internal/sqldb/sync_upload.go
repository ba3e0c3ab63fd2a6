package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// SyncTx is the write transaction an upload or a conflict resolution runs in. Its
// writes are those of the online API (same checks, audit entries and change seqs), except
// that the checkout it works for may write its own exclusively held scope.
type SyncTx struct {
	t *tx
}

// Device returns a device or ENOTFOUND.
func (s *SyncTx) Device(ctx context.Context, id string) (*izy.Device, error) {
	return s.t.getDevice(ctx, id)
}

// Location returns a location or ENOTFOUND.
func (s *SyncTx) Location(ctx context.Context, id string) (*izy.Location, error) {
	return s.t.getLocation(ctx, id)
}

// Instrument returns an instrument or ENOTFOUND.
func (s *SyncTx) Instrument(ctx context.Context, id string) (*izy.Instrument, error) {
	var i izy.Instrument
	err := scanInstrument(s.t.queryRow(ctx, "SELECT "+instrumentCols+" FROM instruments WHERE id = ?", id), &i)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "instrument %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get instrument", err)
	}
	return &i, nil
}

// CreateDevice is DB.CreateDevice inside the transaction.
func (s *SyncTx) CreateDevice(ctx context.Context, d *izy.Device) error {
	return s.t.createDevice(ctx, d)
}

// UpdateDevice is DB.UpdateDevice inside the transaction.
func (s *SyncTx) UpdateDevice(ctx context.Context, d *izy.Device) error {
	return s.t.updateDevice(ctx, d)
}

// CreateLocation is DB.CreateLocation inside the transaction.
func (s *SyncTx) CreateLocation(ctx context.Context, l *izy.Location) error {
	return s.t.createLocation(ctx, l)
}

// UpdateLocation is DB.UpdateLocation inside the transaction.
func (s *SyncTx) UpdateLocation(ctx context.Context, l *izy.Location) error {
	return s.t.updateLocation(ctx, l)
}

// DeleteLocation is DB.DeleteLocation inside the transaction.
func (s *SyncTx) DeleteLocation(ctx context.Context, id string, version int64) error {
	return s.t.deleteLocation(ctx, id, version)
}

// CreateTest is DB.CreateTest inside the transaction.
func (s *SyncTx) CreateTest(ctx context.Context, t *izy.Test) error { return s.t.createTest(ctx, t) }

// TestExists reports whether a test with id is stored.
func (s *SyncTx) TestExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.t.queryRow(ctx, "SELECT count(*) FROM tests WHERE id = ?", id).Scan(&n)
	return n > 0, dbErr("check test", err)
}

// Deleted reports whether entity id was deleted (a tombstone is kept for it).
func (s *SyncTx) Deleted(ctx context.Context, entity, id string) (bool, error) {
	var n int
	err := s.t.queryRow(ctx, "SELECT count(*) FROM tombstones WHERE entity = ? AND id = ?", entity, id).Scan(&n)
	return n > 0, dbErr("check tombstone", err)
}

// DeviceBySerial returns another device of customerID with serial number serial, or nil.
func (s *SyncTx) DeviceBySerial(ctx context.Context, customerID, serial, exceptID string) (*izy.Device, error) {
	var d izy.Device
	err := scanDevice(s.t.queryRow(ctx, "SELECT "+deviceCols+" FROM devices WHERE customer_id = ? AND serial_number = ? AND id <> ? ORDER BY id LIMIT 1",
		customerID, serial, exceptID), &d)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("find serial number", err)
	}
	return &d, nil
}

// InventoryTaken reports whether customerID has a device with inventory ID inv.
func (s *SyncTx) InventoryTaken(ctx context.Context, customerID, inv string) (bool, error) {
	var n int
	err := s.t.queryRow(ctx, "SELECT count(*) FROM devices WHERE customer_id = ? AND inventory_id = ?", customerID, inv).Scan(&n)
	return n > 0, dbErr("check inventory id", err)
}

// LocationWithin reports whether location id is root or lies below it.
func (s *SyncTx) LocationWithin(ctx context.Context, id, root string) (bool, error) {
	return s.t.locationWithin(ctx, id, root)
}

// MutationResult returns the stored outcome of a mutation of the checkout, or nil when
// the mutation was never applied: a mutation is applied once even when it arrives again
// in another batch.
func (s *SyncTx) MutationResult(ctx context.Context, mutationID string) (*izy.MutationResult, error) {
	var raw string
	err := s.t.queryRow(ctx, "SELECT result FROM sync_mutations WHERE checkout_id = ? AND mutation_id = ?", s.t.holder, mutationID).Scan(&raw)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("read mutation result", err)
	}
	var r izy.MutationResult
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AddConflict stores a conflict of the checkout, filling ID, CheckoutID, Status and
// CreatedAt.
func (s *SyncTx) AddConflict(ctx context.Context, customerID string, c *izy.Conflict) error {
	if c.ID == "" {
		c.ID = izy.NewID()
	}
	c.CheckoutID, c.Status, c.CreatedAt = s.t.holder, "open", now()
	if c.Fields == nil {
		c.Fields = []izy.FieldConflict{}
	}
	_, err := s.t.exec(ctx, `INSERT INTO conflicts (id, checkout_id, mutation_id, kind, entity, entity_id, customer_id,
		fields, mutation, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.CheckoutID, c.MutationID, c.Kind, c.Entity, c.EntityID, customerID,
		mustJSON(c.Fields), mustJSON(c.Mutation), c.Status, s.t.db.ts(c.CreatedAt))
	if err != nil {
		return dbErr("store conflict", err)
	}
	return nil
}

// Audit writes an audit entry in the transaction.
func (s *SyncTx) Audit(ctx context.Context, action, entity, entityID string, detail any) error {
	return s.t.audit(ctx, action, entity, entityID, detail)
}

// StoreBatch stores the raw JSON of an upload before anything of it is applied and marks
// the checkout uploading. When the batch was stored before and has a result, it returns
// that result and stores nothing: the caller answers it without applying anything.
func (db *DB) StoreBatch(ctx context.Context, checkoutID, batchID string, protocol int, raw []byte) (*izy.BatchResult, error) {
	var stored *izy.BatchResult
	err := db.write(ctx, func(t *tx) error {
		var result sql.NullString
		err := t.queryRow(ctx, "SELECT result FROM sync_batches WHERE checkout_id = ? AND batch_id = ?", checkoutID, batchID).Scan(&result)
		switch {
		case err == nil && result.Valid:
			stored = &izy.BatchResult{}
			return json.Unmarshal([]byte(result.String), stored)
		case err == nil:
			// Stored raw but never applied (the server stopped in between): apply it now.
		case err == sql.ErrNoRows:
			if _, err := t.exec(ctx, `INSERT INTO sync_batches (checkout_id, batch_id, protocol, raw, received_at) VALUES (?, ?, ?, ?, ?)`,
				checkoutID, batchID, protocol, string(raw), db.ts(now())); err != nil {
				return constraintErr("store batch", err, "", "checkout does not exist")
			}
		default:
			return dbErr("store batch", err)
		}
		_, err = t.exec(ctx, "UPDATE checkouts SET state = ?, last_seen_at = ? WHERE id = ?", izy.SyncUploading, db.ts(now()), checkoutID)
		return dbErr("store batch", err)
	})
	return stored, err
}

// ApplyBatch runs apply in one write transaction for checkout co, then stores the
// outcome of every mutation (with the mutation whole), the batch result and the
// checkout's new state (conflicts-pending while it has open conflicts, else ready), all in
// the same transaction. When the batch already has a result (another server applied it
// meanwhile) it returns that without calling apply.
func (db *DB) ApplyBatch(ctx context.Context, checkoutID string, b *izy.Batch, apply func(ctx context.Context, tx *SyncTx) (*izy.BatchResult, error)) (*izy.BatchResult, error) {
	var out *izy.BatchResult
	err := db.write(ctx, func(t *tx) error {
		t.holder = checkoutID
		var result sql.NullString
		if err := t.queryRow(ctx, "SELECT result FROM sync_batches WHERE checkout_id = ? AND batch_id = ?", checkoutID, b.ID).Scan(&result); err != nil {
			if err == sql.ErrNoRows {
				return izy.Errorf(izy.ENOTFOUND, "batch %s was not stored", b.ID)
			}
			return dbErr("apply batch", err)
		}
		if result.Valid {
			out = &izy.BatchResult{}
			return json.Unmarshal([]byte(result.String), out)
		}
		co, err := t.syncCheckout(ctx, checkoutID)
		if err != nil {
			return err
		}
		seq0, err := t.currentSeq(ctx)
		if err != nil {
			return err
		}
		res, err := apply(ctx, &SyncTx{t})
		if err != nil {
			return err
		}
		if co.Protocol == izy.ProtocolVersion {
			if res.Rows, err = t.echoRows(ctx, co, seq0); err != nil {
				return err
			}
		}
		at := db.ts(now())
		// The outcomes go in statements of up to 100 rows: one statement per mutation cost
		// a parse and a round trip each.
		const perStmt = 100
		n := min(len(res.Results), len(b.Mutations))
		for start := 0; start < n; start += perStmt {
			end := min(start+perStmt, n)
			q := strings.Builder{}
			q.WriteString(`INSERT INTO sync_mutations (checkout_id, mutation_id, batch_id, status, entity, entity_id, mutation, result, at) VALUES `)
			args := make([]any, 0, 9*(end-start))
			for i := start; i < end; i++ {
				if i > start {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				r := res.Results[i]
				args = append(args, checkoutID, r.MutationID, b.ID, r.Status, r.Entity, r.EntityID, mustJSON(b.Mutations[i]), mustJSON(r), at)
			}
			q.WriteString(" ON CONFLICT (checkout_id, mutation_id) DO NOTHING")
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return dbErr("store mutation outcome", err)
			}
		}
		if res.Seq, err = t.currentSeq(ctx); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE sync_batches SET result = ?, applied_at = ? WHERE checkout_id = ? AND batch_id = ?",
			mustJSON(res), at, checkoutID, b.ID); err != nil {
			return dbErr("store batch result", err)
		}
		if err := t.settleState(ctx, checkoutID); err != nil {
			return err
		}
		out = res
		return nil
	})
	return out, err
}

// settleState sets an open checkout to conflicts-pending while it has open conflicts,
// else to ready.
func (t *tx) settleState(ctx context.Context, checkoutID string) error {
	_, err := t.exec(ctx, `UPDATE checkouts SET state = CASE WHEN EXISTS (SELECT 1 FROM conflicts
		WHERE checkout_id = ? AND status = 'open') THEN 'conflicts-pending' ELSE 'ready' END, last_seen_at = ?
		WHERE id = ? AND released_at IS NULL`, checkoutID, t.db.ts(now()), checkoutID)
	return dbErr("set checkout state", err)
}

// Savepoint runs fn so that, when it fails, everything it wrote is undone and the
// transaction goes on: one bad mutation must not take the batch with it (PostgreSQL
// aborts a whole transaction on a failed statement otherwise).
func (s *SyncTx) Savepoint(ctx context.Context, fn func() error) error {
	if _, err := s.t.exec(ctx, "SAVEPOINT mutation"); err != nil {
		return dbErr("savepoint", err)
	}
	if err := fn(); err != nil {
		if _, rerr := s.t.exec(ctx, "ROLLBACK TO SAVEPOINT mutation"); rerr != nil {
			return dbErr("rollback to savepoint", rerr)
		}
		if _, rerr := s.t.exec(ctx, "RELEASE SAVEPOINT mutation"); rerr != nil {
			return dbErr("release savepoint", rerr)
		}
		return err
	}
	_, err := s.t.exec(ctx, "RELEASE SAVEPOINT mutation")
	return dbErr("release savepoint", err)
}

// syncCheckout reads a checkout in t.
func (t *tx) syncCheckout(ctx context.Context, id string) (*izy.Checkout, error) {
	var c izy.Checkout
	err := scanCheckout(t.queryRow(ctx, checkoutSelect+" WHERE c.id = ?", id), &c)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "checkout %s not found", id)
	}
	return &c, dbErr("get checkout", err)
}

// echoRows returns the rows of co's scope changed after seq0 — in an upload's
// transaction, the rows the upload wrote (on PostgreSQL perhaps also a concurrent
// writer's, which is harmless: the client gets them here instead of from the feed) — and
// lists their seqs in sync_echo so that co's change feed leaves them out. It also drops
// co's echo entries at or below its acknowledged seq, which the feed never reads again.
func (t *tx) echoRows(ctx context.Context, co *izy.Checkout, seq0 int64) (izy.Rows, error) {
	s := newFeedScope(co)
	var all []izy.Row
	for _, entity := range feedEntities {
		rows, err := t.feedRows(ctx, s, entity, "seq > ?", []any{seq0}, "seq", 1<<30)
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
	}
	if _, err := t.exec(ctx, "DELETE FROM sync_echo WHERE checkout_id = ? AND seq <= ?", co.ID, co.AckedSeq); err != nil {
		return nil, dbErr("drop acknowledged echo", err)
	}
	const perStmt = 500
	for start := 0; start < len(all); start += perStmt {
		end := min(start+perStmt, len(all))
		var q strings.Builder
		q.WriteString("INSERT INTO sync_echo (checkout_id, seq) VALUES ")
		args := make([]any, 0, 2*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, co.ID, all[i].Seq)
		}
		q.WriteString(" ON CONFLICT (checkout_id, seq) DO NOTHING")
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return nil, dbErr("store echo", err)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	return all, nil
}
