package sqldb

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
)

// Dashboard counts active devices (of the customers granted to grantedTo, when set) and
// active instruments per colour on today, with one grouped query per kind.
func (db *DB) Dashboard(ctx context.Context, today izy.Date, w izy.EscalationWindows, grantedTo string) (*izy.Dashboard, error) {
	if today.IsZero() {
		today = izy.Today()
	}
	if w == (izy.EscalationWindows{}) {
		w = izy.DefaultWindows
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	d := &izy.Dashboard{Today: today}
	err := db.read(ctx, func(t *tx) error {
		cols, args := colourCounts("next_due", "last_result", today, w)
		q := "SELECT " + cols + " FROM devices WHERE status = 'active'"
		if grantedTo != "" {
			q += " AND " + grantedCond
			args = append(args, grantedTo)
		}
		c := &d.Devices
		if err := t.queryRow(ctx, q, args...).Scan(&c.Green, &c.Yellow, &c.Orange, &c.Red); err != nil {
			return dbErr("dashboard devices", err)
		}
		cols, args = colourCounts("calibration_due", "", today, w)
		c = &d.Instruments
		if err := t.queryRow(ctx, "SELECT "+cols+" FROM instruments WHERE status = 'active'", args...).Scan(&c.Green, &c.Yellow, &c.Orange, &c.Red); err != nil {
			return dbErr("dashboard instruments", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
