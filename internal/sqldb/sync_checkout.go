package sqldb

import (
	"context"
	"database/sql"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

const checkoutSelect = `SELECT c.id, c.client_id, cl.name, c.user_id, u.username, c.customer_id, c.location_id,
	c.mode, c.protocol, c.state, c.snapshot_seq, c.acked_seq, c.created_at, c.last_seen_at, c.released_at,
	(SELECT count(*) FROM conflicts k WHERE k.checkout_id = c.id AND k.status = 'open')
	FROM checkouts c JOIN users u ON u.id = c.user_id JOIN clients cl ON cl.id = c.client_id`

func scanCheckout(s interface{ Scan(...any) error }, c *izy.Checkout) error {
	rel := timeColPtr{&c.ReleasedAt}
	return s.Scan(&c.ID, &c.ClientID, &c.ClientName, &c.UserID, &c.Username, &c.CustomerID, strPtrCol{&c.LocationID},
		&c.Mode, &c.Protocol, &c.State, &c.SnapshotSeq, &c.AckedSeq, timeCol{&c.CreatedAt}, timeCol{&c.LastSeenAt},
		rel, &c.OpenConflicts)
}

// currentSeq returns the last number taken from the change sequence.
func (t *tx) currentSeq(ctx context.Context) (int64, error) {
	var seq int64
	var err error
	if t.db.dialect == Postgres {
		err = t.queryRow(ctx, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq").Scan(&seq)
	} else {
		err = t.queryRow(ctx, "SELECT value FROM change_seq WHERE id = 1").Scan(&seq)
	}
	return seq, dbErr("read change sequence", err)
}

// CreateCheckout registers (or refreshes) the client of co and stores co as an open
// checkout, refusing with ECONFLICT, naming the holder, when it overlaps an open checkout
// it may not share: an exclusive checkout overlaps nothing, a shared one no exclusive one.
// It fills ID, State, SnapshotSeq, Username and the timestamps.
func (db *DB) CreateCheckout(ctx context.Context, co *izy.Checkout) error {
	if co.ID == "" {
		co.ID = izy.NewID()
	}
	return db.write(ctx, func(t *tx) error {
		if err := t.customerExists(ctx, co.CustomerID); err != nil {
			return err
		}
		if co.LocationID != nil {
			l, err := t.getLocation(ctx, *co.LocationID)
			if izy.ErrorCode(err) == izy.ENOTFOUND {
				return izy.Errorf(izy.EINVALID, "location_id %s does not exist", *co.LocationID)
			}
			if err != nil {
				return err
			}
			if l.CustomerID != co.CustomerID {
				return izy.Errorf(izy.EINVALID, "location %s belongs to another customer", l.ID)
			}
		}
		open, err := t.openCheckouts(ctx, co.CustomerID)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.ClientID == co.ClientID && o.UserID == co.UserID && o.Mode == co.Mode && sameLocation(o.LocationID, co.LocationID) {
				// The client asks again for a scope it holds: the answer to its first request
				// was lost. Answer that checkout, instead of leaving an orphan on the server
				// that would refuse the retry of an exclusive checkout with the client's own name.
				*co = o
				return nil
			}
		}
		for _, o := range open {
			if co.Mode != izy.CheckoutExclusive && o.Mode != izy.CheckoutExclusive {
				continue
			}
			overlap, err := t.scopesOverlap(ctx, co.LocationID, o.LocationID)
			if err != nil {
				return err
			}
			if overlap {
				return izy.Errorf(izy.ECONFLICT, "the scope overlaps a%s checkout held by %s on %s since %s",
					map[bool]string{true: "n exclusive", false: " shared"}[o.Mode == izy.CheckoutExclusive],
					o.Username, clientName(&o), o.CreatedAt.Format("2006-01-02 15:04 MST"))
			}
		}
		at := now()
		if _, err := t.exec(ctx, `INSERT INTO clients (id, name, user_id, last_seen) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, user_id = excluded.user_id, last_seen = excluded.last_seen`,
			co.ClientID, co.ClientName, co.UserID, db.ts(at)); err != nil {
			return constraintErr("register client", err, "", "user does not exist")
		}
		seq, err := t.currentSeq(ctx)
		if err != nil {
			return err
		}
		co.State, co.SnapshotSeq, co.AckedSeq, co.CreatedAt, co.LastSeenAt, co.ReleasedAt = izy.SyncReady, seq, seq, at, at, nil
		if _, err := t.exec(ctx, `INSERT INTO checkouts (id, client_id, user_id, customer_id, location_id, mode, protocol,
			state, snapshot_seq, acked_seq, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			co.ID, co.ClientID, co.UserID, co.CustomerID, co.LocationID, co.Mode, co.Protocol, co.State,
			co.SnapshotSeq, co.AckedSeq, db.ts(at), db.ts(at)); err != nil {
			return constraintErr("create checkout", err, "", "customer or user does not exist")
		}
		if err := t.queryRow(ctx, "SELECT username FROM users WHERE id = ?", co.UserID).Scan(&co.Username); err != nil {
			return dbErr("create checkout", err)
		}
		return t.audit(ctx, "checkout", "checkout", co.ID, co)
	})
}

func sameLocation(a, b *string) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func clientName(c *izy.Checkout) string {
	if c.ClientName != "" {
		return c.ClientName
	}
	return c.ClientID
}

func (t *tx) openCheckouts(ctx context.Context, customerID string) ([]izy.Checkout, error) {
	rows, err := t.query(ctx, checkoutSelect+" WHERE c.customer_id = ? AND c.released_at IS NULL ORDER BY c.id", customerID)
	if err != nil {
		return nil, dbErr("list checkouts", err)
	}
	defer rows.Close()
	var out []izy.Checkout
	for rows.Next() {
		var c izy.Checkout
		if err := scanCheckout(rows, &c); err != nil {
			return nil, dbErr("list checkouts", err)
		}
		out = append(out, c)
	}
	return out, dbErr("list checkouts", rows.Err())
}

// scopesOverlap reports whether two scopes of one customer share anything: a whole
// customer overlaps everything, two subtrees when one root lies within the other.
func (t *tx) scopesOverlap(ctx context.Context, a, b *string) (bool, error) {
	if a == nil || b == nil {
		return true, nil
	}
	in, err := t.locationWithin(ctx, *a, *b)
	if err != nil || in {
		return in, err
	}
	return t.locationWithin(ctx, *b, *a)
}

// GetCheckout returns a checkout with its count of open conflicts, or ENOTFOUND.
func (db *DB) GetCheckout(ctx context.Context, id string) (*izy.Checkout, error) {
	var c izy.Checkout
	err := scanCheckout(db.queryRow(ctx, checkoutSelect+" WHERE c.id = ?", id), &c)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "checkout %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get checkout", err)
	}
	return &c, nil
}

// ListCheckouts returns the checkouts of userID ("" for everyone's), open ones only
// unless released is true, oldest first.
func (db *DB) ListCheckouts(ctx context.Context, userID string, released bool) ([]izy.Checkout, error) {
	var w where
	if userID != "" {
		w.add("c.user_id = ?", userID)
	}
	if !released {
		w.add("c.released_at IS NULL")
	}
	rows, err := db.query(ctx, checkoutSelect+w.String()+" ORDER BY c.created_at, c.id", w.args...)
	if err != nil {
		return nil, dbErr("list checkouts", err)
	}
	defer rows.Close()
	out := []izy.Checkout{}
	for rows.Next() {
		var c izy.Checkout
		if err := scanCheckout(rows, &c); err != nil {
			return nil, dbErr("list checkouts", err)
		}
		out = append(out, c)
	}
	return out, dbErr("list checkouts", rows.Err())
}

// ListCheckoutsPage returns a page of the checkouts of userID ("" for everyone's), open
// ones only unless released is true, in ID order (the order they were made in), and the
// cursor of the next page ("" after the last).
func (db *DB) ListCheckoutsPage(ctx context.Context, userID string, released bool, p izy.Page) ([]izy.Checkout, string, error) {
	after, err := pageArgs(&p)
	if err != nil {
		return nil, "", err
	}
	var w where
	if userID != "" {
		w.add("c.user_id = ?", userID)
	}
	if !released {
		w.add("c.released_at IS NULL")
	}
	w.add("c.id > ?", after)
	return listPage(ctx, db, "list checkouts", checkoutSelect+w.String()+" ORDER BY c.id LIMIT ?", w.args, p.Limit,
		scanCheckout, func(c *izy.Checkout) string { return c.ID })
}

// ReleaseCheckout checks a checkout in. It refuses with ECONFLICT while the checkout has
// open conflicts; releasing a released checkout changes nothing.
func (db *DB) ReleaseCheckout(ctx context.Context, id string) error {
	return db.write(ctx, func(t *tx) error {
		var open int
		var released bool
		err := t.queryRow(ctx, `SELECT (SELECT count(*) FROM conflicts WHERE checkout_id = ? AND status = 'open'),
			released_at IS NOT NULL FROM checkouts WHERE id = ?`, id, id).Scan(&open, &released)
		if err == sql.ErrNoRows {
			return izy.Errorf(izy.ENOTFOUND, "checkout %s not found", id)
		}
		if err != nil {
			return dbErr("release checkout", err)
		}
		if released {
			return nil
		}
		if open > 0 {
			return izy.Errorf(izy.ECONFLICT, "the checkout still has %d open conflicts; resolve them before checking in", open)
		}
		if _, err := t.exec(ctx, "UPDATE checkouts SET released_at = ?, state = ?, last_seen_at = ? WHERE id = ?",
			db.ts(now()), izy.SyncReady, db.ts(now()), id); err != nil {
			return dbErr("release checkout", err)
		}
		return t.audit(ctx, "checkin", "checkout", id, "")
	})
}

// AckCheckout records that the client of checkout id holds every change up to seq; a
// checkout that was applying a download is ready again. Acks may be repeated: the highest
// seq stays.
func (db *DB) AckCheckout(ctx context.Context, id string, seq int64) error {
	return db.write(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE checkouts SET acked_seq = CASE WHEN acked_seq < ? THEN ? ELSE acked_seq END,
			state = CASE WHEN state = ? THEN ? ELSE state END,
			last_seen_at = ? WHERE id = ? AND released_at IS NULL`, seq, seq, izy.SyncApplying, izy.SyncReady, db.ts(now()), id)
		if err != nil {
			return dbErr("ack checkout", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return izy.Errorf(izy.ENOTFOUND, "open checkout %s not found", id)
		}
		return nil
	})
}

// SetCheckoutState stores the sync state of an open checkout; an unchanged state writes
// nothing.
func (db *DB) SetCheckoutState(ctx context.Context, id, state string) error {
	return db.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "UPDATE checkouts SET state = ?, last_seen_at = ? WHERE id = ? AND released_at IS NULL AND state <> ?",
			state, db.ts(now()), id, state)
		return dbErr("set checkout state", err)
	})
}

// SyncStatus counts open checkouts per sync state.
func (db *DB) SyncStatus(ctx context.Context) (map[string]int, error) {
	rows, err := db.query(ctx, "SELECT state, count(*) FROM checkouts WHERE released_at IS NULL GROUP BY state")
	if err != nil {
		return nil, dbErr("sync status", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for _, s := range []string{izy.SyncReady, izy.SyncUploading, izy.SyncMerging, izy.SyncConflictsPending, izy.SyncDownloading, izy.SyncApplying} {
		out[s] = 0
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, dbErr("sync status", err)
		}
		out[s] = n
	}
	return out, dbErr("sync status", rows.Err())
}

// CollectTombstones deletes the tombstones every open checkout has acknowledged (all of
// them when no checkout is open) and returns how many it deleted.
func (db *DB) CollectTombstones(ctx context.Context) (int64, error) {
	var n int64
	err := db.write(ctx, func(t *tx) error {
		var open int
		var minAck sql.NullInt64
		if err := t.queryRow(ctx, "SELECT count(*), min(acked_seq) FROM checkouts WHERE released_at IS NULL").Scan(&open, &minAck); err != nil {
			return dbErr("collect tombstones", err)
		}
		q, args := "DELETE FROM tombstones", []any{}
		if open > 0 {
			q, args = "DELETE FROM tombstones WHERE seq <= ?", []any{minAck.Int64}
		}
		res, err := t.exec(ctx, q, args...)
		if err != nil {
			return dbErr("collect tombstones", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// timeColPtr scans a nullable timestamp into a *time.Time.
type timeColPtr struct{ p **time.Time }

func (c timeColPtr) Scan(src any) error {
	if src == nil {
		*c.p = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.p = &t
	return nil
}
