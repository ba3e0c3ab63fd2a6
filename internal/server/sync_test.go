package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

func newSyncEnv(t *testing.T, db *sqldb.DB) *env {
	return newEnv(t, db, func(c *server.Config) {
		c.Syncer = syncer.New(syncstore.New(db), nil, syncer.Limits{MaxMutations: 50, MaxBatchBytes: 256 << 10}, testLogger(t))
	})
}

// fetchSnapshot pages through a snapshot, checking each page's count and checksum, and
// returns every row.
func fetchSnapshot(t *testing.T, e *env, token, checkoutID, cursor string, limit int) ([]izy.Row, map[string]int64, int) {
	t.Helper()
	var rows []izy.Row
	pages := 0
	for {
		var p izy.SyncPage
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/snapshot?limit=%d&cursor=%s", checkoutID, limit, cursor), token, nil).want(t, 200).decode(t, &p)
		pages++
		if got, want := p.Count, len(p.Rows); got != want {
			t.Fatalf("page count %d, rows %d", got, want)
		}
		if got, want := p.Checksum, izy.RowsChecksum(p.Rows); got != want {
			t.Fatalf("page checksum %s, want %s", got, want)
		}
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			return rows, p.Totals, pages
		}
		if len(p.Rows) != limit {
			t.Fatalf("a page before the last has %d rows, want %d", len(p.Rows), limit)
		}
		cursor = p.Next
	}
}

func TestSyncEndToEnd(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newSyncEnv(t, db)
		cust := e.customer("S1", "Sync GmbH")
		other := e.customer("S2", "Other AG")
		insp := e.newUser("insp", izy.RoleInspector, izy.Grant{CustomerID: cust, Access: izy.AccessWrite})
		prop := e.location(cust, nil, "property", "Works")
		room := e.location(cust, &prop, "room", "Lab")
		var devs []string
		for i := range 7 {
			devs = append(devs, e.device(cust, &room, fmt.Sprintf("INV-%d", i)))
		}
		foreign := e.device(other, nil, "F-1")
		e.passTest(e.admin, devs[0], "2024-01-10")

		// Check out exclusively.
		var co izy.Checkout
		e.do("POST", "/api/v1/checkouts", insp, map[string]any{"client_id": "laptop-1", "client_name": "Laptop 1",
			"customer_id": cust, "mode": "exclusive", "protocol_version": 2}).want(t, 201).decode(t, &co)
		if co.State != izy.SyncReady || co.Username != "insp" || co.Mode != izy.CheckoutExclusive {
			t.Fatalf("checkout %+v", co)
		}
		// A second exclusive or shared checkout of the scope is refused, naming the holder.
		e.do("POST", "/api/v1/checkouts", e.admin, map[string]any{"client_id": "pc-2", "customer_id": cust, "mode": "shared"}).
			wantError(t, 409, izy.ECONFLICT, "insp", "Laptop 1")
		// Read-only and foreign grants cannot check out.
		e.do("POST", "/api/v1/checkouts", insp, map[string]any{"client_id": "laptop-1", "customer_id": other}).want(t, 404)

		// Snapshot in pages of 3, checked, then resumed from a cursor.
		rows, totals, pages := fetchSnapshot(t, e, insp, co.ID, "", 3)
		// 1 customer + 2 locations + 7 devices + 0 instruments + 1 test = 11 rows.
		if got, want := len(rows), 11; got != want {
			t.Fatalf("snapshot rows %d, want %d", got, want)
		}
		if pages != 4 || totals["device"] != 7 || totals["test"] != 1 || totals["location"] != 2 {
			t.Fatalf("pages %d totals %v", pages, totals)
		}
		for _, r := range rows {
			if r.ID == foreign {
				t.Fatal("the snapshot holds another customer's device")
			}
		}
		var first izy.SyncPage
		e.do("GET", "/api/v1/checkouts/"+co.ID+"/snapshot?limit=3", insp, nil).want(t, 200).decode(t, &first)
		resumed, _, _ := fetchSnapshot(t, e, insp, co.ID, first.Next, 3)
		if got, want := len(resumed), 8; got != want {
			t.Fatalf("resumed rows %d, want %d", got, want)
		}
		var test0 map[string]any
		for _, r := range rows {
			if r.Entity == "test" {
				json.Unmarshal(r.Data, &test0)
			}
		}
		if ms, _ := test0["measurements"].([]any); len(ms) != 2 {
			t.Fatalf("test row without measurements: %v", test0)
		}

		// The exclusive checkout blocks online edits, naming the holder.
		var d1 izy.Device
		e.get("/api/v1/devices/"+devs[1], &d1)
		e.do("PATCH", "/api/v1/devices/"+devs[1], e.admin, map[string]any{"version": d1.Version, "comment": "office"}).
			wantError(t, 409, izy.ECONFLICT, "insp", "Laptop 1")
		e.do("POST", "/api/v1/tests", e.admin, map[string]any{"device_id": devs[1], "date": "2024-01-11", "visual_ok": true, "functional_ok": false}).
			wantError(t, 409, izy.ECONFLICT, "exclusively")
		// Other customers stay editable.
		var fd izy.Device
		e.get("/api/v1/devices/"+foreign, &fd)
		e.do("PATCH", "/api/v1/devices/"+foreign, e.admin, map[string]any{"version": fd.Version, "comment": "ok"}).want(t, 200)

		// Release and check out shared: online edits go through and show in the changes.
		e.do("DELETE", "/api/v1/checkouts/"+co.ID, insp, nil).want(t, 204)
		e.do("POST", "/api/v1/checkouts", insp, map[string]any{"client_id": "laptop-1", "client_name": "Laptop 1",
			"customer_id": cust, "mode": "shared"}).want(t, 201).decode(t, &co)
		var d2, d3, d4 izy.Device
		e.get("/api/v1/devices/"+devs[2], &d2)
		e.get("/api/v1/devices/"+devs[3], &d3)
		e.get("/api/v1/devices/"+devs[4], &d4)
		e.do("PATCH", "/api/v1/devices/"+devs[2], e.admin, map[string]any{"version": d2.Version, "comment": "office comment"}).want(t, 200)
		e.do("PATCH", "/api/v1/devices/"+devs[3], e.admin, map[string]any{"version": d3.Version, "designation": "Office name"}).want(t, 200)
		e.do("PATCH", "/api/v1/devices/"+devs[4], e.admin, map[string]any{"version": d4.Version, "comment": "edited"}).want(t, 200)
		var ch izy.SyncPage
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d&limit=2", co.ID, co.SnapshotSeq), insp, nil).want(t, 200).decode(t, &ch)
		if len(ch.Rows) != 2 || !ch.More || ch.Rows[0].ID != devs[2] || ch.Checksum != izy.RowsChecksum(ch.Rows) {
			t.Fatalf("changes page %+v", ch)
		}
		upTo := ch.UpTo
		ch = izy.SyncPage{}
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d", co.ID, upTo), insp, nil).want(t, 200).decode(t, &ch)
		if len(ch.Rows) != 1 || ch.More || ch.Rows[0].ID != devs[4] {
			t.Fatalf("second changes page %+v", ch)
		}
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/ack", insp, map[string]any{"seq": ch.UpTo}).want(t, 204)

		// Upload: applied, merged, conflict, rejected, test, outside the scope.
		newDev := izy.NewID()
		testID := izy.NewID()
		raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
		batch := izy.Batch{ID: "batch-1", Protocol: 2, Mutations: []izy.Mutation{
			{ID: "m1", Op: "update", Entity: "device", EntityID: devs[5], BaseVersion: 1,
				Fields: map[string]json.RawMessage{"designation": raw("Offline name")}, Base: map[string]json.RawMessage{"designation": raw("Drill INV-5")}},
			{ID: "m2", Op: "update", Entity: "device", EntityID: devs[2], BaseVersion: 1,
				Fields: map[string]json.RawMessage{"designation": raw("Field name")}, Base: map[string]json.RawMessage{"designation": raw("Drill INV-2")}},
			{ID: "m3", Op: "update", Entity: "device", EntityID: devs[3], BaseVersion: 1,
				Fields: map[string]json.RawMessage{"designation": raw("Field name")}, Base: map[string]json.RawMessage{"designation": raw("Drill INV-3")}},
			{ID: "m4", Op: "update", Entity: "device", EntityID: devs[6], BaseVersion: 1,
				Fields: map[string]json.RawMessage{"protection_class": raw("IV")}, Base: map[string]json.RawMessage{"protection_class": raw("I")}},
			{ID: "m5", Op: "test", Entity: "test", EntityID: testID, Fields: map[string]json.RawMessage{
				"device_id": raw(devs[5]), "date": raw("2024-02-01"), "visual_ok": raw(true), "functional_ok": raw(true),
				"measurements": raw([]map[string]any{{"kind": "protective_conductor_resistance", "value": 0.5, "unit": "Ω"}})}},
			{ID: "m6", Op: "update", Entity: "device", EntityID: foreign, BaseVersion: 2,
				Fields: map[string]json.RawMessage{"comment": raw("x")}},
			{ID: "m7", Op: "create", Entity: "device", EntityID: newDev, Fields: map[string]json.RawMessage{
				"location_id": raw(room), "inventory_id": raw("NEW-1"), "designation": raw("Kettle"), "protection_class": raw("I"), "serial_number": raw("K-1")}},
			{ID: "m8", Op: "create", Entity: "device", EntityID: izy.NewID(), Fields: map[string]json.RawMessage{
				"inventory_id": raw("NEW-2"), "designation": raw("Kettle twin"), "protection_class": raw("I"), "serial_number": raw("SN-INV-0")}},
			{ID: "m9", Op: "frobnicate", Entity: "device", EntityID: devs[0]},
		}}
		var res izy.BatchResult
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/uploads", insp, batch).want(t, 200).decode(t, &res)
		want := []string{"applied", "merged", "conflict", "rejected", "applied", "rejected", "applied", "conflict", "rejected"}
		for i, r := range res.Results {
			if r.Status != want[i] {
				t.Errorf("mutation %s: %s (%s), want %s", r.MutationID, r.Status, r.Message, want[i])
			}
		}
		if len(res.Results) != len(want) {
			t.Fatalf("results %d", len(res.Results))
		}
		var tr izy.Test
		e.get("/api/v1/tests/"+testID, &tr)
		if tr.Result != "fail" || tr.Measurements[0].Result != "fail" {
			t.Fatalf("offline test evaluated %+v", tr)
		}
		// A retry answers the same result and applies nothing twice.
		var again izy.BatchResult
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/uploads", insp, batch).want(t, 200).decode(t, &again)
		if a, b := toJSON(t, res), toJSON(t, again); a != b {
			t.Fatalf("retry answered\n%s\nwant\n%s", b, a)
		}
		// The same mutation in another batch (re-batched by the client) is applied once.
		batch2 := izy.Batch{ID: "batch-2", Protocol: 2, Mutations: []izy.Mutation{batch.Mutations[4], batch.Mutations[0]}}
		var res2 izy.BatchResult
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/uploads", insp, batch2).want(t, 200).decode(t, &res2)
		if res2.Results[0].Status != "applied" || res2.Results[1].Version != res.Results[0].Version {
			t.Fatalf("re-batched results %+v", res2.Results)
		}
		var tests struct{ Items []izy.Test }
		e.get("/api/v1/tests?device_id="+devs[5], &tests)
		if len(tests.Items) != 1 {
			t.Fatalf("the offline test is stored %d times", len(tests.Items))
		}

		// Conflicts: listed, shown with base, server and client, and block the check-in.
		var got izy.Checkout
		e.do("GET", "/api/v1/checkouts/"+co.ID, insp, nil).want(t, 200).decode(t, &got)
		if got.State != izy.SyncConflictsPending || got.OpenConflicts != 2 {
			t.Fatalf("checkout after upload %+v", got)
		}
		var status struct{ Checkouts map[string]int }
		e.do("GET", "/syncservice", "", nil).want(t, 200).decode(t, &status)
		if status.Checkouts[izy.SyncConflictsPending] != 1 {
			t.Fatalf("/syncservice %+v", status)
		}
		e.do("DELETE", "/api/v1/checkouts/"+co.ID, insp, nil).wantError(t, 409, izy.ECONFLICT, "conflicts")
		var cl struct{ Items []izy.Conflict }
		e.do("GET", "/api/v1/conflicts?status=open&checkout_id="+co.ID, insp, nil).want(t, 200).decode(t, &cl)
		if len(cl.Items) != 2 {
			t.Fatalf("conflicts %+v", cl)
		}
		field, dup := cl.Items[0], cl.Items[1]
		if field.Kind != izy.ConflictField || len(field.Fields) != 1 || string(field.Fields[0].Server) != `"Office name"` ||
			string(field.Fields[0].Client) != `"Field name"` || string(field.Fields[0].Base) != `"Drill INV-3"` {
			t.Fatalf("field conflict %+v", field)
		}
		if dup.Kind != izy.ConflictDuplicate {
			t.Fatalf("duplicate conflict %+v", dup)
		}
		e.do("POST", "/api/v1/conflicts/"+field.ID+"/resolve", insp, map[string]any{"resolution": "take_client"}).want(t, 200)
		var d3now izy.Device
		e.get("/api/v1/devices/"+devs[3], &d3now)
		if d3now.Designation != "Field name" {
			t.Fatalf("take_client left %q", d3now.Designation)
		}
		e.do("POST", "/api/v1/conflicts/"+field.ID+"/resolve", insp, map[string]any{"resolution": "keep_server"}).wantError(t, 409, izy.ECONFLICT)
		e.do("POST", "/api/v1/conflicts/"+dup.ID+"/resolve", insp, map[string]any{"resolution": "create_new"}).want(t, 200)
		var list struct{ Items []izy.Device }
		e.get("/api/v1/devices?customer_id="+cust+"&q=NEW-2", &list)
		if len(list.Items) != 1 {
			t.Fatalf("create_new made %d devices", len(list.Items))
		}
		var audit struct{ Items []izy.AuditEntry }
		e.get("/api/v1/audit?entity=conflict", &audit)
		if len(audit.Items) != 2 {
			t.Fatalf("audit entries for resolutions: %d", len(audit.Items))
		}
		e.do("DELETE", "/api/v1/checkouts/"+co.ID, insp, nil).want(t, 204)
		e.do("GET", "/api/v1/checkouts/"+co.ID+"/snapshot", insp, nil).wantError(t, 409, izy.ECONFLICT, "checked in")
	})
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSyncBadInput(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newSyncEnv(t, db)
		cust := e.customer("B1", "Bad input")
		var co izy.Checkout
		e.do("POST", "/api/v1/checkouts", e.admin, map[string]any{"client_id": "c", "customer_id": cust}).want(t, 201).decode(t, &co)
		up := "/api/v1/checkouts/" + co.ID + "/uploads"
		for _, c := range []struct {
			name, body string
			status     int
		}{
			{"malformed", `{"batch_id":`, 400},
			{"not an object", `[1]`, 400},
			{"unknown field", `{"batch_id":"b","protocol_version":2,"mutations":[],"x":1}`, 400},
			{"unknown protocol", `{"batch_id":"b","protocol_version":9,"mutations":[]}`, 400},
			{"no batch id", `{"protocol_version":2,"mutations":[]}`, 400},
			{"no mutation id", `{"batch_id":"b","protocol_version":2,"mutations":[{"op":"update"}]}`, 400},
			{"too many mutations", `{"batch_id":"b","protocol_version":2,"mutations":[` + strings.TrimSuffix(strings.Repeat(`{"mutation_id":"m","op":"x"},`, 51), ",") + `]}`, 413},
			{"too many bytes", `{"batch_id":"b","protocol_version":2,"mutations":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`, 413},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do("POST", up, e.admin, c.body).want(t, c.status)
				r.apiError(t)
			})
		}
		e.do("GET", "/api/v1/checkouts/"+co.ID+"/snapshot?cursor=zzz", e.admin, nil).wantError(t, 400, izy.EINVALID, "cursor")
		e.do("GET", "/api/v1/checkouts/"+co.ID+"/changes?since=-1", e.admin, nil).wantError(t, 400, izy.EINVALID)
		e.do("GET", "/api/v1/checkouts/"+izy.NewID(), e.admin, nil).wantError(t, 404, izy.ENOTFOUND)
		// Another inspector sees neither the checkout nor its conflicts.
		other := e.newUser("other", izy.RoleInspector, izy.Grant{CustomerID: cust, Access: izy.AccessWrite})
		e.do("GET", "/api/v1/checkouts/"+co.ID, other, nil).wantError(t, 404, izy.ENOTFOUND)
		e.do("POST", up, other, `{"batch_id":"b","protocol_version":2,"mutations":[]}`).wantError(t, 404, izy.ENOTFOUND)
	})
}
