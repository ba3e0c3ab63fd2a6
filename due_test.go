package izytroniq_test

import (
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

func date(y int, m time.Month, d int) izy.Date { return izy.Date{Year: y, Month: m, Day: d} }

func TestNextDue(t *testing.T) {
	for _, tt := range []struct {
		name     string
		interval int
		tested   izy.Date
		result   string
		want     izy.Date
	}{
		{"default interval", 0, date(2025, 3, 15), izy.ResultPass, date(2026, 3, 15)},
		{"portable 6 months", 6, date(2025, 3, 15), izy.ResultPass, date(2025, 9, 15)},
		{"construction site 3 months", 3, date(2025, 11, 15), izy.ResultPass, date(2026, 2, 15)},
		{"office 24 months", 24, date(2025, 3, 15), izy.ResultPass, date(2027, 3, 15)},
		{"fixed 48 months", 48, date(2024, 2, 29), izy.ResultPass, date(2028, 2, 29)},
		{"month end clamps", 1, date(2025, 1, 31), izy.ResultPass, date(2025, 2, 28)},
		{"month end clamps in leap year", 1, date(2024, 1, 31), izy.ResultPass, date(2024, 2, 29)},
		{"leap day plus a year", 12, date(2024, 2, 29), izy.ResultPass, date(2025, 2, 28)},
		{"31st to a 30-day month", 3, date(2025, 8, 31), izy.ResultPass, date(2025, 11, 30)},
		{"fail is due at once", 12, date(2025, 3, 15), izy.ResultFail, date(2025, 3, 15)},
		{"anything but pass is due at once", 12, date(2025, 3, 15), "", date(2025, 3, 15)},
		{"negative interval falls back to default", -3, date(2025, 3, 15), izy.ResultPass, date(2026, 3, 15)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &izy.Device{IntervalMonths: tt.interval}
			if got := izy.NextDue(d, tt.tested, tt.result); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	if got, want := izy.NextDue(nil, date(2025, 3, 15), izy.ResultPass), date(2026, 3, 15); got != want {
		t.Fatalf("nil device: got %s, want %s", got, want)
	}
}

func TestApplyTest(t *testing.T) {
	last := date(2025, 3, 15)
	for _, tt := range []struct {
		name    string
		last    izy.Date
		test    izy.Test
		applied bool
		want    izy.Device
	}{
		{"first test", izy.Date{},
			izy.Test{Date: last, Result: izy.ResultPass, NextDue: date(2026, 3, 15)}, true,
			izy.Device{LastTestDate: last, LastResult: izy.ResultPass, NextDue: date(2026, 3, 15)}},
		{"newer test", last,
			izy.Test{Date: date(2025, 4, 1), Result: izy.ResultFail, NextDue: date(2025, 4, 1)}, true,
			izy.Device{LastTestDate: date(2025, 4, 1), LastResult: izy.ResultFail, NextDue: date(2025, 4, 1)}},
		{"same day correction", last,
			izy.Test{Date: last, Result: izy.ResultPass, NextDue: date(2026, 3, 15)}, true,
			izy.Device{LastTestDate: last, LastResult: izy.ResultPass, NextDue: date(2026, 3, 15)}},
		{"older test late from the field", last,
			izy.Test{Date: date(2025, 3, 14), Result: izy.ResultPass, NextDue: date(2026, 3, 14)}, false,
			izy.Device{LastTestDate: last, LastResult: izy.ResultFail, NextDue: last}},
		{"unevaluated test gets a due date", izy.Date{},
			izy.Test{Date: last, Result: izy.ResultPass}, true,
			izy.Device{LastTestDate: last, LastResult: izy.ResultPass, NextDue: date(2026, 3, 15)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &izy.Device{LastTestDate: tt.last}
			if !tt.last.IsZero() {
				d.LastResult, d.NextDue = izy.ResultFail, tt.last
			}
			if got := izy.ApplyTest(d, &tt.test); got != tt.applied {
				t.Fatalf("applied: got %v, want %v", got, tt.applied)
			}
			got := izy.Device{LastTestDate: d.LastTestDate, LastResult: d.LastResult, NextDue: d.NextDue}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
