package sqldb

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// sqliteTime is how SQLite stores timestamps: UTC, fixed width, so text order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// now returns the current time as stored: UTC, to the microsecond (PostgreSQL's precision).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ts returns the value that stores t.
func (db *DB) ts(t time.Time) any {
	if db.dialect == SQLite {
		return t.UTC().Format(sqliteTime)
	}
	return t.UTC()
}

// tsNull is ts with NULL for the zero time.
func (db *DB) tsNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.ts(t)
}

// timeCol scans a timestamp stored by either dialect; NULL leaves the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	if t, ok := parseSQLiteTime(s); ok {
		*c.t = t
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("bad timestamp %q: %w", s, err)
	}
	*c.t = t.UTC()
	return nil
}

// parseSQLiteTime parses the sqliteTime layout without time.Parse, which shows in the
// profile of a device list.
func parseSQLiteTime(s string) (time.Time, bool) {
	if len(s) != len(sqliteTime) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	var v [7]int
	for i, f := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 26}} {
		n, ok := digits(s[f[0]:f[1]])
		if !ok {
			return time.Time{}, false
		}
		v[i] = n
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60 {
		return time.Time{}, false
	}
	return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1000, time.UTC), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// dateCol scans a 'YYYY-MM-DD' date (or NULL) without time.Parse; anything else goes
// through izy.Date's own Scan.
type dateCol struct{ d *izy.Date }

func (c dateCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return c.d.Scan(src)
	}
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok1 := digits(s[0:4])
		m, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m) {
			*c.d = izy.Date{Year: y, Month: time.Month(m), Day: d}
			return nil
		}
	}
	return c.d.Scan(s)
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nullString scans NULL as "".
type nullString struct{ s *string }

func (c nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("cannot scan %T into a string", src)
	}
	return nil
}

// strPtrCol scans a nullable text column into a *string without reflection.
type strPtrCol struct{ p **string }

func (c strPtrCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.p = nil
	case string:
		*c.p = &v
	case []byte:
		s := string(v)
		*c.p = &s
	default:
		return fmt.Errorf("cannot scan %T into a string", src)
	}
	return nil
}

// floatPtrCol scans a nullable number into a *float64 without reflection.
type floatPtrCol struct{ p **float64 }

func (c floatPtrCol) Scan(src any) error {
	var f float64
	switch v := src.(type) {
	case nil:
		*c.p = nil
		return nil
	case float64:
		f = v
	case int64:
		f = float64(v)
	default:
		var n sql.NullFloat64
		if err := n.Scan(src); err != nil {
			return err
		}
		f = n.Float64
	}
	*c.p = &f
	return nil
}

// strOrNull stores "" as NULL.
func strOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonCol scans a JSON text column into v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return fmt.Errorf("cannot scan %T into JSON", src)
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, c.v)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only domain types with JSON-safe fields reach here
	}
	return string(b)
}

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

// versionErr explains why an update of id at version matched no row.
func (t *tx) versionErr(ctx context.Context, table, entity, id string, version int64) error {
	var cur int64
	err := t.queryRow(ctx, "SELECT version FROM "+table+" WHERE id = ?", id).Scan(&cur)
	if err == sql.ErrNoRows {
		return izy.Errorf(izy.ENOTFOUND, "%s %s not found", entity, id)
	}
	if err != nil {
		return dbErr("read version", err)
	}
	return izy.Errorf(izy.ECONFLICT, "%s was changed by someone else (version %d, you sent %d); reload and try again", entity, cur, version)
}

// encodeCursor makes the opaque cursor that follows key.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeIDCursor returns the id a cursor names, "" for no cursor.
func decodeIDCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !izy.ValidID(string(b)) {
		return "", izy.Errorf(izy.EINVALID, "cursor is not valid")
	}
	return string(b), nil
}

// decodeIntCursor returns the number a cursor names, 0 for no cursor.
func decodeIntCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, izy.Errorf(izy.EINVALID, "cursor is not valid")
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return 0, izy.Errorf(izy.EINVALID, "cursor is not valid")
	}
	return n, nil
}

// where collects the conditions and arguments of a list query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likePattern returns a LIKE pattern that matches s as a literal substring, escaping the
// LIKE metacharacters with a backslash (every LIKE here says ESCAPE '\').
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// like returns a case-insensitive LIKE condition on col: SQLite's LIKE folds ASCII case,
// PostgreSQL's ILIKE folds all of Unicode.
func (db *DB) like(col string) string {
	if db.dialect == Postgres {
		return col + ` ILIKE ? ESCAPE '\'`
	}
	return col + ` LIKE ? ESCAPE '\'`
}

// grantedCond restricts rows to the customers user holds a grant for.
const grantedCond = "customer_id IN (SELECT customer_id FROM grants WHERE user_id = ?)"

// colourCond returns the condition that a row with due column due (and, for devices, a
// last-result column) has colour c on today. Only active rows have a colour.
func colourCond(c izy.Colour, due, lastResult string, today izy.Date, w izy.EscalationWindows) (string, []any) {
	orange, yellow := w.Bounds(today)
	failed := "0 = 1"
	notFailed := "1 = 1"
	if lastResult != "" {
		failed = lastResult + " = 'fail'"
		notFailed = lastResult + " <> 'fail'"
	}
	switch c {
	case izy.Red:
		return "status = 'active' AND (" + failed + " OR " + due + " IS NULL OR " + due + " < ?)", []any{today.String()}
	case izy.Orange:
		return "status = 'active' AND " + notFailed + " AND " + due + " >= ? AND " + due + " <= ?", []any{today.String(), orange.String()}
	case izy.Yellow:
		return "status = 'active' AND " + notFailed + " AND " + due + " > ? AND " + due + " <= ?", []any{orange.String(), yellow.String()}
	default:
		return "status = 'active' AND " + notFailed + " AND " + due + " > ?", []any{yellow.String()}
	}
}

// colourCounts returns the select list that counts rows per colour, in the order green,
// yellow, orange, red, and its arguments.
func colourCounts(due, lastResult string, today izy.Date, w izy.EscalationWindows) (string, []any) {
	var cols []string
	var args []any
	for _, c := range []izy.Colour{izy.Green, izy.Yellow, izy.Orange, izy.Red} {
		cond, a := colourCond(c, due, lastResult, today, w)
		cols = append(cols, "COALESCE(SUM(CASE WHEN "+cond+" THEN 1 ELSE 0 END), 0)")
		args = append(args, a...)
	}
	return strings.Join(cols, ", "), args
}

// listPage checks a page request and returns the cursor key and the limit.
func pageArgs(p *izy.Page) (string, error) {
	if err := p.Normalize(); err != nil {
		return "", err
	}
	return decodeIDCursor(p.Cursor)
}

// nextCursor trims a page fetched with limit+1 rows and returns the cursor of its last row.
func nextCursor[T any](items []T, limit int, id func(*T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(id(&items[limit-1]))
}
