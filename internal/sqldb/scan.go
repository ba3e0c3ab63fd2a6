package sqldb

import (
	"database/sql"
	"encoding/json"
	"fmt"
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
