package server_test

import (
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestGrants: an inspector with a write grant on A, a read grant on B and none on C.
// C's data answers 404 everywhere, as if it did not exist; B's may be read, not changed.
func TestGrants(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		a, b, c := e.customer("A", "Alpha"), e.customer("B", "Beta"), e.customer("C", "Gamma")
		locA, locB, locC := e.location(a, nil, "property", "A1"), e.location(b, nil, "property", "B1"), e.location(c, nil, "property", "C1")
		devA, devB, devC := e.device(a, &locA, "A-1"), e.device(b, &locB, "B-1"), e.device(c, &locC, "C-1")
		testC := e.passTest(e.admin, devC, "2025-06-01")["id"].(string)
		insp := e.newUser("ina", izy.RoleInspector, izy.Grant{CustomerID: a, Access: izy.AccessWrite}, izy.Grant{CustomerID: b, Access: izy.AccessRead})
		clerk := e.newUser("cleo", izy.RoleClerk, izy.Grant{CustomerID: a, Access: izy.AccessWrite})

		// Lists show only granted customers' data.
		for path, want := range map[string][]string{
			"/api/v1/customers":                  {a, b},
			"/api/v1/locations":                  {locA, locB},
			"/api/v1/devices":                    {devA, devB},
			"/api/v1/devices?customer_id=" + c:   nil,
			"/api/v1/locations?customer_id=" + c: nil,
			"/api/v1/tests":                      nil,
		} {
			if got := e.listAll(path, insp, 10); !sameSet(got, want) {
				t.Errorf("inspector GET %s: %v, want %v", path, got, want)
			}
		}
		// C's objects are 404 for reads and writes alike.
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/customers/" + c},
			{"GET", "/api/v1/locations/" + locC},
			{"GET", "/api/v1/devices/" + devC},
			{"GET", "/api/v1/tests/" + testC},
			{"PATCH", "/api/v1/devices/" + devC},
			{"DELETE", "/api/v1/devices/" + devC},
			{"PATCH", "/api/v1/locations/" + locC},
			{"DELETE", "/api/v1/locations/" + locC},
		} {
			var body any
			if r.method == "PATCH" {
				body = map[string]any{"version": 1, "name": "x", "designation": "x"}
			}
			e.do(r.method, r.path, insp, body).wantError(t, 404, izy.ENOTFOUND)
		}
		// Creating under C is 404, under B (read grant) 403, under A fine.
		newDevice := func(cust string, inv string) map[string]any {
			return map[string]any{"customer_id": cust, "inventory_id": inv, "designation": "x", "protection_class": "II"}
		}
		e.do("POST", "/api/v1/devices", insp, newDevice(c, "N1")).wantError(t, 404, izy.ENOTFOUND)
		e.do("POST", "/api/v1/devices", insp, newDevice(b, "N1")).wantError(t, 403, izy.EFORBIDDEN)
		e.createAs(insp, "/api/v1/devices", newDevice(a, "N1"))
		e.do("POST", "/api/v1/locations", insp, map[string]any{"customer_id": c, "kind": "property", "name": "x"}).wantError(t, 404, izy.ENOTFOUND)
		e.do("POST", "/api/v1/locations", insp, map[string]any{"customer_id": b, "kind": "property", "name": "x"}).wantError(t, 403, izy.EFORBIDDEN)
		// B may be read but not changed.
		var d device
		e.do("GET", "/api/v1/devices/"+devB, insp, nil).want(t, 200).decode(t, &d)
		e.do("PATCH", "/api/v1/devices/"+devB, insp, map[string]any{"version": d.Version, "designation": "x"}).wantError(t, 403, izy.EFORBIDDEN)
		e.do("DELETE", "/api/v1/devices/"+devB, insp, nil).wantError(t, 403, izy.EFORBIDDEN)

		// Tests: C 404, B 403, A 201.
		testBody := func(dev string) map[string]any {
			return map[string]any{"device_id": dev, "date": "2025-06-15", "visual_ok": true, "functional_ok": true,
				"measurements": []map[string]any{{"kind": "insulation_resistance", "value": 50, "unit": "MΩ"}}}
		}
		e.do("POST", "/api/v1/tests", insp, testBody(devC)).wantError(t, 404, izy.ENOTFOUND)
		e.do("POST", "/api/v1/tests", insp, testBody(devB)).wantError(t, 403, izy.EFORBIDDEN)
		e.createAs(insp, "/api/v1/tests", testBody(devA))
		if got := e.listAll("/api/v1/tests", insp, 10); len(got) != 1 {
			t.Fatalf("inspector sees %d tests, want 1", len(got))
		}
		if got := e.listAll("/api/v1/tests?customer_id="+c, insp, 10); len(got) != 0 {
			t.Fatalf("inspector sees %d tests of C", len(got))
		}

		// Roles: an inspector keeps no customers or instruments; a clerk records no tests
		// and creates no customers, but edits a granted one.
		e.do("POST", "/api/v1/customers", insp, map[string]any{"number": "X", "name": "X"}).wantError(t, 403, izy.EFORBIDDEN)
		e.do("POST", "/api/v1/instruments", insp, map[string]any{"type": "T", "serial_number": "S", "calibration_due": "2026-01-01"}).wantError(t, 403, izy.EFORBIDDEN)
		e.do("POST", "/api/v1/customers", clerk, map[string]any{"number": "X", "name": "X"}).wantError(t, 403, izy.EFORBIDDEN)
		e.do("POST", "/api/v1/tests", clerk, testBody(devA)).wantError(t, 403, izy.EFORBIDDEN)
		e.do("PATCH", "/api/v1/customers/"+a, clerk, map[string]any{"version": 1, "name": "Alpha GmbH"}).want(t, 200)
		e.do("PATCH", "/api/v1/customers/"+b, clerk, map[string]any{"version": 1, "name": "Beta GmbH"}).wantError(t, 404, izy.ENOTFOUND)
		e.createAs(clerk, "/api/v1/instruments", map[string]any{"type": "T", "serial_number": "S", "calibration_due": "2026-01-01"})
		e.do("DELETE", "/api/v1/customers/"+a, clerk, nil).wantError(t, 403, izy.EFORBIDDEN)

		// The dashboard counts only granted devices: A-1, N1 (A), B-1 (B).
		var dash izy.Dashboard
		e.do("GET", "/api/v1/dashboard", insp, nil).want(t, 200).decode(t, &dash)
		if n := dash.Devices.Green + dash.Devices.Yellow + dash.Devices.Orange + dash.Devices.Red; n != 3 {
			t.Fatalf("inspector's dashboard counts %d devices, want 3: %+v", n, dash.Devices)
		}
	})
}
