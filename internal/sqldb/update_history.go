package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// updateHistorySchema is the schema version that created update_history (0003).
const updateHistorySchema = 3

// UpdatePhase is one phase of an update attempt as the history keeps it.
type UpdatePhase struct {
	Name       string    `json:"name"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Outcome    string    `json:"outcome"` // pass, fail, skipped
	Error      string    `json:"error,omitempty"`
}

// UpdateRecord is one attempt of `izytroniq update`, dry runs included. FinishedAt is
// nil while the attempt runs, and stays nil when it was interrupted.
type UpdateRecord struct {
	ID          string        `json:"id"`
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  *time.Time    `json:"finished_at"`
	FromVersion string        `json:"from_version"`
	ToVersion   string        `json:"to_version"`
	Outcome     string        `json:"outcome"`
	Phases      []UpdatePhase `json:"phases"`
	Message     string        `json:"message"`
}

// HasUpdateHistory reports whether the schema has the update_history table, which an
// older database (before migration 0003) lacks.
func (db *DB) HasUpdateHistory(ctx context.Context) (bool, error) {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return false, err
	}
	return v >= updateHistorySchema, nil
}

// CreateUpdate records a new update attempt and sets rec.ID when it is empty.
func (db *DB) CreateUpdate(ctx context.Context, rec *UpdateRecord) error {
	if rec.ID == "" {
		rec.ID = izy.NewID()
	}
	phases, err := json.Marshal(nonNilPhases(rec.Phases))
	if err != nil {
		return fmt.Errorf("record update: %w", err)
	}
	var finished any
	if rec.FinishedAt != nil {
		finished = db.ts(*rec.FinishedAt)
	}
	return db.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO update_history (id, started_at, finished_at, from_version, to_version, outcome, phases, message)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, db.ts(rec.StartedAt), finished, rec.FromVersion, rec.ToVersion, rec.Outcome, string(phases), rec.Message)
		return dbErr("record update", err)
	})
}

// FinishUpdate sets the end of the attempt id: when it finished, how, its phases and a
// message for people.
func (db *DB) FinishUpdate(ctx context.Context, id string, finishedAt time.Time, outcome string, phases []UpdatePhase, message string) error {
	b, err := json.Marshal(nonNilPhases(phases))
	if err != nil {
		return fmt.Errorf("finish update: %w", err)
	}
	return db.write(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE update_history SET finished_at = ?, outcome = ?, phases = ?, message = ? WHERE id = ?`,
			db.ts(finishedAt), outcome, string(b), message, id)
		if err != nil {
			return dbErr("finish update", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return izy.Errorf(izy.ENOTFOUND, "update %s not found in the history", id)
		}
		return nil
	})
}

// ListUpdates returns the update history, newest first, at most limit entries (0: all).
func (db *DB) ListUpdates(ctx context.Context, limit int) ([]UpdateRecord, error) {
	q := `SELECT id, started_at, finished_at, from_version, to_version, outcome, phases, message
		FROM update_history ORDER BY started_at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(q), args...)
	if err != nil {
		return nil, dbErr("list updates", err)
	}
	defer rows.Close()
	out := []UpdateRecord{}
	for rows.Next() {
		var r UpdateRecord
		var phases string
		if err := rows.Scan(&r.ID, timeCol{&r.StartedAt}, timeColPtr{&r.FinishedAt}, &r.FromVersion, &r.ToVersion,
			&r.Outcome, &phases, &r.Message); err != nil {
			return nil, dbErr("list updates", err)
		}
		if err := json.Unmarshal([]byte(phases), &r.Phases); err != nil {
			return nil, fmt.Errorf("update %s: phases: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, dbErr("list updates", rows.Err())
}

func nonNilPhases(p []UpdatePhase) []UpdatePhase {
	if p == nil {
		return []UpdatePhase{}
	}
	return p
}
