package sqldb

import (
	"context"
	"database/sql"

	izy "github.com/izytroniq/izytroniq"
)

const instrumentCols = "id, type, manufacturer, model, serial_number, calibration_due, status, version, seq, created_at, updated_at"

func scanInstrument(s interface{ Scan(...any) error }, i *izy.Instrument) error {
	return s.Scan(&i.ID, &i.Type, &i.Manufacturer, &i.Model, &i.SerialNumber, dateCol{&i.CalibrationDue},
		&i.Status, &i.Version, &i.Seq, timeCol{&i.CreatedAt}, timeCol{&i.UpdatedAt})
}

// CreateInstrument stores a new test instrument.
func (db *DB) CreateInstrument(ctx context.Context, i *izy.Instrument) error {
	if i.ID == "" {
		i.ID = izy.NewID()
	}
	if i.Status == "" {
		i.Status = izy.DeviceActive
	}
	return db.write(ctx, func(t *tx) error {
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		at := now()
		_, err = t.exec(ctx, `INSERT INTO instruments (`+instrumentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			i.ID, i.Type, i.Manufacturer, i.Model, i.SerialNumber, i.CalibrationDue, i.Status, 1, seq, db.ts(at), db.ts(at))
		if err != nil {
			return constraintErr("create instrument", err, "", "")
		}
		i.Version, i.Seq, i.CreatedAt, i.UpdatedAt = 1, seq, at, at
		return t.audit(ctx, "create", "instrument", i.ID, i)
	})
}

// GetInstrument returns an instrument or ENOTFOUND.
func (db *DB) GetInstrument(ctx context.Context, id string) (*izy.Instrument, error) {
	var i izy.Instrument
	err := scanInstrument(db.queryRow(ctx, "SELECT "+instrumentCols+" FROM instruments WHERE id = ?", id), &i)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "instrument %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get instrument", err)
	}
	return &i, nil
}

// UpdateInstrument writes an instrument if i.Version is current.
func (db *DB) UpdateInstrument(ctx context.Context, i *izy.Instrument) error {
	if i.Status == "" {
		i.Status = izy.DeviceActive
	}
	return db.write(ctx, func(t *tx) error {
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE instruments SET type = ?, manufacturer = ?, model = ?, serial_number = ?,
			calibration_due = ?, status = ?, version = version + 1, seq = ?, updated_at = ?
			WHERE id = ? AND version = ?`,
			i.Type, i.Manufacturer, i.Model, i.SerialNumber, i.CalibrationDue, i.Status, seq, db.ts(now()), i.ID, i.Version)
		if err != nil {
			return constraintErr("update instrument", err, "", "")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return t.versionErr(ctx, "instruments", "instrument", i.ID, i.Version)
		}
		var got izy.Instrument
		if err := scanInstrument(t.queryRow(ctx, "SELECT "+instrumentCols+" FROM instruments WHERE id = ?", i.ID), &got); err != nil {
			return dbErr("update instrument", err)
		}
		*i = got
		return t.audit(ctx, "update", "instrument", i.ID, i)
	})
}

// ListInstruments returns a page of instruments in ID order.
func (db *DB) ListInstruments(ctx context.Context, f izy.InstrumentFilter) ([]izy.Instrument, string, error) {
	after, err := pageArgs(&f.Page)
	if err != nil {
		return nil, "", err
	}
	var w where
	if after != "" {
		w.add("id > ?", after)
	}
	if f.Colour != "" {
		if !f.Colour.Valid() {
			return nil, "", izy.Errorf(izy.EINVALID, "colour must be green, yellow, orange or red")
		}
		today, win := f.Today, f.Windows
		if today.IsZero() {
			today = izy.Today()
		}
		if win == (izy.EscalationWindows{}) {
			win = izy.DefaultWindows
		}
		cond, args := colourCond(f.Colour, "calibration_due", "", today, win)
		w.add(cond, args...)
	}
	q := "SELECT " + instrumentCols + " FROM instruments" + w.String() + " ORDER BY id LIMIT ?"
	return listPage(ctx, db, "list instruments", q, w.args, f.Limit, scanInstrument, func(i *izy.Instrument) string { return i.ID })
}
