package server_test

import (
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// testAnswer is the answer of POST /api/v1/tests.
type testAnswer struct {
	ID           string `json:"id"`
	Result       string `json:"result"`
	NextDue      string `json:"next_due"`
	Standard     string `json:"standard"`
	InspectorID  string `json:"inspector_id"`
	Measurements []struct {
		Kind   string  `json:"kind"`
		Value  float64 `json:"value"`
		Unit   string  `json:"unit"`
		Result string  `json:"result"`
		Limit  struct {
			Min  *float64 `json:"min"`
			Max  *float64 `json:"max"`
			Unit string   `json:"unit"`
		} `json:"limit"`
	} `json:"measurements"`
}

func m(kind string, value float64, unit string) map[string]any {
	return map[string]any{"kind": kind, "value": value, "unit": unit}
}

func TestRecordTest(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		ina := e.newUser("ina", izy.RoleInspector, izy.Grant{CustomerID: cust, Access: izy.AccessWrite})
		var me izy.User
		e.do("GET", "/api/v1/me", ina, nil).decode(t, &me)
		newDevice := func(inv, class string, cable float64, extra map[string]any) string {
			body := map[string]any{"customer_id": cust, "inventory_id": inv, "designation": "D " + inv, "protection_class": class, "cable_length_m": cable}
			for k, v := range extra {
				body[k] = v
			}
			return e.create("/api/v1/devices", body)
		}
		short := newDevice("I-5m", "I", 5, nil)
		long := newDevice("I-20m", "I", 20, nil)
		heater := newDevice("I-heat", "I", 2, map[string]any{"heating_elements": true, "heating_power_kw": 6.0})
		classII := newDevice("II", "II", 2, map[string]any{"interval_months": 24})
		thick := newDevice("I-thick", "I", 20, map[string]any{"cable_cross_section_mm2": 2.5, "standard": "DIN EN 50699"})

		type meas struct {
			kind  string
			value float64
			unit  string
			// want
			min, max  float64
			limitUnit string
			result    string
		}
		for _, c := range []struct {
			name, device, date string
			ms                 []meas
			result, nextDue    string
		}{
			{"at the limits", short, "2025-06-01", []meas{
				{"protective_conductor_resistance", 0.3, "Ω", 0, 0.3, "Ω", "pass"},
				{"protective_conductor_resistance", 300, "mΩ", 0, 0.3, "Ω", "pass"},
				{"insulation_resistance", 1.0, "MΩ", 1.0, 0, "MΩ", "pass"},
				{"insulation_resistance", 1000, "kohm", 1.0, 0, "MΩ", "pass"},
				{"protective_conductor_current", 3.5, "mA", 0, 3.5, "mA", "pass"},
				{"touch_current", 500, "µA", 0, 0.5, "mA", "pass"},
			}, "pass", "2026-06-01"},
			{"just over", short, "2025-06-02", []meas{
				{"protective_conductor_resistance", 0.301, "ohm", 0, 0.3, "Ω", "fail"},
				{"insulation_resistance", 0.999, "Mohm", 1.0, 0, "MΩ", "fail"},
				{"touch_current", 0.51, "mA", 0, 0.5, "mA", "fail"},
			}, "fail", "2025-06-02"},
			{"20 m lead, two steps", long, "2025-06-01", []meas{
				{"protective_conductor_resistance", 0.5, "Ω", 0, 0.5, "Ω", "pass"},
				{"protective_conductor_resistance", 0.51, "Ω", 0, 0.5, "Ω", "fail"},
			}, "fail", "2025-06-01"},
			{"heating elements", heater, "2025-06-01", []meas{
				{"insulation_resistance", 0.3, "MΩ", 0.3, 0, "MΩ", "pass"},
				{"protective_conductor_current", 6, "mA", 0, 6, "mA", "pass"},
			}, "pass", "2026-06-01"},
			{"class II, 24 months", classII, "2025-01-31", []meas{
				{"insulation_resistance", 2.0, "MΩ", 2.0, 0, "MΩ", "pass"},
			}, "pass", "2027-01-31"},
			{"EN 50699, thick lead", thick, "2025-06-01", []meas{
				{"protective_conductor_resistance", 0.143, "Ω", 0, 0.143, "Ω", "pass"},
			}, "pass", "2026-06-01"},
		} {
			t.Run(c.name, func(t *testing.T) {
				var ms []map[string]any
				for _, x := range c.ms {
					ms = append(ms, m(x.kind, x.value, x.unit))
				}
				var res testAnswer
				r := e.do("POST", "/api/v1/tests", ina, map[string]any{
					"device_id": c.device, "date": c.date, "visual_ok": true, "functional_ok": true, "measurements": ms,
				}).want(t, 201).decode(t, &res)
				if res.Result != c.result || res.NextDue != c.nextDue || res.InspectorID != me.ID {
					t.Fatalf("result %s next_due %s inspector %s, want %s %s %s; %s", res.Result, res.NextDue, res.InspectorID, c.result, c.nextDue, me.ID, r.body)
				}
				if len(res.Measurements) != len(c.ms) {
					t.Fatalf("%d measurements answered, want %d", len(res.Measurements), len(c.ms))
				}
				for i, want := range c.ms {
					got := res.Measurements[i]
					if got.Kind != want.kind || got.Value != want.value || got.Unit != want.unit || got.Result != want.result || got.Limit.Unit != want.limitUnit {
						t.Errorf("measurement %d: %+v, want %+v", i, got, want)
					}
					if want.max != 0 && (got.Limit.Max == nil || *got.Limit.Max != want.max || got.Limit.Min != nil) {
						t.Errorf("measurement %d: limit %s, want max %v", i, mustJSON(got.Limit), want.max)
					}
					if want.min != 0 && (got.Limit.Min == nil || *got.Limit.Min != want.min || got.Limit.Max != nil) {
						t.Errorf("measurement %d: limit %s, want min %v", i, mustJSON(got.Limit), want.min)
					}
				}
				// The test is stored as answered.
				var stored testAnswer
				e.do("GET", "/api/v1/tests/"+res.ID, ina, nil).want(t, 200).decode(t, &stored)
				if mustJSON(stored.Measurements) != mustJSON(res.Measurements) || stored.Result != res.Result {
					t.Errorf("stored test differs:\n%s\n%s", mustJSON(stored), mustJSON(res))
				}
			})
		}

		// The device follows its latest test; an older test entered late does not move it.
		var d device
		e.get("/api/v1/devices/"+short, &d)
		if d.LastResult != "fail" || d.NextDue.String() != "2025-06-02" || d.Colour != izy.Red {
			t.Fatalf("device after a failed test: %s %s %s", d.LastResult, d.NextDue, d.Colour)
		}
		e.passTest(ina, short, "2025-05-01")
		e.get("/api/v1/devices/"+short, &d)
		if d.NextDue.String() != "2025-06-02" {
			t.Fatalf("an older test moved next_due to %s", d.NextDue)
		}
		if got := e.listAll("/api/v1/tests?device_id="+short, ina, 2); len(got) != 3 {
			t.Fatalf("%d tests of the device, want 3", len(got))
		}
		if got := e.listAll("/api/v1/tests?device_id="+short+"&result=fail", ina, 2); len(got) != 1 {
			t.Fatalf("%d failed tests of the device, want 1", len(got))
		}
		if got := e.listAll("/api/v1/tests?customer_id="+cust+"&result=pass", ina, 2); len(got) != 5 {
			t.Fatalf("%d passed tests of the customer, want 5", len(got))
		}
	})
}

// TestRecordTestRejects: bad tests are a 400 (or 404/409) with a clear message, and
// nothing is stored: no test, no change to the device.
func TestRecordTestRejects(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		dev := e.device(cust, nil, "D1")
		retired := e.device(cust, nil, "D2")
		e.do("DELETE", "/api/v1/devices/"+retired, e.admin, nil).want(t, 200)
		oldInst := e.create("/api/v1/instruments", map[string]any{"type": "T", "serial_number": "OLD", "calibration_due": "2025-01-01"})
		e.do("DELETE", "/api/v1/instruments/"+oldInst, e.admin, nil).want(t, 200)
		var before device
		e.get("/api/v1/devices/"+dev, &before)

		base := func(change func(map[string]any)) map[string]any {
			b := map[string]any{"device_id": dev, "date": "2025-06-10", "visual_ok": true, "functional_ok": true,
				"measurements": []any{m("insulation_resistance", 5, "MΩ")}}
			change(b)
			return b
		}
		for _, c := range []struct {
			name   string
			body   any
			status int
			words  []string
		}{
			{"unknown unit", base(func(b map[string]any) { b["measurements"] = []any{m("insulation_resistance", 5, "Ohms")} }), 400, []string{"Ohms"}},
			{"wrong dimension", base(func(b map[string]any) { b["measurements"] = []any{m("insulation_resistance", 5, "mA")} }), 400, []string{"mA"}},
			{"unknown kind", base(func(b map[string]any) { b["measurements"] = []any{m("earth_magic", 5, "Ω")} }), 400, []string{"earth_magic"}},
			{"negative value", base(func(b map[string]any) { b["measurements"] = []any{m("insulation_resistance", -1, "MΩ")} }), 400, nil},
			{"absurd value", base(func(b map[string]any) { b["measurements"] = []any{m("insulation_resistance", 1e300, "MΩ")} }), 400, nil},
			{"missing value", base(func(b map[string]any) {
				b["measurements"] = []any{map[string]any{"kind": "insulation_resistance", "unit": "MΩ"}}
			}), 400, []string{"value"}},
			{"value as text", base(func(b map[string]any) {
				b["measurements"] = []any{map[string]any{"kind": "insulation_resistance", "value": "5", "unit": "MΩ"}}
			}), 400, []string{"value"}},
			{"result given", base(func(b map[string]any) { b["result"] = "pass" }), 400, []string{"result"}},
			{"limit given", base(func(b map[string]any) {
				b["measurements"] = []any{map[string]any{"kind": "insulation_resistance", "value": 5, "unit": "MΩ", "limit": map[string]any{"min": 0}}}
			}), 400, []string{"limit"}},
			{"no visual_ok", base(func(b map[string]any) { delete(b, "visual_ok") }), 400, []string{"visual_ok"}},
			{"future date", base(func(b map[string]any) { b["date"] = "2025-07-01" }), 400, []string{"future"}},
			{"impossible date", base(func(b map[string]any) { b["date"] = "2025-02-29" }), 400, []string{"2025-02-29"}},
			{"unknown standard", base(func(b map[string]any) { b["standard"] = "VDE 9999" }), 400, []string{"VDE 9999"}},
			{"passing on looks alone", base(func(b map[string]any) { b["measurements"] = []any{} }), 400, []string{"measurement"}},
			{"unknown device", base(func(b map[string]any) { b["device_id"] = izy.NewID() }), 404, nil},
			{"bad device id", base(func(b map[string]any) { b["device_id"] = "D1" }), 400, []string{"device_id"}},
			{"retired device", base(func(b map[string]any) { b["device_id"] = retired }), 409, []string{"retired"}},
			{"unknown instrument", base(func(b map[string]any) { b["instrument_id"] = izy.NewID() }), 400, []string{"instrument"}},
			{"retired instrument", base(func(b map[string]any) { b["instrument_id"] = oldInst }), 400, []string{"retired"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do("POST", "/api/v1/tests", e.admin, c.body).want(t, c.status)
				code, msg := r.apiError(t)
				for _, w := range c.words {
					if !strings.Contains(msg, w) {
						t.Fatalf("%s: message %q does not mention %q", code, msg, w)
					}
				}
			})
		}
		if got := e.listAll("/api/v1/tests", e.admin, 100); len(got) != 0 {
			t.Fatalf("%d tests stored after rejected requests", len(got))
		}
		var after device
		e.get("/api/v1/devices/"+dev, &after)
		if mustJSON(after) != mustJSON(before) {
			t.Fatalf("device changed:\n%s\n%s", mustJSON(before), mustJSON(after))
		}
		// A missing date means today.
		var res testAnswer
		e.do("POST", "/api/v1/tests", e.admin, base(func(b map[string]any) { delete(b, "date") })).want(t, 201).decode(t, &res)
		var stored struct{ Date string }
		e.get("/api/v1/tests/"+res.ID, &stored)
		if stored.Date != "2025-06-15" {
			t.Fatalf("date %q, want today 2025-06-15", stored.Date)
		}
	})
}
