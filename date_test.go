package izytroniq_test

import (
	"encoding/json"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

func TestParseDate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want izy.Date
		ok   bool
	}{
		{"2025-03-15", date(2025, 3, 15), true},
		{"2024-02-29", date(2024, 2, 29), true},
		{"1900-01-01", date(1900, 1, 1), true},
		{"2999-12-31", date(2999, 12, 31), true},
		{"2023-02-29", izy.Date{}, false},
		{"2025-02-30", izy.Date{}, false},
		{"2025-04-31", izy.Date{}, false},
		{"2025-13-01", izy.Date{}, false},
		{"2025-00-10", izy.Date{}, false},
		{"2025-3-15", izy.Date{}, false},
		{"15.03.2025", izy.Date{}, false},
		{"2025-03-15T00:00:00Z", izy.Date{}, false},
		{" 2025-03-15", izy.Date{}, false},
		{"1899-12-31", izy.Date{}, false},
		{"3000-01-01", izy.Date{}, false},
		{"", izy.Date{}, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := izy.ParseDate(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if err != nil && izy.ErrorCode(err) != izy.EINVALID {
				t.Fatalf("code %q, want %q", izy.ErrorCode(err), izy.EINVALID)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDateJSON(t *testing.T) {
	type doc struct {
		Date izy.Date `json:"date"`
	}
	for _, tt := range []struct {
		d    izy.Date
		json string
	}{
		{date(2025, 3, 5), `{"date":"2025-03-05"}`},
		{date(1999, 12, 31), `{"date":"1999-12-31"}`},
		{izy.Date{}, `{"date":null}`},
	} {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(doc{tt.d})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.json {
				t.Fatalf("marshal: got %s, want %s", got, tt.json)
			}
			back := doc{Date: date(2000, 1, 1)} // null must reset it
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if back.Date != tt.d {
				t.Fatalf("round trip: got %v, want %v", back.Date, tt.d)
			}
		})
	}
	for _, in := range []string{`{"date":"2025-02-30"}`, `{"date":20250315}`, `{"date":""}`,
		`{"date":"2025-3-5"}`, `{"date":true}`, `{"date":"2025-03-05T10:00:00Z"}`} {
		t.Run(in, func(t *testing.T) {
			var d doc
			if err := json.Unmarshal([]byte(in), &d); err == nil {
				t.Fatalf("got %v, want an error", d.Date)
			}
		})
	}
}

func TestDateArithmetic(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  izy.Date
		want izy.Date
	}{
		{"add days across a year", date(2025, 12, 31).AddDays(1), date(2026, 1, 1)},
		{"add days into a leap day", date(2024, 2, 28).AddDays(1), date(2024, 2, 29)},
		{"subtract days", date(2025, 3, 1).AddDays(-1), date(2025, 2, 28)},
		{"add months across a year", date(2025, 11, 30).AddMonths(3), date(2026, 2, 28)},
		{"subtract months clamps", date(2025, 3, 31).AddMonths(-1), date(2025, 2, 28)},
		{"120 months", date(2025, 3, 15).AddMonths(120), date(2035, 3, 15)},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	a, b := date(2025, 3, 15), date(2025, 3, 16)
	if !a.Before(b) || a.After(b) || b.Before(a) || !b.After(a) || a.Compare(a) != 0 || a.Compare(date(2024, 12, 31)) != 1 {
		t.Errorf("ordering of %s and %s is wrong", a, b)
	}
	if got := (izy.Date{}).String(); got != "" {
		t.Errorf("zero String: got %q, want empty", got)
	}
}

func TestDateSQL(t *testing.T) {
	if v, err := (izy.Date{}).Value(); v != nil || err != nil {
		t.Errorf("zero Value: got %v, %v; want nil, nil", v, err)
	}
	if v, _ := date(2025, 3, 5).Value(); v != "2025-03-05" {
		t.Errorf("Value: got %v, want 2025-03-05", v)
	}
	for _, tt := range []struct {
		src  any
		want izy.Date
		ok   bool
	}{
		{"2025-03-05", date(2025, 3, 5), true},
		{[]byte("2025-03-05"), date(2025, 3, 5), true},
		{time.Date(2025, 3, 5, 23, 0, 0, 0, time.UTC), date(2025, 3, 5), true},
		{nil, izy.Date{}, true},
		{"2025-02-30", izy.Date{}, false},
		{int64(20250305), izy.Date{}, false},
	} {
		d := date(2000, 1, 1)
		err := d.Scan(tt.src)
		if (err == nil) != tt.ok || tt.ok && d != tt.want {
			t.Errorf("Scan(%v): got %v, %v; want %v, ok=%v", tt.src, d, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2025-03-15", "2024-02-29", "2025-02-30", "0000-00-00", "", "1900-01-01", "+2025-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := izy.ParseDate(s)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID || !d.IsZero() {
				t.Fatalf("ParseDate(%q): got %v, %v; want zero date and EINVALID", s, d, err)
			}
			return
		}
		// A date that parses prints back as exactly its input, and survives JSON.
		if d.String() != s {
			t.Fatalf("ParseDate(%q).String() = %q", s, d.String())
		}
		b, _ := json.Marshal(d)
		var back izy.Date
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("JSON round trip of %q: got %v, %v", s, back, err)
		}
		if d.Year < 1900 || d.Year > 2999 {
			t.Fatalf("ParseDate(%q) = %v: year out of range", s, d)
		}
	})
}
