package server_test

import (
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestDashboard: today is 2025-06-15; windows 30 and 7 days.
func TestDashboard(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		dev := func(inv string) string { return e.device(cust, nil, inv) }
		// Passed tests with 12 months interval: due a year later.
		e.passTest(e.admin, dev("green"), "2025-01-10")   // due 2026-01-10: green
		e.passTest(e.admin, dev("yellow"), "2024-07-10")  // due 2025-07-10: 25 days, yellow
		e.passTest(e.admin, dev("orange"), "2024-06-22")  // due 2025-06-22: 7 days, orange
		e.passTest(e.admin, dev("today"), "2024-06-15")   // due today: orange
		e.passTest(e.admin, dev("overdue"), "2024-06-14") // due yesterday: red
		dev("never")                                      // never tested: red
		failed := dev("failed")
		e.do("POST", "/api/v1/tests", e.admin, map[string]any{"device_id": failed, "date": "2025-06-01", "visual_ok": false, "functional_ok": true}).want(t, 201)
		retired := dev("retired") // not counted
		e.do("DELETE", "/api/v1/devices/"+retired, e.admin, nil).want(t, 200)
		for serial, due := range map[string]string{"I1": "2026-01-01", "I2": "2025-07-01", "I3": "2025-06-15", "I4": "2025-05-01"} {
			e.create("/api/v1/instruments", map[string]any{"type": "T", "serial_number": serial, "calibration_due": due})
		}

		var d izy.Dashboard
		e.do("GET", "/api/v1/dashboard", e.admin, nil).want(t, 200).decode(t, &d)
		if want := (izy.ColourCounts{Green: 1, Yellow: 1, Orange: 2, Red: 3}); d.Devices != want {
			t.Errorf("devices %+v, want %+v", d.Devices, want)
		}
		if want := (izy.ColourCounts{Green: 1, Yellow: 1, Orange: 1, Red: 1}); d.Instruments != want {
			t.Errorf("instruments %+v, want %+v", d.Instruments, want)
		}
		// The colour filter of the device list agrees with the dashboard.
		for colour, n := range map[string]int{"green": 1, "yellow": 1, "orange": 2, "red": 3} {
			if got := e.listAll("/api/v1/devices?status=active&colour="+colour, e.admin, 10); len(got) != n {
				t.Errorf("%s devices listed: %d, dashboard says %d", colour, len(got), n)
			}
		}
		// A week later (2025-06-22) the one due today is red; the one due 2025-06-22 is
		// still orange, the one due 2025-07-10 still yellow (18 days).
		e.clock.Advance(7 * 24 * time.Hour)
		e.admin = e.login("admin", testPassword) // the old token has expired
		e.do("GET", "/api/v1/dashboard", e.admin, nil).want(t, 200).decode(t, &d)
		if want := (izy.ColourCounts{Green: 1, Yellow: 1, Orange: 1, Red: 4}); d.Devices != want {
			t.Errorf("a week later: devices %+v, want %+v", d.Devices, want)
		}
	})
}
