package sqldb

import (
	"context"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Seat is a client ID bound to one of the licence's offline seats.
type Seat struct {
	ClientID string    `json:"client_id"`
	UserID   string    `json:"user_id"`
	BoundAt  time.Time `json:"bound_at"`
}

// BindSeat binds clientID to an offline seat unless it holds one already or limit seats
// are bound. It reports whether the client holds a seat afterwards and how many are
// bound. Two clients racing for the last seat cannot both win: SQLite has one writer,
// and on PostgreSQL every write transaction takes the same advisory lock first (see
// write), so the count and the insert of one binding never interleave with another's.
func (db *DB) BindSeat(ctx context.Context, clientID, userID string, limit int, at time.Time) (ok bool, bound int, err error) {
	err = db.write(ctx, func(t *tx) error {
		ok, bound = false, 0
		var mine int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM license_seats WHERE client_id = ?`, clientID).Scan(&mine); err != nil {
			return dbErr("bind seat", err)
		}
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM license_seats`).Scan(&bound); err != nil {
			return dbErr("bind seat", err)
		}
		if mine > 0 {
			ok = true
			return nil
		}
		if bound >= limit {
			return nil
		}
		if _, err := t.exec(ctx, `INSERT INTO license_seats (client_id, user_id, bound_at) VALUES (?, ?, ?)`,
			clientID, userID, db.ts(at)); err != nil {
			return dbErr("bind seat", err)
		}
		ok, bound = true, bound+1
		return nil
	})
	return ok, bound, err
}

// ListSeats returns every bound offline seat, oldest binding first.
func (db *DB) ListSeats(ctx context.Context) ([]Seat, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT client_id, user_id, bound_at FROM license_seats ORDER BY bound_at, client_id`)
	if err != nil {
		return nil, dbErr("list seats", err)
	}
	defer rows.Close()
	seats := []Seat{}
	for rows.Next() {
		var s Seat
		if err := rows.Scan(&s.ClientID, &s.UserID, timeCol{&s.BoundAt}); err != nil {
			return nil, dbErr("list seats", err)
		}
		seats = append(seats, s)
	}
	return seats, dbErr("list seats", rows.Err())
}

// ReleaseSeat frees the offline seat of clientID; the client's next checkout binds a
// seat again if one is free.
func (db *DB) ReleaseSeat(ctx context.Context, clientID string) error {
	return db.write(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `DELETE FROM license_seats WHERE client_id = ?`, clientID)
		if err != nil {
			return dbErr("release seat", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return izy.Errorf(izy.ENOTFOUND, "client %s holds no offline seat (see izytroniq license show)", clientID)
		}
		return nil
	})
}
