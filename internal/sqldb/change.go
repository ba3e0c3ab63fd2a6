package sqldb

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
)

// nextSeq takes the next number of the global change sequence inside t. On SQLite the
// counter row is updated in the write transaction, which the single writer serializes, so
// seq order is commit order. On PostgreSQL it is a SEQUENCE: numbers are unique and
// increasing but may commit out of order.
func (t *tx) nextSeq(ctx context.Context) (int64, error) {
	var seq int64
	var err error
	if t.db.dialect == Postgres {
		err = t.queryRow(ctx, "SELECT nextval('change_seq')").Scan(&seq)
	} else {
		err = t.queryRow(ctx, "UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value").Scan(&seq)
	}
	if err != nil {
		return 0, dbErr("next change sequence", err)
	}
	return seq, nil
}

// audit writes one audit entry in t.
func (t *tx) audit(ctx context.Context, action, entity, entityID string, detail any) error {
	d, ok := detail.(string)
	if !ok {
		d = mustJSON(detail)
	}
	_, err := t.exec(ctx, `INSERT INTO audit_log (at, user_id, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		t.db.ts(now()), izy.UserIDFromContext(ctx), action, entity, entityID, d)
	if err != nil {
		return dbErr("write audit entry", err)
	}
	return nil
}

// tombstone records a deletion for the change feed.
func (t *tx) tombstone(ctx context.Context, entity, id, customerID string) error {
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO tombstones (entity, id, customer_id, seq, deleted_at) VALUES (?, ?, ?, ?, ?)`,
		entity, id, strOrNull(customerID), seq, t.db.ts(now()))
	if err != nil {
		return dbErr("write tombstone", err)
	}
	return nil
}
