package sqldb

import (
	"context"
	"database/sql"
	"errors"

	izy "github.com/izytroniq/izytroniq"
)

const conflictCols = `id, checkout_id, mutation_id, kind, entity, entity_id, fields, mutation, status,
	resolution, resolved_by, created_at, resolved_at`

func scanConflict(s interface{ Scan(...any) error }, c *izy.Conflict) error {
	return s.Scan(&c.ID, &c.CheckoutID, &c.MutationID, &c.Kind, &c.Entity, &c.EntityID, jsonCol{&c.Fields},
		jsonCol{&c.Mutation}, &c.Status, &c.Resolution, &c.ResolvedBy, timeCol{&c.CreatedAt}, timeColPtr{&c.ResolvedAt})
}

// ListConflicts returns a page of conflicts in ID order (the order they were made in) of
// checkoutID ("" for any), with status ("" for any), of checkouts of userID ("" for
// anybody's), and the cursor of the next page ("" after the last).
func (db *DB) ListConflicts(ctx context.Context, checkoutID, status, userID string, p izy.Page) ([]izy.Conflict, string, error) {
	after, err := pageArgs(&p)
	if err != nil {
		return nil, "", err
	}
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
	w.add("id > ?", after)
	return listPage(ctx, db, "list conflicts", "SELECT "+conflictCols+" FROM conflicts"+w.String()+" ORDER BY id LIMIT ?",
		w.args, p.Limit, scanConflict, func(c *izy.Conflict) string { return c.ID })
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
// entry and settles the checkout's state. A conflict already resolved with the same
// resolution is answered as stored, nothing applied again (a client repeating a request
// whose answer it lost); one resolved otherwise is ECONFLICT.
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
		if c.Status != "open" && c.Resolution == resolution {
			return errAlreadyResolved // a repeat whose first answer was lost: answer it again
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
	if err == errAlreadyResolved {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// errAlreadyResolved ends ResolveConflict's transaction without writing when the conflict
// is already resolved the same way.
var errAlreadyResolved = errors.New("already resolved")
