package sqldb

import (
	"context"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// ChangeFeedPlan returns SQLite's query plan (EXPLAIN QUERY PLAN, details joined by
// "; ") of the change-feed query of entity for co.
func (db *DB) ChangeFeedPlan(ctx context.Context, co *izy.Checkout, entity string) (string, error) {
	var q string
	var args []any
	if entity == "tombstone" {
		cond, cargs := newFeedScope(co).cond("tombstone")
		q, args = "SELECT entity, id, seq FROM tombstones WHERE "+cond+" AND seq > ? ORDER BY seq LIMIT ?", append(cargs, int64(0), 10)
	} else {
		q, args = feedQuery(newFeedScope(co), entity, "seq > ?", []any{int64(0)}, "seq", 10)
	}
	rows, err := db.w.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; "), rows.Err()
}
