package sqldb

import (
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

func TestParseSQLiteTime(t *testing.T) {
	want := time.Date(2025, 6, 1, 12, 34, 56, 123456000, time.UTC)
	s := want.Format(sqliteTime)
	got, ok := parseSQLiteTime(s)
	if !ok || !got.Equal(want) {
		t.Fatalf("parseSQLiteTime(%q): got %v, %v; want %v", s, got, ok, want)
	}
	for _, bad := range []string{"", "2025-06-01", "2025-13-01T00:00:00.000000Z", "2025-06-01T00:00:00.00000xZ", "2025-06-01 00:00:00.000000Z"} {
		if _, ok := parseSQLiteTime(bad); ok {
			t.Errorf("parseSQLiteTime(%q) succeeded", bad)
		}
	}
	var tm time.Time
	if err := (timeCol{&tm}).Scan("2025-06-01T12:00:00Z"); err != nil || !tm.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("RFC 3339 fallback: got %v, %v", tm, err)
	}
}

func TestDateCol(t *testing.T) {
	tests := []struct {
		in   any
		want izy.Date
		ok   bool
	}{
		{"2024-02-29", izy.Date{Year: 2024, Month: 2, Day: 29}, true},
		{"2025-02-29", izy.Date{}, false},
		{"2025-1-01", izy.Date{}, false},
		{[]byte("1999-12-31"), izy.Date{Year: 1999, Month: 12, Day: 31}, true},
		{nil, izy.Date{}, true},
		{time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC), izy.Date{Year: 2025, Month: 3, Day: 4}, true},
	}
	for _, tt := range tests {
		var d izy.Date
		err := dateCol{&d}.Scan(tt.in)
		if (err == nil) != tt.ok || (tt.ok && d != tt.want) {
			t.Errorf("Scan(%v): got %v, %v; want %v, ok %v", tt.in, d, err, tt.want, tt.ok)
		}
	}
	for _, d := range []izy.Date{{Year: 2025, Month: 1, Day: 2}, {Year: 1900, Month: 12, Day: 31}} {
		if got := dateVal(d); got != d.String() {
			t.Errorf("dateVal(%v): got %v, want %v", d, got, d.String())
		}
	}
	if got := dateVal(izy.Date{}); got != nil {
		t.Errorf("dateVal of the zero date: got %v, want nil", got)
	}
}
