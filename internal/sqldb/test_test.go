package sqldb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func f64(v float64) *float64 { return &v }

func newTest(tb testing.TB, deviceID, day, result, due string) *izy.Test {
	tb.Helper()
	return &izy.Test{DeviceID: deviceID, Date: date(tb, day), Standard: izy.DefaultStandard,
		VisualOK: true, FunctionalOK: true, Result: result, NextDue: date(tb, due),
		Measurements: []izy.Measurement{
			{Kind: "protective_conductor_resistance", Value: 0.12, Unit: "Ω", Limit: &izy.Limit{Max: f64(0.3), Unit: "Ω"}, Result: izy.ResultPass},
			{Kind: "insulation_resistance", Value: 2.5, Unit: "MΩ", Parameters: map[string]string{"test_voltage": "500 V"},
				Limit: &izy.Limit{Min: f64(1), Unit: "MΩ"}, Result: result},
		}}
}

func TestCreateTest(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		other := mustCustomer(t, db, "K-2")
		d := mustDevice(t, db, newDevice(c.ID, "D1"))
		inspector := mustUser(t, db, "insp", izy.RoleInspector)
		instr := &izy.Instrument{Type: "tester", SerialNumber: "I-1", CalibrationDue: date(t, "2026-01-01")}
		if err := db.CreateInstrument(ctx, instr); err != nil {
			t.Fatal(err)
		}

		first := newTest(t, d.ID, "2025-03-01", izy.ResultPass, "2026-03-01")
		first.InspectorID = inspector.ID
		first.InstrumentID = &instr.ID
		first.Comment = "ok"
		if err := db.CreateTest(ctx, first); err != nil {
			t.Fatal(err)
		}
		if first.CustomerID != c.ID || first.Seq == 0 || !izy.ValidID(first.ID) {
			t.Fatalf("create did not fill customer, seq, id: %+v", first)
		}
		got, err := db.GetTest(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Fatalf("get after create (-want +got):\n%s", diff)
		}
		// The insulation reading of 2.5 MΩ is stored in ohms beside the value as given.
		var base float64
		if err := db.QueryRow(ctx, "SELECT base_value FROM measurements WHERE test_id = ? AND position = 1", first.ID).Scan(&base); err != nil {
			t.Fatal(err)
		}
		if got, want := base, 2.5e6; got != want {
			t.Fatalf("base_value of 2.5 MΩ = %v, want %v", got, want)
		}
		checkDevice := func(t *testing.T, last, result, due string) {
			t.Helper()
			dev, err := db.GetDevice(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if dev.LastTestDate.String() != last || dev.LastResult != result || dev.NextDue.String() != due {
				t.Fatalf("device last test %s %s due %s, want %s %s due %s", dev.LastTestDate, dev.LastResult, dev.NextDue, last, result, due)
			}
			if dev.Version != 1 {
				t.Fatalf("a test changed the device's version to %d", dev.Version)
			}
		}
		checkDevice(t, "2025-03-01", "pass", "2026-03-01")

		steps := []struct {
			name, day, result, due  string
			wantLast, wantRes, due2 string
		}{
			{"older test leaves the device", "2025-01-01", "fail", "2025-01-01", "2025-03-01", "pass", "2026-03-01"},
			{"newer failed test", "2025-04-01", "fail", "2025-04-01", "2025-04-01", "fail", "2025-04-01"},
			{"same day pass", "2025-04-01", "pass", "2026-04-01", "2025-04-01", "pass", "2026-04-01"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				before, _ := db.GetDevice(ctx, d.ID)
				if err := db.CreateTest(ctx, newTest(t, d.ID, s.day, s.result, s.due)); err != nil {
					t.Fatal(err)
				}
				checkDevice(t, s.wantLast, s.wantRes, s.due2)
				after, _ := db.GetDevice(ctx, d.ID)
				if moved := s.wantLast != before.LastTestDate.String() || s.wantRes != before.LastResult; moved && after.Seq <= before.Seq {
					t.Fatalf("device seq did not grow: %d then %d", before.Seq, after.Seq)
				}
			})
		}

		bad := []struct {
			name string
			mod  func(*izy.Test)
		}{
			{"unknown device", func(x *izy.Test) { x.DeviceID = izy.NewID() }},
			{"other customer", func(x *izy.Test) { x.CustomerID = other.ID }},
			{"unknown instrument", func(x *izy.Test) { x.InstrumentID = new(izy.NewID()) }},
			{"unknown inspector", func(x *izy.Test) { x.InspectorID = izy.NewID() }},
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				x := newTest(t, d.ID, "2030-01-01", "pass", "2031-01-01")
				b.mod(x)
				wantCode(t, db.CreateTest(ctx, x), izy.EINVALID)
			})
		}
		checkDevice(t, "2025-04-01", "pass", "2026-04-01")
		_, err = db.GetTest(ctx, izy.NewID())
		wantCode(t, err, izy.ENOTFOUND)
		if n := auditCount(t, db, "test", first.ID); n != 1 {
			t.Fatalf("got %d audit entries, want 1", n)
		}

		t.Run("list", func(t *testing.T) {
			d2 := mustDevice(t, db, newDevice(c.ID, "D2"))
			if err := db.CreateTest(ctx, newTest(t, d2.ID, "2025-01-01", "pass", "2026-01-01")); err != nil {
				t.Fatal(err)
			}
			ids := collect(t, 2, func(x *izy.Test) string { return x.ID }, func(p izy.Page) ([]izy.Test, string, error) {
				return db.ListTests(ctx, izy.TestFilter{DeviceID: d.ID, Page: p})
			})
			if len(ids) != 4 {
				t.Fatalf("got %d tests of the device, want 4", len(ids))
			}
			items, _, err := db.ListTests(ctx, izy.TestFilter{CustomerID: c.ID, Result: izy.ResultFail})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 2 {
				t.Fatalf("got %d failed tests, want 2", len(items))
			}
			for _, x := range items {
				if len(x.Measurements) != 2 || x.Measurements[1].Parameters["test_voltage"] != "500 V" {
					t.Fatalf("listed test lacks its measurements: %+v", x)
				}
			}
			u := mustUser(t, db, "ro", izy.RoleReadOnly, izy.Grant{CustomerID: other.ID, Access: izy.AccessRead})
			items, _, err = db.ListTests(ctx, izy.TestFilter{GrantedTo: u.ID})
			if err != nil || len(items) != 0 {
				t.Fatalf("ungranted tests: got %d, %v", len(items), err)
			}
		})
	})
}

func TestInstruments(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		today := date(t, "2025-06-01")
		dues := map[string]izy.Colour{"2025-05-01": izy.Red, "2025-06-05": izy.Orange, "2025-06-20": izy.Yellow, "2026-01-01": izy.Green}
		var ids []string
		for due := range dues {
			i := &izy.Instrument{Type: "tester", Manufacturer: "Gossen", Model: "Secutest", SerialNumber: "S-" + due, CalibrationDue: date(t, due)}
			if err := db.CreateInstrument(ctx, i); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, i.ID)
			got, err := db.GetInstrument(ctx, i.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(i, got); diff != "" {
				t.Fatalf("get after create (-want +got):\n%s", diff)
			}
		}
		for due, colour := range dues {
			items, _, err := db.ListInstruments(ctx, izy.InstrumentFilter{Colour: colour, Today: today})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || items[0].CalibrationDue.String() != due {
				t.Fatalf("colour %s: got %+v, want the one due %s", colour, items, due)
			}
		}
		got := collect(t, 3, func(i *izy.Instrument) string { return i.ID }, func(p izy.Page) ([]izy.Instrument, string, error) {
			return db.ListInstruments(ctx, izy.InstrumentFilter{Page: p})
		})
		if diff := cmp.Diff(ids, got, cmpSorted); diff != "" {
			t.Fatalf("list (-want +got):\n%s", diff)
		}
		i, _ := db.GetInstrument(ctx, ids[0])
		u := *i
		u.Status = izy.DeviceRetired
		if err := db.UpdateInstrument(ctx, &u); err != nil {
			t.Fatal(err)
		}
		if u.Version != 2 || u.Status != izy.DeviceRetired {
			t.Fatalf("after update got %+v", u)
		}
		wantCode(t, db.UpdateInstrument(ctx, i), izy.ECONFLICT)
		i.ID = izy.NewID()
		wantCode(t, db.UpdateInstrument(ctx, i), izy.ENOTFOUND)
		_, err := db.GetInstrument(ctx, izy.NewID())
		wantCode(t, err, izy.ENOTFOUND)
		dash, err := db.Dashboard(ctx, today, izy.DefaultWindows, "")
		if err != nil {
			t.Fatal(err)
		}
		if sum := dash.Instruments.Green + dash.Instruments.Yellow + dash.Instruments.Orange + dash.Instruments.Red; sum != 3 {
			t.Fatalf("dashboard counts %d active instruments, want 3: %+v", sum, dash.Instruments)
		}
		if n := auditCount(t, db, "instrument", u.ID); n != 2 {
			t.Fatalf("got %d audit entries, want 2", n)
		}
	})
}
