package server_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// conflictsFor uploads, for each device, an edit of its designation that the office
// changed too: one field conflict per device.
func conflictsFor(t *testing.T, e *env, token, checkoutID string, devs []string) {
	t.Helper()
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	b := izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion}
	for _, d := range devs {
		var dv izy.Device
		e.get("/api/v1/devices/"+d, &dv)
		e.do("PATCH", "/api/v1/devices/"+d, e.admin, map[string]any{"version": dv.Version, "designation": "Office " + d[len(d)-4:]}).want(t, 200)
		b.Mutations = append(b.Mutations, izy.Mutation{ID: izy.NewID(), Op: izy.OpUpdate, Entity: "device", EntityID: d, BaseVersion: dv.Version,
			Fields: map[string]json.RawMessage{"designation": raw("Field " + d[len(d)-4:])}, Base: map[string]json.RawMessage{"designation": raw(dv.Designation)}})
	}
	var res izy.BatchResult
	e.do("POST", "/api/v1/checkouts/"+checkoutID+"/uploads", token, b).want(t, 200).decode(t, &res)
	for _, r := range res.Results {
		if r.Status != izy.MutationConflict {
			t.Fatalf("mutation on %s: %s %s, want a conflict", r.EntityID, r.Status, r.Message)
		}
	}
}

// TestSyncListsPaged pages through GET /api/v1/checkouts and GET /api/v1/conflicts with
// limit and cursor like every other list: each item once, in the order made, filters and
// visibility kept; bad limits and cursors are 400 naming the parameter.
func TestSyncListsPaged(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newSyncEnv(t, db)
		cust := e.customer("P1", "Paged GmbH")
		insp := e.newUser("insp", izy.RoleInspector, izy.Grant{CustomerID: cust, Access: izy.AccessWrite})
		var all, mine []string
		for i := range 7 {
			token := e.admin
			if i%3 == 0 {
				token = insp
			}
			var co izy.Checkout
			e.do("POST", "/api/v1/checkouts", token, map[string]any{"client_id": fmt.Sprintf("client-%d", i), "customer_id": cust}).want(t, 201).decode(t, &co)
			all = append(all, co.ID)
			if token == insp {
				mine = append(mine, co.ID)
			}
		}
		for _, limit := range []int{1, 2, 3, 100} {
			if got := e.listAll("/api/v1/checkouts", e.admin, limit); !slices.Equal(got, all) {
				t.Errorf("limit %d: admin pages %v, want %v", limit, got, all)
			}
		}
		if got := e.listAll("/api/v1/checkouts", insp, 2); !slices.Equal(got, mine) {
			t.Errorf("the inspector pages %v, want their own %v", got, mine)
		}
		// A released checkout leaves the list.
		e.do("DELETE", "/api/v1/checkouts/"+all[1], e.admin, nil).want(t, 204)
		if got, want := e.listAll("/api/v1/checkouts", e.admin, 2), slices.Delete(slices.Clone(all), 1, 2); !slices.Equal(got, want) {
			t.Errorf("after a release: %v, want %v", got, want)
		}

		// Conflicts: five on the inspector's checkout, two on the admin's.
		var devs []string
		for i := range 7 {
			devs = append(devs, e.device(cust, nil, fmt.Sprintf("PG-%d", i)))
		}
		conflictsFor(t, e, insp, mine[0], devs[:5])
		conflictsFor(t, e, e.admin, all[2], devs[5:])
		var page struct {
			Items      []izy.Conflict
			NextCursor *string `json:"next_cursor"`
		}
		e.do("GET", "/api/v1/conflicts?limit=2&checkout_id="+mine[0], insp, nil).want(t, 200).decode(t, &page)
		if len(page.Items) != 2 || page.NextCursor == nil || page.Items[0].EntityID != devs[0] || page.Items[1].EntityID != devs[1] {
			t.Fatalf("first page of conflicts: %+v", page)
		}
		if got := e.listAll("/api/v1/conflicts?checkout_id="+mine[0]+"&status=open", insp, 2); len(got) != 5 {
			t.Errorf("open conflicts of the checkout: %d, want 5", len(got))
		}
		if got := e.listAll("/api/v1/conflicts", insp, 3); len(got) != 5 {
			t.Errorf("the inspector sees %d conflicts, want their 5", len(got))
		}
		if got := e.listAll("/api/v1/conflicts", e.admin, 3); len(got) != 7 {
			t.Errorf("the admin sees %d conflicts, want 7", len(got))
		}
		if got := e.listAll("/api/v1/conflicts?status=resolved", e.admin, 3); len(got) != 0 {
			t.Errorf("%d resolved conflicts, want 0", len(got))
		}

		for _, c := range []struct{ path, word string }{
			{"/api/v1/checkouts?limit=0", "limit"},
			{"/api/v1/checkouts?limit=1001", "limit"},
			{"/api/v1/checkouts?limit=ten", "limit"},
			{"/api/v1/checkouts?cursor=zzz", "cursor"},
			{"/api/v1/checkouts?cursor=" + izy.NewID(), "cursor"}, // an ID, not a cursor
			{"/api/v1/checkouts?mode=shared", "unknown query parameter"},
			{"/api/v1/conflicts?limit=-1", "limit"},
			{"/api/v1/conflicts?cursor=%%%", "query"},
			{"/api/v1/conflicts?cursor=bm90LWFuLWlk", "cursor"}, // "not-an-id"
			{"/api/v1/conflicts?status=maybe", "status"},
			{"/api/v1/conflicts?checkout_id=abc", "checkout_id"},
			{"/api/v1/conflicts?limit=2&limit=3", "more than once"},
		} {
			e.do("GET", c.path, e.admin, nil).wantError(t, 400, izy.EINVALID, c.word)
		}
	})
}

// TestSyncStateApplying follows a checkout's states through downloads: downloading while
// pages follow, applying once the end of a download went out, ready when the client asks
// on from there or acknowledges; /syncservice counts them.
func TestSyncStateApplying(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newSyncEnv(t, db)
		cust := e.customer("A1", "Applying AG")
		var devs []string
		for i := range 4 {
			devs = append(devs, e.device(cust, nil, fmt.Sprintf("AP-%d", i)))
		}
		var co izy.Checkout
		e.do("POST", "/api/v1/checkouts", e.admin, map[string]any{"client_id": "laptop", "customer_id": cust}).want(t, 201).decode(t, &co)
		state := func(want string) {
			t.Helper()
			var got izy.Checkout
			e.do("GET", "/api/v1/checkouts/"+co.ID, e.admin, nil).want(t, 200).decode(t, &got)
			if got.State != want {
				t.Fatalf("state %s, want %s", got.State, want)
			}
			var status struct{ Checkouts map[string]int }
			e.do("GET", "/syncservice", "", nil).want(t, 200).decode(t, &status)
			if status.Checkouts[want] != 1 {
				t.Fatalf("/syncservice %v, want one checkout %s", status.Checkouts, want)
			}
		}
		state(izy.SyncReady)
		var p izy.SyncPage
		e.do("GET", "/api/v1/checkouts/"+co.ID+"/snapshot?limit=2", e.admin, nil).want(t, 200).decode(t, &p)
		state(izy.SyncDownloading)
		for p.Next != "" {
			cursor := p.Next
			p = izy.SyncPage{}
			e.do("GET", "/api/v1/checkouts/"+co.ID+"/snapshot?limit=2&cursor="+cursor, e.admin, nil).want(t, 200).decode(t, &p)
		}
		state(izy.SyncApplying)
		// The client asks for changes from the snapshot: it has stored the snapshot. No
		// changes: ready.
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d", co.ID, co.SnapshotSeq), e.admin, nil).want(t, 200).decode(t, &p)
		state(izy.SyncReady)

		// Office edits: the change page with rows and nothing more puts it in applying
		// until the ack; a repeated ack changes nothing.
		for _, d := range devs[:3] {
			var dv izy.Device
			e.get("/api/v1/devices/"+d, &dv)
			e.do("PATCH", "/api/v1/devices/"+d, e.admin, map[string]any{"version": dv.Version, "comment": "office"}).want(t, 200)
		}
		p = izy.SyncPage{}
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d&limit=2", co.ID, co.SnapshotSeq), e.admin, nil).want(t, 200).decode(t, &p)
		if !p.More {
			t.Fatalf("first change page %+v, want more", p)
		}
		state(izy.SyncDownloading)
		upTo := p.UpTo
		p = izy.SyncPage{}
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d&limit=2", co.ID, upTo), e.admin, nil).want(t, 200).decode(t, &p)
		if p.More || len(p.Rows) != 1 {
			t.Fatalf("last change page %+v", p)
		}
		state(izy.SyncApplying)
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/ack", e.admin, map[string]any{"seq": p.UpTo}).want(t, 204)
		state(izy.SyncReady)
		e.do("POST", "/api/v1/checkouts/"+co.ID+"/ack", e.admin, map[string]any{"seq": p.UpTo}).want(t, 204)
		state(izy.SyncReady)

		// Conflicts pending are not hidden by a download.
		conflictsFor(t, e, e.admin, co.ID, devs[3:])
		state(izy.SyncConflictsPending)
		e.do("GET", fmt.Sprintf("/api/v1/checkouts/%s/changes?since=%d", co.ID, p.UpTo), e.admin, nil).want(t, 200)
		state(izy.SyncConflictsPending)
	})
}

// TestResolveRepeated: a resolution sent again (its answer was lost) answers the resolved
// conflict and applies nothing twice; another resolution of a resolved conflict is 409. A
// repeated checkout answers the open one; acks and releases may be repeated.
func TestResolveRepeated(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newSyncEnv(t, db)
		cust := e.customer("R1", "Repeat AG")
		dev := e.device(cust, nil, "RP-1")
		var co izy.Checkout
		e.do("POST", "/api/v1/checkouts", e.admin, map[string]any{"client_id": "laptop", "customer_id": cust}).want(t, 201).decode(t, &co)
		conflictsFor(t, e, e.admin, co.ID, []string{dev})
		var cl struct{ Items []izy.Conflict }
		e.do("GET", "/api/v1/conflicts?checkout_id="+co.ID, e.admin, nil).want(t, 200).decode(t, &cl)
		if len(cl.Items) != 1 {
			t.Fatalf("conflicts %+v", cl)
		}
		id := cl.Items[0].ID
		var first, again izy.Conflict
		e.do("POST", "/api/v1/conflicts/"+id+"/resolve", e.admin, map[string]any{"resolution": "take_client"}).want(t, 200).decode(t, &first)
		var d1 izy.Device
		e.get("/api/v1/devices/"+dev, &d1)
		e.do("POST", "/api/v1/conflicts/"+id+"/resolve", e.admin, map[string]any{"resolution": "take_client"}).want(t, 200).decode(t, &again)
		if a, b := toJSON(t, first), toJSON(t, again); a != b {
			t.Fatalf("the repeat answered\n%s\nwant\n%s", b, a)
		}
		var d2 izy.Device
		e.get("/api/v1/devices/"+dev, &d2)
		if d2.Version != d1.Version {
			t.Fatalf("the repeat applied the resolution again: version %d → %d", d1.Version, d2.Version)
		}
		var audit struct{ Items []izy.AuditEntry }
		e.get("/api/v1/audit?entity=conflict", &audit)
		if len(audit.Items) != 1 {
			t.Fatalf("%d audit entries for one resolution", len(audit.Items))
		}
		e.do("POST", "/api/v1/conflicts/"+id+"/resolve", e.admin, map[string]any{"resolution": "keep_server"}).wantError(t, 409, izy.ECONFLICT, "already resolved")

		// The other calls izy repeats after a lost answer: checkout, ack, release.
		var again2 izy.Checkout
		e.do("POST", "/api/v1/checkouts", e.admin, map[string]any{"client_id": "laptop", "customer_id": cust}).want(t, 201).decode(t, &again2)
		if again2.ID != co.ID {
			t.Fatalf("a repeated checkout made %s, want the open %s", again2.ID, co.ID)
		}
		for range 2 {
			e.do("POST", "/api/v1/checkouts/"+co.ID+"/ack", e.admin, map[string]any{"seq": co.SnapshotSeq}).want(t, 204)
		}
		for range 2 {
			e.do("DELETE", "/api/v1/checkouts/"+co.ID, e.admin, nil).want(t, 204)
		}
	})
}
