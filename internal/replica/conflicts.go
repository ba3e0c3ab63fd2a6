package replica

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	izy "github.com/izytroniq/izytroniq"
)

// putConflict stores a conflict; with replace unset, a known conflict keeps its fuller
// copy (e.g. one fetched from the server with base, server and client values).
func putConflict(ctx context.Context, tx *sql.Tx, c *izy.Conflict, replace bool) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	status := c.Status
	if status == "" {
		status = "open"
	}
	q := `INSERT INTO conflicts (id, checkout_id, mutation_id, status, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	if replace {
		q = `INSERT INTO conflicts (id, checkout_id, mutation_id, status, data) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data`
	}
	_, err = tx.ExecContext(ctx, q, c.ID, c.CheckoutID, c.MutationID, status, string(b))
	return err
}

// PutConflicts stores the server's copies of conflicts, replacing the local ones.
func (r *Replica) PutConflicts(ctx context.Context, cs []izy.Conflict) error {
	return r.tx(ctx, func(tx *sql.Tx) error {
		for i := range cs {
			if err := putConflict(ctx, tx, &cs[i], true); err != nil {
				return err
			}
		}
		return nil
	})
}

// Conflicts returns the local mirror of conflicts of a checkout ("" for all) with status
// ("" for all).
func (r *Replica) Conflicts(ctx context.Context, checkoutID, status string) ([]izy.Conflict, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT data FROM conflicts WHERE (? = '' OR checkout_id = ?) AND (? = '' OR status = ?) ORDER BY rowid`,
		checkoutID, checkoutID, status, status)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []izy.Conflict{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var c izy.Conflict
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Conflict returns one conflict of the local mirror.
func (r *Replica) Conflict(ctx context.Context, id string) (*izy.Conflict, error) {
	var data string
	err := r.db.QueryRowContext(ctx, `SELECT data FROM conflicts WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, izy.Errorf(izy.ENOTFOUND, "conflict %s is not known here; run izy conflicts list", id)
	}
	if err != nil {
		return nil, err
	}
	var c izy.Conflict
	return &c, json.Unmarshal([]byte(data), &c)
}
