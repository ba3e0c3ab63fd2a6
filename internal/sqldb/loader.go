package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	izy "github.com/izytroniq/izytroniq"
)

// Loader bulk-loads rows for seeding, import and benchmarks: large transactions of
// batchRows rows, multi-row INSERT statements prepared once (SQLite) or COPY (PostgreSQL),
// no per-row audit entry (one "bulk load" entry per Close). It holds a connection, and on
// SQLite the write lock, from NewLoader to Close or Abort: other writes wait meanwhile.
//
// Rows must come parents first (a customer before its locations and devices, a device
// before its tests); a row that references a row loaded later fails the load. The methods
// fill ID, Version, Seq and timestamps where they are empty. Loader is not safe for
// concurrent use. It keeps the context given to NewLoader, since its methods are called
// row by row.
type Loader struct {
	db       *DB
	ctx      context.Context
	conn     *sql.Conn
	batch    int
	pending  int       // rows in the open transaction
	at       time.Time // the timestamp of rows that bring none
	atValue  any       // db.ts(at)
	seq      int64     // SQLite: last seq taken in this transaction
	seqs     []int64   // PostgreSQL: seq numbers taken from the sequence, not yet used
	seqBlock int       // PostgreSQL: size of the last block of seq numbers fetched
	tables   []*loadTable
	counts   map[string]int64
	args     []driver.NamedValue // reused for every INSERT
	inTx     bool
	err      error
	done     bool
}

// loadTable buffers the rows of one table.
type loadTable struct {
	name  string
	cols  []string
	flat  []any               // buffered rows, len(cols) values each
	n     int                 // rows in flat
	chunk int                 // SQLite: rows per prepared INSERT
	stmts map[int]driver.Stmt // SQLite: INSERT of n rows, prepared on the driver connection
}

// Tables in the order their rows are written: parents first.
const (
	ltCustomers = iota
	ltUsers
	ltGrants
	ltLocations
	ltInstruments
	ltDevices
	ltTests
	ltMeasurements
	ltCount
)

// loaderCacheKiB is the SQLite page cache of a loader's connection.
const loaderCacheKiB = 128 << 10

// sqliteMaxVars is SQLite's default limit of parameters per statement.
const sqliteMaxVars = 32766

// NewLoader starts a bulk load that commits every batchRows rows (0 means 50,000).
func (db *DB) NewLoader(ctx context.Context, batchRows int) (*Loader, error) {
	if batchRows <= 0 {
		batchRows = 50000
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, dbErr("loader", err)
	}
	l := &Loader{db: db, ctx: ctx, conn: conn, batch: batchRows, at: now(), counts: map[string]int64{}}
	l.atValue = db.ts(l.at)
	split := func(s string) []string {
		f := strings.Split(s, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	defs := [ltCount]struct{ name, cols string }{
		ltCustomers:    {"customers", customerCols},
		ltUsers:        {"users", "id, username, display_name, role, password_hash, disabled, version, seq, created_at, updated_at"},
		ltGrants:       {"grants", "user_id, customer_id, access"},
		ltLocations:    {"locations", locationCols},
		ltInstruments:  {"instruments", instrumentCols},
		ltDevices:      {"devices", deviceCols},
		ltTests:        {"tests", testCols},
		ltMeasurements: {"measurements", measurementCols},
	}
	for _, d := range defs {
		cols := split(d.cols)
		chunk := min(sqliteMaxVars/len(cols), 200)
		l.tables = append(l.tables, &loadTable{name: d.name, cols: cols, chunk: chunk, stmts: map[int]driver.Stmt{}})
	}
	if db.dialect == SQLite {
		// A batch's pages stay in memory until commit instead of spilling to the WAL
		// mid-transaction; release restores the normal size.
		if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(loaderCacheKiB)); err != nil {
			conn.Close()
			return nil, dbErr("loader", err)
		}
	}
	if err := l.begin(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

func (l *Loader) begin() error {
	if l.db.dialect == SQLite {
		if _, err := l.conn.ExecContext(l.ctx, "BEGIN IMMEDIATE"); err != nil {
			return dbErr("loader: begin", err)
		}
		l.inTx = true
		// Rows arrive parents first, but the prepared INSERTs of different tables run
		// as their chunks fill, so foreign keys are checked at commit.
		if _, err := l.conn.ExecContext(l.ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return dbErr("loader: begin", err)
		}
		if err := l.conn.QueryRowContext(l.ctx, "SELECT value FROM change_seq WHERE id = 1").Scan(&l.seq); err != nil {
			return dbErr("loader: begin", err)
		}
		return nil
	}
	if _, err := l.conn.ExecContext(l.ctx, "BEGIN"); err != nil {
		return dbErr("loader: begin", err)
	}
	if _, err := l.conn.ExecContext(l.ctx, writeLockSQL); err != nil { // see DB.write
		return dbErr("loader: take the write lock", err)
	}
	l.inTx = true
	return nil
}

// nextSeq returns the next change sequence number for a loaded row.
func (l *Loader) nextSeq() (int64, error) {
	if l.db.dialect == SQLite {
		l.seq++
		return l.seq, nil
	}
	if len(l.seqs) == 0 {
		// Fetch in growing blocks: small loads take few numbers, large ones few round trips.
		l.seqBlock = min(max(2*l.seqBlock, 1024), 100000)
		n := l.seqBlock
		rows, err := l.conn.QueryContext(l.ctx, "SELECT nextval('change_seq') FROM generate_series(1, $1)", n)
		if err != nil {
			return 0, dbErr("loader: sequence", err)
		}
		defer rows.Close()
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				return 0, dbErr("loader: sequence", err)
			}
			l.seqs = append(l.seqs, s)
		}
		if err := rows.Err(); err != nil {
			return 0, dbErr("loader: sequence", err)
		}
	}
	s := l.seqs[0]
	l.seqs = l.seqs[1:]
	return s, nil
}

// ts is db.ts, with the load's own timestamp formatted once.
func (l *Loader) ts(t time.Time) any {
	if t.Equal(l.at) {
		return l.atValue
	}
	return l.db.ts(t)
}

// stamp fills the common fields of a loaded row.
func (l *Loader) stamp(id *string, version *int64, seq *int64, created, updated *time.Time) error {
	if *id == "" {
		*id = izy.NewID()
	}
	if *version == 0 {
		*version = 1
	}
	if *seq == 0 {
		s, err := l.nextSeq()
		if err != nil {
			return err
		}
		*seq = s
	}
	if created.IsZero() {
		*created = l.at
	}
	if updated != nil && updated.IsZero() {
		*updated = *created
	}
	return nil
}

// add buffers one row of table t, writing chunks and committing batches as they fill.
func (l *Loader) add(t int, row []any) error {
	if l.err != nil {
		return l.err
	}
	if l.done {
		return fmt.Errorf("loader is closed")
	}
	lt := l.tables[t]
	for _, v := range row {
		lt.flat = append(lt.flat, driverValue(v))
	}
	lt.n++
	l.pending++
	l.counts[lt.name]++
	if l.db.dialect == SQLite && lt.n >= lt.chunk {
		if err := l.flushTable(lt); err != nil {
			return l.fail(err)
		}
	}
	return nil
}

// endRow commits the batch when it is full. It runs after a whole entity (a test with its
// measurements, a user with its grants) is buffered.
func (l *Loader) endRow() error {
	if l.pending >= l.batch {
		if err := l.commit(); err != nil {
			return l.fail(err)
		}
		if err := l.begin(); err != nil {
			return l.fail(err)
		}
	}
	return nil
}

func (l *Loader) fail(err error) error {
	if l.err == nil {
		l.err = err
	}
	return l.err
}

// flushTable writes the buffered rows of one table.
func (l *Loader) flushTable(lt *loadTable) error {
	if lt.n == 0 {
		return nil
	}
	w := len(lt.cols)
	if l.db.dialect == Postgres {
		err := l.conn.Raw(func(dc any) error {
			c := dc.(*stdlib.Conn).Conn()
			_, err := c.CopyFrom(l.ctx, pgx.Identifier{lt.name}, lt.cols, pgx.CopyFromSlice(lt.n, func(i int) ([]any, error) {
				return lt.flat[i*w : (i+1)*w], nil
			}))
			return err
		})
		if err != nil {
			return constraintErr("loader: copy "+lt.name, err, "duplicate key in "+lt.name, "a row of "+lt.name+" references a row that does not exist (load parents first)")
		}
		lt.flat, lt.n = lt.flat[:0], 0
		return nil
	}
	// The rows hold driver values already, so the INSERTs go straight to the driver,
	// without database/sql converting every argument again.
	err := l.conn.Raw(func(dc any) error {
		for done := 0; done < lt.n; {
			n := min(lt.n-done, lt.chunk)
			st, err := l.insertStmt(dc, lt, n)
			if err != nil {
				return err
			}
			args := l.args[:0]
			for i, v := range lt.flat[done*w : (done+n)*w] {
				args = append(args, driver.NamedValue{Ordinal: i + 1, Value: v})
			}
			l.args = args
			if _, err := st.(driver.StmtExecContext).ExecContext(l.ctx, args); err != nil {
				return constraintErr("loader: insert "+lt.name, err, "duplicate key in "+lt.name, "")
			}
			done += n
		}
		return nil
	})
	clear(lt.flat) // drop references for the GC
	lt.flat, lt.n = lt.flat[:0], 0
	return err
}

// insertStmt returns the INSERT of n rows into lt, prepared once on the loader's connection.
func (l *Loader) insertStmt(dc any, lt *loadTable, n int) (driver.Stmt, error) {
	if st := lt.stmts[n]; st != nil {
		return st, nil
	}
	q := "INSERT INTO " + lt.name + " (" + strings.Join(lt.cols, ", ") + ") VALUES " + rowsValues(n, len(lt.cols))
	st, err := dc.(driver.ConnPrepareContext).PrepareContext(l.ctx, q)
	if err != nil {
		return nil, dbErr("loader: prepare", err)
	}
	lt.stmts[n] = st
	return st, nil
}

// commit writes every buffered row, parents first, and commits.
func (l *Loader) commit() error {
	for _, lt := range l.tables {
		if err := l.flushTable(lt); err != nil {
			return err
		}
	}
	if l.db.dialect == SQLite {
		if _, err := l.conn.ExecContext(l.ctx, "UPDATE change_seq SET value = ? WHERE id = 1", l.seq); err != nil {
			return dbErr("loader: sequence", err)
		}
	}
	if _, err := l.conn.ExecContext(l.ctx, "COMMIT"); err != nil {
		return constraintErr("loader: commit", err, "duplicate key", "a loaded row references a row that does not exist (load parents first)")
	}
	l.inTx = false
	l.pending = 0
	return nil
}

// Customer buffers a customer.
func (l *Loader) Customer(c *izy.Customer) error {
	if err := l.stamp(&c.ID, &c.Version, &c.Seq, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return l.fail(err)
	}
	if c.Contacts == nil {
		c.Contacts = []izy.Contact{}
	}
	if err := l.add(ltCustomers, []any{c.ID, c.Number, c.Name, c.Address, mustJSON(c.Contacts), c.Version, c.Seq,
		l.ts(c.CreatedAt), l.ts(c.UpdatedAt)}); err != nil {
		return err
	}
	return l.endRow()
}

// Location buffers a location.
func (l *Loader) Location(loc *izy.Location) error {
	if err := l.stamp(&loc.ID, &loc.Version, &loc.Seq, &loc.CreatedAt, &loc.UpdatedAt); err != nil {
		return l.fail(err)
	}
	if err := l.add(ltLocations, []any{loc.ID, loc.CustomerID, strPtr(loc.ParentID), string(loc.Kind), loc.Name,
		loc.Version, loc.Seq, l.ts(loc.CreatedAt), l.ts(loc.UpdatedAt)}); err != nil {
		return err
	}
	return l.endRow()
}

// Device buffers a device, with whatever last-test fields it carries.
func (l *Loader) Device(d *izy.Device) error {
	if err := l.stamp(&d.ID, &d.Version, &d.Seq, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return l.fail(err)
	}
	if d.Status == "" {
		d.Status = izy.DeviceActive
	}
	if d.IntervalMonths == 0 {
		d.IntervalMonths = izy.DefaultIntervalMonths
	}
	var m izy.MedicalInfo
	if d.Medical != nil {
		m = *d.Medical
	}
	if err := l.add(ltDevices, []any{d.ID, d.CustomerID, strPtr(d.LocationID), d.InventoryID, d.Designation, d.Type,
		d.Manufacturer, d.Model, d.SerialNumber, string(d.ProtectionClass), d.CableLengthM,
		d.CableCrossMM2, d.HeatingElements, floatPtr(d.HeatingPowerKW), d.CostCentre, d.Department,
		d.Standard, int64(d.IntervalMonths), d.Comment, d.Status, d.Tag,
		d.Medical != nil, m.UDI, int64(m.AppliedB), int64(m.AppliedBF), int64(m.AppliedCF), m.NetworkAware,
		dateVal(d.LastTestDate), d.LastResult, dateVal(d.NextDue), d.Version, d.Seq,
		l.ts(d.CreatedAt), l.ts(d.UpdatedAt)}); err != nil {
		return err
	}
	return l.endRow()
}

// Instrument buffers a test instrument.
func (l *Loader) Instrument(i *izy.Instrument) error {
	if err := l.stamp(&i.ID, &i.Version, &i.Seq, &i.CreatedAt, &i.UpdatedAt); err != nil {
		return l.fail(err)
	}
	if i.Status == "" {
		i.Status = izy.DeviceActive
	}
	if err := l.add(ltInstruments, []any{i.ID, i.Type, i.Manufacturer, i.Model, i.SerialNumber, dateVal(i.CalibrationDue),
		i.Status, i.Version, i.Seq, l.ts(i.CreatedAt), l.ts(i.UpdatedAt)}); err != nil {
		return err
	}
	return l.endRow()
}

// Test buffers an evaluated test with its measurements. It does not touch the device:
// the caller loads the device with its last-test fields set.
func (l *Loader) Test(t *izy.Test) error {
	var version int64
	if err := l.stamp(&t.ID, &version, &t.Seq, &t.CreatedAt, nil); err != nil {
		return l.fail(err)
	}
	if err := l.add(ltTests, []any{t.ID, t.DeviceID, t.CustomerID, dateVal(t.Date), strOrNull(t.InspectorID), strPtr(t.InstrumentID),
		t.Standard, t.VisualOK, t.FunctionalOK, t.Result, t.Comment, dateVal(t.NextDue), version, t.Seq,
		l.ts(t.CreatedAt), l.ts(t.CreatedAt)}); err != nil {
		return err
	}
	for i := range t.Measurements {
		if err := l.add(ltMeasurements, measurementArgs(make([]any, 0, measurementColCount), t.ID, i, &t.Measurements[i])); err != nil {
			return err
		}
	}
	return l.endRow()
}

// User buffers a user with its grants and password hash.
func (l *Loader) User(u *izy.User, passwordHash string) error {
	var seq int64
	if err := l.stamp(&u.ID, &u.Version, &seq, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return l.fail(err)
	}
	if u.Grants == nil {
		u.Grants = []izy.Grant{}
	}
	if err := l.add(ltUsers, []any{u.ID, u.Username, u.DisplayName, string(u.Role), passwordHash, u.Disabled,
		u.Version, seq, l.ts(u.CreatedAt), l.ts(u.UpdatedAt)}); err != nil {
		return err
	}
	for _, g := range u.Grants {
		if err := l.add(ltGrants, []any{u.ID, g.CustomerID, g.Access}); err != nil {
			return err
		}
	}
	return l.endRow()
}

// Close writes the remaining rows, one audit entry for the whole load, and commits.
func (l *Loader) Close() error {
	if l.done {
		return l.err
	}
	if l.err != nil {
		l.Abort()
		return l.err
	}
	err := l.finish()
	if err != nil {
		l.Abort()
		l.err = err
		return err
	}
	l.done = true
	l.release()
	return nil
}

func (l *Loader) finish() error {
	for _, lt := range l.tables {
		if err := l.flushTable(lt); err != nil {
			return err
		}
	}
	_, err := l.conn.ExecContext(l.ctx, l.db.rebind(`INSERT INTO audit_log (at, user_id, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)`),
		l.db.ts(now()), izy.UserIDFromContext(l.ctx), "bulk load", "database", "", mustJSON(l.counts))
	if err != nil {
		return dbErr("loader: audit", err)
	}
	return l.commit()
}

// Abort rolls back the open transaction; batches already committed stay.
func (l *Loader) Abort() {
	if l.done {
		return
	}
	l.done = true
	if l.inTx {
		l.conn.ExecContext(context.WithoutCancel(l.ctx), "ROLLBACK")
		l.inTx = false
	}
	l.release()
}

func (l *Loader) release() {
	l.conn.Raw(func(any) error {
		for _, lt := range l.tables {
			for _, st := range lt.stmts {
				st.Close()
			}
			lt.flat, lt.n = nil, 0
		}
		return nil
	})
	if l.db.dialect == SQLite {
		l.conn.ExecContext(context.WithoutCancel(l.ctx), "PRAGMA cache_size = "+sqliteCacheSize)
	}
	l.conn.Close()
}

// Counts returns how many rows of each table the loader has taken.
func (l *Loader) Counts() map[string]int64 {
	m := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		m[k] = v
	}
	return m
}

func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func floatPtr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// dateVal is d.Value without fmt, which shows in bulk-load profiles.
func dateVal(d izy.Date) any {
	if d.IsZero() {
		return nil
	}
	if d.Year < 1000 || d.Year > 9999 {
		return d.String()
	}
	b := make([]byte, 0, 10)
	b = strconv.AppendInt(b, int64(d.Year), 10)
	b = append(b, '-', byte('0'+d.Month/10), byte('0'+d.Month%10), '-', byte('0'+d.Day/10), byte('0'+d.Day%10))
	return string(b)
}

// driverValue turns the few non-driver types the rows carry into driver values.
func driverValue(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case *float64:
		return floatPtr(x)
	case *string:
		return strPtr(x)
	case izy.Date:
		return dateVal(x)
	}
	return v
}
