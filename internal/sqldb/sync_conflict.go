package sqldb

import (
	"context"
	"database/sql"

	izy "github.com/izytroniq/izytroniq"
)

const conflictCols = `id, checkout_id, mutation_id, kind, entity, entity_id, fields, mutation, status,
	resolution, resolved_by, created_at, resolved_at`

func scanConflict(s interface{ Scan(...any) error }, c *izy.Conflict) error {
	return s.Scan(&c.ID, &c.CheckoutID, &c.MutationID, &c.Kind, &c.Entity, &c.EntityID, jsonCol{&c.Fields},
		jsonCol{&c.Mutation}, &c.Status, &c.Resolution, &c.ResolvedBy, timeCol{&c.CreatedAt}, timeColPtr{&c.ResolvedAt})
}

// ListConflicts returns conflicts, oldest first, of checkoutID ("" for any), with status
// ("" for any), of checkouts of userID ("" for anybody's).
func (db *DB) ListConflicts(ctx context.Context, checkoutID, status, userID string) ([]izy.Conflict, error) {
	var w where
	if checkoutID != "" {
		w.add("checkout_id = ?", checkoutID)
	}
	if status != "" {
		w.add("status = ?", status)
	}
	if userID != "" {
		w.add("checkout_id IN (SELECT id FROM checkouts WHERE user_id = ?)", userID)
	}
	rows, err := db.query(ctx, "SELECT "+conflictCols+" FROM conflicts"+w.String()+" ORDER BY created_at, id LIMIT 10000", w.args...)
	if err != nil {
		return nil, dbErr("list conflicts", err)
	}
	defer rows.Close()
	out := []izy.Conflict{}
	for rows.Next() {
		var c izy.Conflict
		if err := scanConflict(rows, &c); err != nil {
			return nil, dbErr("list conflicts", err)
		}
		out = append(out, c)
	}
	return out, dbErr("list conflicts", rows.Err())
}

// GetConflict returns a conflict or ENOTFOUND.
func (db *DB) GetConflict(ctx context.Context, id string) (*izy.Conflict, error) {
	var c izy.Conflict
	err := scanConflict(db.queryRow(ctx, "SELECT "+conflictCols+" FROM conflicts WHERE id = ?", id), &c)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "conflict %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get conflict", err)
	}
	return &c, nil
}

// ResolveConflict runs apply on the open conflict id in one write transaction (on behalf
// of the conflict's checkout), then marks it resolved with resolution, writes an audit
// entry and settles the checkout's state. A resolved conflict is ECONFLICT.
func (db *DB) ResolveConflict(ctx context.Context, id, resolution string, apply func(ctx context.Context, tx *SyncTx, c *izy.Conflict) error) (*izy.Conflict, error) {
	var c izy.Conflict
	err := db.write(ctx, func(t *tx) error {
		err := scanConflict(t.queryRow(ctx, "SELECT "+conflictCols+" FROM conflicts WHERE id = ?", id), &c)
		if err == sql.ErrNoRows {
			return izy.Errorf(izy.ENOTFOUND, "conflict %s not found", id)
		}
		if err != nil {
			return dbErr("resolve conflict", err)
		}
		if c.Status != "open" {
			return izy.Errorf(izy.ECONFLICT, "conflict %s is already resolved (%s)", id, c.Resolution)
		}
		t.holder = c.CheckoutID
		if err := apply(ctx, &SyncTx{t}, &c); err != nil {
			return err
		}
		at := now()
		c.Status, c.Resolution, c.ResolvedBy, c.ResolvedAt = "resolved", resolution, izy.UserIDFromContext(ctx), &at
		if _, err := t.exec(ctx, "UPDATE conflicts SET status = ?, resolution = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
			c.Status, c.Resolution, c.ResolvedBy, db.ts(at), id); err != nil {
			return dbErr("resolve conflict", err)
		}
		if err := t.audit(ctx, "resolve", "conflict", id, map[string]any{"resolution": resolution, "entity": c.Entity, "entity_id": c.EntityID}); err != nil {
			return err
		}
		return t.settleState(ctx, c.CheckoutID)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}
