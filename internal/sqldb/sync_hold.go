package sqldb

import (
	"context"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// checkNotHeld refuses a write to an entity of customerID at locationID (nil: not placed
// in a location) while another client holds it in an exclusive checkout. It runs inside
// the write transaction, so an edit and a checkout cannot race past each other. The
// checkout whose upload t applies (t.holder) may write its own scope.
func (t *tx) checkNotHeld(ctx context.Context, what, customerID string, locationID *string) error {
	rows, err := t.query(ctx, `SELECT c.id, c.location_id, u.username, cl.name, c.client_id, c.created_at
		FROM checkouts c JOIN users u ON u.id = c.user_id JOIN clients cl ON cl.id = c.client_id
		WHERE c.customer_id = ? AND c.mode = 'exclusive' AND c.released_at IS NULL AND c.id <> ?`,
		customerID, t.holder)
	if err != nil {
		return dbErr("check checkouts", err)
	}
	type hold struct {
		loc                    *string
		user, client, clientID string
		since                  time.Time
	}
	var holds []hold
	for rows.Next() {
		var id string
		var h hold
		if err := rows.Scan(&id, strPtrCol{&h.loc}, &h.user, &h.client, &h.clientID, timeCol{&h.since}); err != nil {
			rows.Close()
			return dbErr("check checkouts", err)
		}
		holds = append(holds, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbErr("check checkouts", err)
	}
	for _, h := range holds {
		held := h.loc == nil
		if !held && locationID != nil {
			in, err := t.locationWithin(ctx, *locationID, *h.loc)
			if err != nil {
				return err
			}
			held = in
		}
		if held {
			client := h.client
			if client == "" {
				client = h.clientID
			}
			return izy.Errorf(izy.ECONFLICT, "this %s is checked out exclusively by %s on %s since %s; edit it there or ask for a check-in",
				what, h.user, client, h.since.Format("2006-01-02 15:04 MST"))
		}
	}
	return nil
}

// locationWithin reports whether location id is root or lies below it.
func (t *tx) locationWithin(ctx context.Context, id, root string) (bool, error) {
	if id == root {
		return true, nil
	}
	var n int
	err := t.queryRow(ctx, `WITH RECURSIVE anc (id, parent_id) AS (
			SELECT id, parent_id FROM locations WHERE id = ?
			UNION ALL
			SELECT l.id, l.parent_id FROM locations l JOIN anc a ON l.id = a.parent_id
		) SELECT count(*) FROM anc WHERE id = ?`, id, root).Scan(&n)
	if err != nil {
		return false, dbErr("check location subtree", err)
	}
	return n > 0, nil
}
