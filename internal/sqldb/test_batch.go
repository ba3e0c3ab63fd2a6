package sqldb

import (
	"context"
	"encoding/json"
	"sort"

	izy "github.com/izytroniq/izytroniq"
)

// Rows per multi-row statement of CreateTests: well below SQLite's 32,766 and
// PostgreSQL's 65,535 bound parameters.
const (
	testsPerStmt        = 500
	measurementsPerStmt = 2000
	auditPerStmt        = 1000
)

// CreateTests stores tests that the caller has validated and evaluated as for CreateTest,
// with multi-row statements: an upload's run of offline tests costs a few statements
// instead of a dozen per test. The checks and effects are createTest's: the device must
// exist and belong to the test's customer and not be held exclusively by another
// checkout, the instrument and inspector must exist; each test takes a change seq and
// moves its device's last test as createTest would (a test followed by its device's seq,
// in the order of tests); each gets an audit entry. When any check fails nothing is
// written and the error is returned: the caller then stores the tests one by one to
// learn which one fails (see syncer's apply).
func (s *SyncTx) CreateTests(ctx context.Context, tests []*izy.Test) error {
	return s.t.createTests(ctx, tests)
}

func (x *tx) createTests(ctx context.Context, tests []*izy.Test) error {
	if len(tests) == 0 {
		return nil
	}
	type devState struct {
		customer string
		loc      *string
		last     izy.Date // zero: no test yet
		// the final values createTest's UPDATE would leave, when one of the tests moved them
		moved   bool
		date    izy.Date
		nextDue izy.Date
		result  string
		seq     int64
		checked bool
	}
	devs := map[string]*devState{}
	var instruments, inspectors []string
	seenInst, seenInsp := map[string]bool{}, map[string]bool{}
	for _, t := range tests {
		if t.ID == "" {
			t.ID = izy.NewID()
		}
		if len(t.Measurements) > izy.MaxMeasurements {
			return izy.Errorf(izy.EINVALID, "a test has at most %d measurements", izy.MaxMeasurements)
		}
		devs[t.DeviceID] = nil
		if t.InstrumentID != nil && !seenInst[*t.InstrumentID] {
			seenInst[*t.InstrumentID] = true
			instruments = append(instruments, *t.InstrumentID)
		}
		if t.InspectorID != "" && !seenInsp[t.InspectorID] {
			seenInsp[t.InspectorID] = true
			inspectors = append(inspectors, t.InspectorID)
		}
	}
	ids := make([]string, 0, len(devs))
	for id := range devs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for start := 0; start < len(ids); start += testsPerStmt {
		chunk := ids[start:min(start+testsPerStmt, len(ids))]
		rows, err := x.query(ctx, "SELECT id, customer_id, location_id, last_test_date FROM devices WHERE id IN ("+placeholders(len(chunk))+")", anys(chunk)...)
		if err != nil {
			return dbErr("create tests", err)
		}
		for rows.Next() {
			var id string
			d := &devState{}
			if err := rows.Scan(&id, &d.customer, strPtrCol{&d.loc}, dateCol{&d.last}); err != nil {
				rows.Close()
				return dbErr("create tests", err)
			}
			devs[id] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr("create tests", err)
		}
	}
	noHolds := map[string]bool{}
	for _, t := range tests {
		d := devs[t.DeviceID]
		if d == nil {
			return izy.Errorf(izy.EINVALID, "device_id %s does not exist", t.DeviceID)
		}
		if t.CustomerID == "" {
			t.CustomerID = d.customer
		} else if t.CustomerID != d.customer {
			return izy.Errorf(izy.EINVALID, "device %s belongs to another customer", t.DeviceID)
		}
		if !d.checked {
			if err := x.checkNotHeldCached(ctx, noHolds, d.customer, d.loc); err != nil {
				return err
			}
			d.checked = true
		}
	}
	if err := x.allExist(ctx, "instruments", instruments, "instrument_id %s does not exist"); err != nil {
		return err
	}
	if err := x.allExist(ctx, "users", inspectors, "inspector_id %s does not exist"); err != nil {
		return err
	}
	seqs, err := x.nextSeqs(ctx, 2*len(tests))
	if err != nil {
		return err
	}
	at := now()
	for i, t := range tests {
		t.Seq, t.CreatedAt = seqs[2*i], at
		d := devs[t.DeviceID]
		// createTest: UPDATE devices … WHERE last_test_date IS NULL OR last_test_date <= date
		if d.last.IsZero() || !t.Date.Before(d.last) {
			d.last, d.moved, d.date, d.result, d.nextDue, d.seq = t.Date, true, t.Date, t.Result, t.NextDue, seqs[2*i+1]
		}
	}
	fail := func(err error) error {
		for _, t := range tests {
			t.Seq = 0
		}
		return err
	}
	for start := 0; start < len(tests); start += testsPerStmt {
		chunk := tests[start:min(start+testsPerStmt, len(tests))]
		args := make([]any, 0, len(chunk)*testColCount)
		for _, t := range chunk {
			args = append(args, x.db.testArgs(t)...)
		}
		if _, err := x.exec(ctx, "INSERT INTO tests ("+testCols+") VALUES "+rowsValues(len(chunk), testColCount), args...); err != nil {
			return fail(constraintErr("create test", err, "", "device_id, inspector_id or instrument_id does not exist"))
		}
	}
	var margs []any
	nm := 0
	flush := func() error {
		if nm == 0 {
			return nil
		}
		_, err := x.exec(ctx, "INSERT INTO measurements ("+measurementCols+") VALUES "+rowsValues(nm, measurementColCount), margs...)
		margs, nm = margs[:0], 0
		if err != nil {
			return fail(constraintErr("create test: measurements", err, "", ""))
		}
		return nil
	}
	for _, t := range tests {
		if nm+len(t.Measurements) > measurementsPerStmt {
			if err := flush(); err != nil {
				return err
			}
		}
		for i := range t.Measurements {
			margs = measurementArgs(margs, t.ID, i, &t.Measurements[i])
			nm++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, id := range ids {
		d := devs[id]
		if !d.moved {
			continue
		}
		if _, err := x.exec(ctx, `UPDATE devices SET last_test_date = ?, last_result = ?, next_due = ?, seq = ? WHERE id = ?`,
			d.date, d.result, d.nextDue, d.seq, id); err != nil {
			return fail(dbErr("create test: update device", err))
		}
	}
	user := izy.UserIDFromContext(ctx)
	ts := x.db.ts(now())
	for start := 0; start < len(tests); start += auditPerStmt {
		chunk := tests[start:min(start+auditPerStmt, len(tests))]
		args := make([]any, 0, 6*len(chunk))
		for _, t := range chunk {
			detail, err := json.Marshal(t)
			if err != nil {
				return fail(dbErr("write audit entry", err))
			}
			args = append(args, ts, user, "create", "test", t.ID, string(detail))
		}
		if _, err := x.exec(ctx, `INSERT INTO audit_log (at, user_id, action, entity, entity_id, detail) VALUES `+rowsValues(len(chunk), 6), args...); err != nil {
			return fail(dbErr("write audit entry", err))
		}
	}
	return nil
}

// checkNotHeldCached is checkNotHeld for many writes in one transaction: the exclusive
// checkouts of a customer are read once per transaction; only a customer that has some
// goes through checkNotHeld for each location. noHolds caches the answer per customer.
func (x *tx) checkNotHeldCached(ctx context.Context, noHolds map[string]bool, customerID string, loc *string) error {
	free, known := noHolds[customerID]
	if !known {
		var n int
		err := x.queryRow(ctx, `SELECT count(*) FROM checkouts WHERE customer_id = ? AND mode = 'exclusive' AND released_at IS NULL AND id <> ?`,
			customerID, x.holder).Scan(&n)
		if err != nil {
			return dbErr("check checkouts", err)
		}
		free = n == 0
		noHolds[customerID] = free
	}
	if free {
		return nil
	}
	return x.checkNotHeld(ctx, "device", customerID, loc)
}

// allExist returns an EINVALID error naming the first of ids that table lacks.
func (x *tx) allExist(ctx context.Context, table string, ids []string, msg string) error {
	if len(ids) == 0 {
		return nil
	}
	found := map[string]bool{}
	rows, err := x.query(ctx, "SELECT id FROM "+table+" WHERE id IN ("+placeholders(len(ids))+")", anys(ids)...)
	if err != nil {
		return dbErr("create tests", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return dbErr("create tests", err)
		}
		found[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbErr("create tests", err)
	}
	for _, id := range ids {
		if !found[id] {
			return izy.Errorf(izy.EINVALID, msg, id)
		}
	}
	return nil
}

// nextSeqs takes n numbers of the change sequence, in increasing order (see nextSeq).
func (x *tx) nextSeqs(ctx context.Context, n int) ([]int64, error) {
	seqs := make([]int64, 0, n)
	if x.db.dialect == Postgres {
		rows, err := x.query(ctx, "SELECT nextval('change_seq') FROM generate_series(1, ?)", n)
		if err != nil {
			return nil, dbErr("next change sequence", err)
		}
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, dbErr("next change sequence", err)
			}
			seqs = append(seqs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr("next change sequence", err)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		return seqs, nil
	}
	var end int64
	if err := x.queryRow(ctx, "UPDATE change_seq SET value = value + ? WHERE id = 1 RETURNING value", n).Scan(&end); err != nil {
		return nil, dbErr("next change sequence", err)
	}
	for s := end - int64(n) + 1; s <= end; s++ {
		seqs = append(seqs, s)
	}
	return seqs, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
