package sqldb

import (
	"context"
	"database/sql"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

const testCols = `id, device_id, customer_id, date, inspector_id, instrument_id, standard, visual_ok,
	functional_ok, result, comment, next_due, version, seq, created_at, updated_at`

const testColCount = 16

const measurementCols = "test_id, position, kind, value, unit, base_value, parameters, limit_min, limit_max, limit_unit, result"

const measurementColCount = 11

func scanTest(s interface{ Scan(...any) error }, t *izy.Test) error {
	var version int64
	var updatedAt time.Time // tests are never updated
	return s.Scan(&t.ID, &t.DeviceID, &t.CustomerID, dateCol{&t.Date}, nullString{&t.InspectorID}, &t.InstrumentID,
		&t.Standard, &t.VisualOK, &t.FunctionalOK, &t.Result, &t.Comment, dateCol{&t.NextDue}, &version, &t.Seq,
		timeCol{&t.CreatedAt}, timeCol{&updatedAt})
}

// testArgs returns the values of testCols for t.
func (db *DB) testArgs(t *izy.Test) []any {
	return []any{t.ID, t.DeviceID, t.CustomerID, t.Date, strOrNull(t.InspectorID), t.InstrumentID,
		t.Standard, t.VisualOK, t.FunctionalOK, t.Result, t.Comment, t.NextDue, 1, t.Seq,
		db.ts(t.CreatedAt), db.ts(t.CreatedAt)}
}

// measurementArgs appends the values of measurementCols for m at position pos of test.
func measurementArgs(args []any, testID string, pos int, m *izy.Measurement) []any {
	params := "{}"
	if len(m.Parameters) > 0 {
		params = mustJSON(m.Parameters)
	}
	var lmin, lmax *float64
	lunit := ""
	if m.Limit != nil {
		lmin, lmax, lunit = m.Limit.Min, m.Limit.Max, m.Limit.Unit
	}
	// base_value is the reading in ohms or amperes, so reports and queries can compare
	// readings taken in different units; NULL only for a reading the domain cannot convert
	// (which evaluation has already refused, so only for imported legacy data).
	var base any
	if v, err := izy.NormalizeValue(m.Kind, m.Value, m.Unit); err == nil {
		base = v
	}
	return append(args, testID, pos, m.Kind, m.Value, m.Unit, base, params, lmin, lmax, lunit, m.Result)
}

func scanMeasurement(s interface{ Scan(...any) error }, testID *string, m *izy.Measurement) error {
	var pos int
	var base sql.NullFloat64
	var lmin, lmax *float64
	var lunit string
	err := s.Scan(testID, &pos, &m.Kind, &m.Value, &m.Unit, &base, jsonCol{&m.Parameters}, &lmin, &lmax, &lunit, &m.Result)
	if err != nil {
		return err
	}
	if len(m.Parameters) == 0 {
		m.Parameters = nil
	}
	if lmin != nil || lmax != nil || lunit != "" {
		m.Limit = &izy.Limit{Min: lmin, Max: lmax, Unit: lunit}
	}
	return nil
}

// rowsValues returns "(?, …), (?, …)" for rows rows of n columns.
func rowsValues(rows, n int) string {
	one := "(" + placeholders(n) + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// CreateTest stores an evaluated test and its measurements and, when the test is not older
// than the device's last test, moves the device's last test date, result and next due date
// to it (bumping the device's seq, not its version).
func (db *DB) CreateTest(ctx context.Context, t *izy.Test) error {
	return db.write(ctx, func(x *tx) error { return x.createTest(ctx, t) })
}

func (x *tx) createTest(ctx context.Context, t *izy.Test) error {
	db := x.db
	if t.ID == "" {
		t.ID = izy.NewID()
	}
	if len(t.Measurements) > izy.MaxMeasurements {
		return izy.Errorf(izy.EINVALID, "a test has at most %d measurements", izy.MaxMeasurements)
	}
	var cust string
	var loc *string
	err := x.queryRow(ctx, "SELECT customer_id, location_id FROM devices WHERE id = ?", t.DeviceID).Scan(&cust, strPtrCol{&loc})
	if err == sql.ErrNoRows {
		return izy.Errorf(izy.EINVALID, "device_id %s does not exist", t.DeviceID)
	}
	if err != nil {
		return dbErr("create test", err)
	}
	if t.CustomerID == "" {
		t.CustomerID = cust
	} else if t.CustomerID != cust {
		return izy.Errorf(izy.EINVALID, "device %s belongs to another customer", t.DeviceID)
	}
	// Tests are append-only, but recording one online on a device that someone holds
	// exclusively would surprise the holder as much as an edit.
	if err := x.checkNotHeld(ctx, "device", cust, loc); err != nil {
		return err
	}
	if t.InstrumentID != nil {
		var n int
		if err := x.queryRow(ctx, "SELECT count(*) FROM instruments WHERE id = ?", *t.InstrumentID).Scan(&n); err != nil {
			return dbErr("create test", err)
		}
		if n == 0 {
			return izy.Errorf(izy.EINVALID, "instrument_id %s does not exist", *t.InstrumentID)
		}
	}
	if t.InspectorID != "" {
		var n int
		if err := x.queryRow(ctx, "SELECT count(*) FROM users WHERE id = ?", t.InspectorID).Scan(&n); err != nil {
			return dbErr("create test", err)
		}
		if n == 0 {
			return izy.Errorf(izy.EINVALID, "inspector_id %s does not exist", t.InspectorID)
		}
	}
	seq, err := x.nextSeq(ctx)
	if err != nil {
		return err
	}
	t.Seq, t.CreatedAt = seq, now()
	if _, err := x.exec(ctx, "INSERT INTO tests ("+testCols+") VALUES ("+placeholders(testColCount)+")", db.testArgs(t)...); err != nil {
		t.Seq = 0
		return constraintErr("create test", err, "", "device_id, inspector_id or instrument_id does not exist")
	}
	if n := len(t.Measurements); n > 0 {
		args := make([]any, 0, n*measurementColCount)
		for i := range t.Measurements {
			args = measurementArgs(args, t.ID, i, &t.Measurements[i])
		}
		if _, err := x.exec(ctx, "INSERT INTO measurements ("+measurementCols+") VALUES "+rowsValues(n, measurementColCount), args...); err != nil {
			return constraintErr("create test: measurements", err, "", "")
		}
	}
	dseq, err := x.nextSeq(ctx)
	if err != nil {
		return err
	}
	if _, err := x.exec(ctx, `UPDATE devices SET last_test_date = ?, last_result = ?, next_due = ?, seq = ?
		WHERE id = ? AND (last_test_date IS NULL OR last_test_date <= ?)`,
		t.Date, t.Result, t.NextDue, dseq, t.DeviceID, t.Date); err != nil {
		return dbErr("create test: update device", err)
	}
	return x.audit(ctx, "create", "test", t.ID, t)
}

// GetTest returns a test with its measurements, or ENOTFOUND.
func (db *DB) GetTest(ctx context.Context, id string) (*izy.Test, error) {
	var t izy.Test
	err := db.read(ctx, func(x *tx) error {
		err := scanTest(x.queryRow(ctx, "SELECT "+testCols+" FROM tests WHERE id = ?", id), &t)
		if err == sql.ErrNoRows {
			return izy.Errorf(izy.ENOTFOUND, "test %s not found", id)
		}
		if err != nil {
			return dbErr("get test", err)
		}
		return x.loadMeasurements(ctx, []*izy.Test{&t})
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// loadMeasurements fills the measurements of tests with one query.
func (x *tx) loadMeasurements(ctx context.Context, tests []*izy.Test) error {
	if len(tests) == 0 {
		return nil
	}
	byID := make(map[string]*izy.Test, len(tests))
	args := make([]any, len(tests))
	for i, t := range tests {
		t.Measurements = []izy.Measurement{}
		byID[t.ID] = t
		args[i] = t.ID
	}
	rows, err := x.query(ctx, "SELECT "+measurementCols+" FROM measurements WHERE test_id IN ("+placeholders(len(tests))+") ORDER BY test_id, position", args...)
	if err != nil {
		return dbErr("load measurements", err)
	}
	defer rows.Close()
	for rows.Next() {
		var testID string
		var m izy.Measurement
		if err := scanMeasurement(rows, &testID, &m); err != nil {
			return dbErr("load measurements", err)
		}
		if t := byID[testID]; t != nil {
			t.Measurements = append(t.Measurements, m)
		}
	}
	return dbErr("load measurements", rows.Err())
}

// ListTests returns a page of tests with their measurements in ID order.
func (db *DB) ListTests(ctx context.Context, f izy.TestFilter) ([]izy.Test, string, error) {
	after, err := pageArgs(&f.Page)
	if err != nil {
		return nil, "", err
	}
	var w where
	if after != "" {
		w.add("id > ?", after)
	}
	if f.GrantedTo != "" {
		w.add(grantedCond, f.GrantedTo)
	}
	if f.DeviceID != "" {
		w.add("device_id = ?", f.DeviceID)
	}
	if f.CustomerID != "" {
		w.add("customer_id = ?", f.CustomerID)
	}
	if f.Result != "" {
		w.add("result = ?", f.Result)
	}
	var items []izy.Test
	var next string
	err = db.read(ctx, func(x *tx) error {
		q := "SELECT " + testCols + " FROM tests" + w.String() + " ORDER BY id LIMIT ?"
		rows, err := x.query(ctx, q, append(w.args, f.Limit+1)...)
		if err != nil {
			return dbErr("list tests", err)
		}
		items = []izy.Test{}
		for rows.Next() {
			var t izy.Test
			if err := scanTest(rows, &t); err != nil {
				rows.Close()
				return dbErr("list tests", err)
			}
			items = append(items, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr("list tests", err)
		}
		items, next = nextCursor(items, f.Limit, func(t *izy.Test) string { return t.ID })
		ptrs := make([]*izy.Test, len(items))
		for i := range items {
			ptrs[i] = &items[i]
		}
		return x.loadMeasurements(ctx, ptrs)
	})
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}
