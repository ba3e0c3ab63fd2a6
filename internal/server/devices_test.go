package server_test

import (
	"fmt"
	"net/url"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// device is the JSON of a device as the API answers it.
type device struct {
	izy.Device
	Colour izy.Colour `json:"colour"`
}

func TestLocationsCRUD(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		a, b := e.customer("A", "Alpha"), e.customer("B", "Beta")
		prop := e.location(a, nil, "property", "Werk Nord")
		bldg := e.location(a, &prop, "building", "Halle 1")
		room := e.location(a, &bldg, "room", "Raum 1.01")
		other := e.location(b, nil, "property", "Beta HQ")

		if got := e.listAll("/api/v1/locations?customer_id="+a, e.admin, 2); !sameSet(got, []string{prop, bldg, room}) {
			t.Fatalf("locations of A: %v", got)
		}
		if got := e.listAll("/api/v1/locations?parent_id="+prop, e.admin, 10); !sameSet(got, []string{bldg}) {
			t.Fatalf("children of the property: %v", got)
		}
		if got := e.listAll("/api/v1/locations", e.admin, 3); !sameSet(got, []string{prop, bldg, room, other}) {
			t.Fatalf("all locations: %v", got)
		}
		// Tree rules: a building under a room, a parent of another customer, a level without parent.
		e.do("POST", "/api/v1/locations", e.admin, map[string]any{"customer_id": a, "parent_id": room, "kind": "building", "name": "X"}).wantError(t, 400, izy.EINVALID)
		e.do("POST", "/api/v1/locations", e.admin, map[string]any{"customer_id": a, "parent_id": other, "kind": "building", "name": "X"}).wantError(t, 400, izy.EINVALID)
		e.do("POST", "/api/v1/locations", e.admin, map[string]any{"customer_id": a, "kind": "level", "name": "X"}).wantError(t, 400, izy.EINVALID, "parent")
		e.do("POST", "/api/v1/locations", e.admin, map[string]any{"customer_id": a, "kind": "cellar", "name": "X"}).wantError(t, 400, izy.EINVALID, "kind")

		var l izy.Location
		e.get("/api/v1/locations/"+room, &l)
		e.do("PATCH", "/api/v1/locations/"+room, e.admin, map[string]any{"version": l.Version, "name": "Raum 1.02"}).want(t, 200).decode(t, &l)
		if l.Name != "Raum 1.02" || l.ParentID == nil || *l.ParentID != bldg || l.Version != 2 {
			t.Fatalf("after PATCH: %+v", l)
		}
		e.do("PATCH", "/api/v1/locations/"+room, e.admin, map[string]any{"version": 1, "name": "Stale"}).wantError(t, 409, izy.ECONFLICT)
		e.do("PATCH", "/api/v1/locations/"+room, e.admin, map[string]any{"version": 2, "customer_id": b}).wantError(t, 400, izy.EINVALID, "customer")

		// Only a leaf without devices may go.
		e.do("DELETE", "/api/v1/locations/"+bldg, e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		dev := e.device(a, &room, "D1")
		e.do("DELETE", "/api/v1/locations/"+room, e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		var d device
		e.get("/api/v1/devices/"+dev, &d)
		e.do("PATCH", "/api/v1/devices/"+dev, e.admin, map[string]any{"version": d.Version, "location_id": nil}).want(t, 200)
		e.do("DELETE", "/api/v1/locations/"+room+"?version=2", e.admin, nil).want(t, 204)
		e.do("GET", "/api/v1/locations/"+room, e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
	})
}

func TestDevicesCRUD(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		a, b := e.customer("A", "Alpha"), e.customer("B", "Beta")
		prop := e.location(a, nil, "property", "Werk")
		hall := e.location(a, &prop, "building", "Halle")
		room := e.location(a, &hall, "room", "Raum")
		office := e.location(a, &prop, "building", "Büro")

		var inRoom, inOffice, ofB []string
		for i := range 12 {
			inRoom = append(inRoom, e.device(a, &room, fmt.Sprintf("R-%02d", i)))
		}
		for i := range 5 {
			inOffice = append(inOffice, e.device(a, &office, fmt.Sprintf("O-%02d", i)))
		}
		for i := range 4 {
			ofB = append(ofB, e.device(b, nil, fmt.Sprintf("B-%02d", i)))
		}
		odd := e.device(a, nil, "50%_off'--")
		allA := append(append(append([]string{}, inRoom...), inOffice...), odd)

		for _, limit := range []int{1, 5, 100} {
			if got := e.listAll("/api/v1/devices?customer_id="+a, e.admin, limit); !sameSet(got, allA) {
				t.Fatalf("limit %d: devices of A: %d, want %d", limit, len(got), len(allA))
			}
		}
		if got := e.listAll("/api/v1/devices", e.admin, 7); len(got) != len(allA)+len(ofB) {
			t.Fatalf("all devices: %d, want %d", len(got), len(allA)+len(ofB))
		}
		// A location filter includes everything below it.
		for loc, want := range map[string][]string{prop: append(append([]string{}, inRoom...), inOffice...), hall: inRoom, room: inRoom, office: inOffice} {
			if got := e.listAll("/api/v1/devices?location_id="+loc, e.admin, 4); !sameSet(got, want) {
				t.Errorf("location %s: %d devices, want %d", loc, len(got), len(want))
			}
		}
		// Search with SQL metacharacters matches literally.
		for q, want := range map[string][]string{"%": {odd}, "_off": {odd}, "'--": {odd}, "R-1": inRoom[10:12], "SN-B-03": ofB[3:]} {
			if got := e.listAll("/api/v1/devices?q="+url.QueryEscape(q), e.admin, 50); !sameSet(got, want) {
				t.Errorf("q=%q: %v, want %v", q, got, want)
			}
		}
		// Colours: untested devices are red; one passed test today makes it green.
		e.passTest(e.admin, inOffice[0], "2025-06-15")
		if got := e.listAll("/api/v1/devices?colour=green", e.admin, 50); !sameSet(got, inOffice[:1]) {
			t.Fatalf("green: %v", got)
		}
		if got := e.listAll("/api/v1/devices?color=red&customer_id="+b, e.admin, 50); !sameSet(got, ofB) {
			t.Fatalf("red devices of B: %v", got)
		}
		var d device
		e.get("/api/v1/devices/"+inOffice[0], &d)
		if d.Colour != izy.Green || d.NextDue.String() != "2026-06-15" || d.LastResult != "pass" {
			t.Fatalf("tested device: colour %s next_due %s last_result %s", d.Colour, d.NextDue, d.LastResult)
		}

		// PUT the fetched device back with a change; server-owned fields are ignored.
		d.Designation = "Bohrmaschine"
		d.NextDue = izy.Date{Year: 2099, Month: 1, Day: 1}
		d.Colour = izy.Green
		var put device
		e.do("PUT", "/api/v1/devices/"+d.ID, e.admin, d).want(t, 200).decode(t, &put)
		if put.Designation != "Bohrmaschine" || put.NextDue.String() != "2026-06-15" || put.Version != 2 {
			t.Fatalf("after PUT: designation %q next_due %s version %d", put.Designation, put.NextDue, put.Version)
		}
		// Stale version: 409, nothing changed.
		d.Designation = "Stale"
		e.do("PUT", "/api/v1/devices/"+d.ID, e.admin, d).wantError(t, 409, izy.ECONFLICT)
		e.do("PATCH", "/api/v1/devices/"+d.ID, e.admin, map[string]any{"version": 2, "customer_id": b}).wantError(t, 400, izy.EINVALID, "customer")
		e.do("PATCH", "/api/v1/devices/"+d.ID, e.admin, map[string]any{"version": 2, "protection_class": "IV"}).wantError(t, 400, izy.EINVALID, "protection_class")
		e.do("PATCH", "/api/v1/devices/"+d.ID, e.admin, map[string]any{"version": 2, "location_id": izy.NewID()}).wantError(t, 400, izy.EINVALID)
		e.get("/api/v1/devices/"+d.ID, &d)
		if d.Designation != "Bohrmaschine" || d.Version != 2 {
			t.Fatalf("rejected updates changed the device: %+v", d)
		}
		// PATCH keeps the rest.
		var p device
		e.do("PATCH", "/api/v1/devices/"+d.ID, e.admin, map[string]any{"version": 2, "interval_months": 24, "heating_elements": true, "heating_power_kw": 2.0}).want(t, 200).decode(t, &p)
		if p.IntervalMonths != 24 || p.Designation != "Bohrmaschine" || p.HeatingPowerKW == nil || *p.HeatingPowerKW != 2 || p.LocationID == nil || *p.LocationID != office {
			t.Fatalf("after PATCH: %+v", p)
		}
		// Duplicate inventory ID within a customer conflicts.
		e.do("POST", "/api/v1/devices", e.admin, map[string]any{"customer_id": a, "inventory_id": "R-00", "designation": "x", "protection_class": "II"}).wantError(t, 409, izy.ECONFLICT)
		e.do("POST", "/api/v1/devices", e.admin, map[string]any{"customer_id": izy.NewID(), "inventory_id": "Z", "designation": "x", "protection_class": "II"}).want(t, 400, 404)

		// DELETE retires; retired devices drop out of status=active.
		e.do("DELETE", "/api/v1/devices/"+odd+"?version=7", e.admin, nil).wantError(t, 409, izy.ECONFLICT)
		var retired device
		e.do("DELETE", "/api/v1/devices/"+odd, e.admin, nil).want(t, 200).decode(t, &retired)
		if retired.Status != izy.DeviceRetired {
			t.Fatalf("status after DELETE: %s", retired.Status)
		}
		e.do("DELETE", "/api/v1/devices/"+odd, e.admin, nil).want(t, 200)
		if got := e.listAll("/api/v1/devices?status=retired", e.admin, 10); !sameSet(got, []string{odd}) {
			t.Fatalf("retired: %v", got)
		}
		if got := e.listAll("/api/v1/devices?status=active&customer_id="+a, e.admin, 100); len(got) != len(allA)-1 {
			t.Fatalf("active devices of A: %d, want %d", len(got), len(allA)-1)
		}
	})
}

func TestInstrumentsCRUD(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		mk := func(serial, due string) string {
			return e.create("/api/v1/instruments", map[string]any{"type": "Secutest", "serial_number": serial, "calibration_due": due})
		}
		green, yellow, orange, red := mk("G1", "2025-12-31"), mk("Y1", "2025-07-10"), mk("O1", "2025-06-20"), mk("R1", "2025-06-14")
		for colour, want := range map[string]string{"green": green, "yellow": yellow, "orange": orange, "red": red} {
			if got := e.listAll("/api/v1/instruments?colour="+colour, e.admin, 10); !sameSet(got, []string{want}) {
				t.Errorf("%s instruments: %v, want %v", colour, got, want)
			}
		}
		var inst struct {
			izy.Instrument
			Colour string
		}
		e.get("/api/v1/instruments/"+orange, &inst)
		if inst.Colour != "orange" {
			t.Fatalf("colour %q", inst.Colour)
		}
		e.do("PATCH", "/api/v1/instruments/"+orange, e.admin, map[string]any{"version": 1, "calibration_due": "2026-06-20"}).want(t, 200).decode(t, &inst)
		if inst.Colour != "green" || inst.Version != 2 {
			t.Fatalf("after calibration: %+v", inst)
		}
		e.do("PATCH", "/api/v1/instruments/"+orange, e.admin, map[string]any{"version": 1, "model": "stale"}).wantError(t, 409, izy.ECONFLICT)
		e.do("POST", "/api/v1/instruments", e.admin, map[string]any{"type": "Secutest", "serial_number": "X"}).wantError(t, 400, izy.EINVALID, "calibration_due")
		e.do("POST", "/api/v1/instruments", e.admin, map[string]any{"type": "Secutest", "serial_number": "X", "calibration_due": "2025-02-30"}).wantError(t, 400, izy.EINVALID, "2025-02-30")
		e.do("DELETE", "/api/v1/instruments/"+red, e.admin, nil).want(t, 200).decode(t, &inst)
		if inst.Status != izy.DeviceRetired {
			t.Fatalf("status %q", inst.Status)
		}
		if got := e.listAll("/api/v1/instruments", e.admin, 2); len(got) != 4 {
			t.Fatalf("%d instruments listed, want 4", len(got))
		}
	})
}
