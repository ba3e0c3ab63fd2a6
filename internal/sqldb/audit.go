package sqldb

import (
	"context"
	"strconv"

	izy "github.com/izytroniq/izytroniq"
)

// ListAudit returns a page of audit entries, newest first.
func (db *DB) ListAudit(ctx context.Context, f izy.AuditFilter) ([]izy.AuditEntry, string, error) {
	if err := f.Page.Normalize(); err != nil {
		return nil, "", err
	}
	before, err := decodeIntCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	var w where
	if before > 0 {
		w.add("id < ?", before)
	}
	if f.Entity != "" {
		w.add("entity = ?", f.Entity)
	}
	if f.EntityID != "" {
		w.add("entity_id = ?", f.EntityID)
	}
	q := "SELECT id, at, user_id, action, entity, entity_id, detail FROM audit_log" + w.String() + " ORDER BY id DESC LIMIT ?"
	rows, err := db.query(ctx, q, append(w.args, f.Limit+1)...)
	if err != nil {
		return nil, "", dbErr("list audit", err)
	}
	defer rows.Close()
	items := []izy.AuditEntry{}
	for rows.Next() {
		var e izy.AuditEntry
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.UserID, &e.Action, &e.Entity, &e.EntityID, &e.Detail); err != nil {
			return nil, "", dbErr("list audit", err)
		}
		items = append(items, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr("list audit", err)
	}
	if len(items) <= f.Limit {
		return items, "", nil
	}
	items = items[:f.Limit]
	return items, encodeCursor(strconv.FormatInt(items[f.Limit-1].ID, 10)), nil
}
