package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestConflictsPagedAndStates: izy conflicts pages through every conflict of the server
// (more than one page), and izy status shows each checkout's sync state: applying when a
// sync stopped after storing the end of a download but before the server heard so,
// conflicts-pending while conflicts are open, ready after a clean sync.
func TestConflictsPagedAndStates(t *testing.T) {
	defer func(n int) { conflictsPage = n }(conflictsPage)
	conflictsPage = 2
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		hs := startServer(t, db)
		api := apiClient(t, hs.URL)
		f := makeFixture(t, api, 5)
		fl := &flaky{h: hs.Config.Handler, status: http.StatusServiceUnavailable, paths: func(p string) bool { return strings.HasSuffix(p, "/ack") }}
		gw := httptest.NewServer(fl)
		t.Cleanup(gw.Close)
		home := t.TempDir()
		login(t, home, gw.URL)
		izyRun(t, home, "checkout", "--customer", f.customer.ID)
		state := func(want string) {
			t.Helper()
			var st statusResult
			izyJSON(t, home, &st, "status")
			if len(st.Checkouts) != 1 || st.Checkouts[0].SyncState != want {
				t.Fatalf("status checkouts %+v, want one in state %s", st.Checkouts, want)
			}
			if out := izyRun(t, home, "status"); !strings.Contains(out, want) {
				t.Fatalf("status shows no %s:\n%s", want, out)
			}
		}
		state(izy.SyncReady)

		// The office edits every device; the acknowledgement of the download is refused
		// (503) and izy gives up at once: the changes are stored, the server not told.
		for _, d := range f.devices {
			cur, err := api.Device(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := api.PatchDevice(ctx, d.ID, map[string]any{"version": cur.Version, "designation": "Büro " + d.InventoryID}); err != nil {
				t.Fatal(err)
			}
		}
		fl.n.Store(1)
		if _, _, err := izyEnv(home, fastRetry, "--retry-for", "0", "sync"); err == nil {
			t.Fatal("sync with the ack refused: no error")
		}
		state(izy.SyncApplying)
		co, err := api.Checkout(ctx, mustStatus(t, home).Checkouts[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if co.State != izy.SyncApplying {
			t.Fatalf("server state %s, want applying: the client has not confirmed the download", co.State)
		}
		izyRun(t, home, "sync")
		state(izy.SyncReady)

		// Offline edits of the same field make one conflict per device.
		for _, d := range f.devices {
			izyRun(t, home, "device", "edit", d.ID, "--designation", "Feld "+d.InventoryID)
		}
		for _, d := range f.devices {
			cur, err := api.Device(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := api.PatchDevice(ctx, d.ID, map[string]any{"version": cur.Version, "designation": "Büro 2 " + d.InventoryID}); err != nil {
				t.Fatal(err)
			}
		}
		izyRun(t, home, "sync")
		state(izy.SyncConflictsPending)
		var list struct {
			Items   []izy.Conflict
			Offline bool
		}
		izyJSON(t, home, &list, "conflicts", "list")
		if got, want := len(list.Items), len(f.devices); got != want || list.Offline {
			t.Fatalf("izy conflicts list: %d conflicts (offline %v), want %d", got, list.Offline, want)
		}
		seen := map[string]bool{}
		for _, c := range list.Items {
			seen[c.EntityID] = true
		}
		if len(seen) != len(f.devices) {
			t.Fatalf("conflicts on %d distinct devices, want %d: %v", len(seen), len(f.devices), seen)
		}
		for _, c := range list.Items {
			izyRun(t, home, "conflicts", "resolve", c.ID, "--take-client")
		}
		izyRun(t, home, "sync")
		state(izy.SyncReady)
		t.Log(fmt.Sprint(len(list.Items), " conflicts listed in pages of ", conflictsPage))
	})
}

func mustStatus(t *testing.T, home string) statusResult {
	t.Helper()
	var st statusResult
	izyJSON(t, home, &st, "status")
	return st
}
