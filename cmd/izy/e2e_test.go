package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// serverHasSync reports whether the server lists the sync routes.
func serverHasSync() bool {
	for _, rt := range server.New(nil, server.Config{}, slog.New(slog.DiscardHandler)).Routes() {
		if strings.HasPrefix(rt.Pattern, "/api/v1/checkouts") {
			return true
		}
	}
	return false
}

// TestCheckoutTestSyncCheckin is the inspector's day: check out, test and edit offline,
// sync, check in — and the test is on the server.
func TestCheckoutTestSyncCheckin(t *testing.T) {
	if !serverHasSync() {
		t.Skip("the server has no /api/v1/checkouts routes yet")
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		hs := startServer(t, db)
		api := apiClient(t, hs.URL)
		f := makeFixture(t, api, 3)
		home := t.TempDir()
		login(t, home, hs.URL)

		var co checkoutResult
		izyJSON(t, home, &co, "checkout", "--customer", f.customer.ID)
		if co.Totals["device"] != 3 || co.Totals["customer"] != 1 || co.Totals["location"] != 1 {
			t.Fatalf("checkout totals = %v", co.Totals)
		}
		d := f.devices[0]
		var tr testResult
		izyJSON(t, home, &tr, "test", d.ID, "--measure", "protective_conductor_resistance=0.12ohm", "--measure", "insulation_resistance=2.5MΩ")
		izyRun(t, home, "device", "edit", f.devices[1].ID, "--designation", "Bohrmaschine neu")

		var sr struct{ Checkouts []syncResult }
		izyJSON(t, home, &sr, "sync")
		if len(sr.Checkouts) != 1 || sr.Checkouts[0].Outcomes[izy.MutationApplied]+sr.Checkouts[0].Outcomes[izy.MutationMerged] != 2 {
			t.Fatalf("sync = %+v", sr)
		}
		tests, err := api.Tests(ctx, url.Values{"device_id": {d.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(tests.Items) != 1 || tests.Items[0].ID != tr.ID || tests.Items[0].Result != izy.ResultPass {
			t.Fatalf("tests on the server = %+v, want the offline test %s", tests.Items, tr.ID)
		}
		dv, err := api.Device(ctx, f.devices[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if dv.Designation != "Bohrmaschine neu" {
			t.Fatalf("designation on the server = %q", dv.Designation)
		}
		var st statusResult
		izyJSON(t, home, &st, "status")
		if st.Pending != 0 || st.Conflicts != 0 {
			t.Fatalf("status after sync = %+v", st)
		}
		izyRun(t, home, "checkin")
		izyJSON(t, home, &st, "status")
		if len(st.Checkouts) != 0 {
			t.Fatalf("checkouts after checkin = %+v", st.Checkouts)
		}
	})
}
