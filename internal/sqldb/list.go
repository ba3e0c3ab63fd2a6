package sqldb

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

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

// listPage runs a keyset page query q (which ends in "LIMIT ?", given limit+1 so that one
// extra row tells whether another page follows), scans each row with scan, and returns
// the page and the cursor of the next one. what names the list in errors.
func listPage[T any](ctx context.Context, db *DB, what, q string, args []any, limit int,
	scan func(interface{ Scan(...any) error }, *T) error, id func(*T) string) ([]T, string, error) {
	rows, err := db.query(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, "", dbErr(what, err)
	}
	defer rows.Close()
	items := make([]T, 0, min(limit+1, 128))
	for rows.Next() {
		var zero T
		items = append(items, zero)
		if err := scan(rows, &items[len(items)-1]); err != nil {
			return nil, "", dbErr(what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr(what, err)
	}
	items, next := nextCursor(items, limit, id)
	return items, next, nil
}
