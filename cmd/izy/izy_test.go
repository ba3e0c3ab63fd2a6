package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestNotLoggedIn(t *testing.T) {
	home := t.TempDir()
	_, _, err := izyTry(home, "status")
	if err == nil || !strings.Contains(err.Error(), "izy login --server URL --user NAME") {
		t.Fatalf("status before login: %v, want advice to log in", err)
	}
	if _, _, err := izyTry(home, "bogus"); err == nil {
		t.Fatal("unknown command: no error")
	}
	out := izyRun(t, home, "version")
	if !strings.Contains(out, version) {
		t.Fatalf("version = %q", out)
	}
}

func TestLogin(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		hs := startServer(t, db)
		home := t.TempDir()
		login(t, home, hs.URL)
		fi, err := os.Stat(configPath(home))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Fatalf("config mode = %v, want %v", got, want)
		}
		cfg, err := loadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Token == "" || !izy.ValidID(cfg.ClientID) || cfg.Server != hs.URL || cfg.Username != "admin" {
			t.Fatalf("config = %+v", cfg)
		}
		// The client ID is made once.
		login(t, home, hs.URL)
		cfg2, _ := loadConfig(home)
		if cfg2.ClientID != cfg.ClientID {
			t.Fatalf("client id changed on a second login: %s → %s", cfg.ClientID, cfg2.ClientID)
		}
		// The password may come on standard input.
		var out, errOut strings.Builder
		err = run(context.Background(), []string{"--home", home, "login", "--server", hs.URL, "--user", "admin", "--json"}, strings.NewReader(testPassword+"\n"), &out, &errOut)
		if err != nil {
			t.Fatalf("login with stdin password: %v %s", err, errOut.String())
		}
		var res loginResult
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil || !res.ProtocolSupported {
			t.Fatalf("login --json = %s (%v)", out.String(), err)
		}
		err = run(context.Background(), []string{"--home", home, "login", "--server", hs.URL, "--user", "admin"}, strings.NewReader("wrong\n"), &out, &errOut)
		if izy.ErrorCode(err) != izy.EUNAUTHORIZED {
			t.Fatalf("login with a wrong password: %v, want unauthorized", err)
		}
	})
}

// seedReplica fills the replica of home as a checkout of the fixture's customer would,
// from the server's API (a stand-in for the snapshot until the sync routes exist).
func seedReplica(t *testing.T, home string, c *client.Client, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	r, err := replica.Open(ctx, replicaPath(home))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	co := &izy.Checkout{ID: izy.NewID(), CustomerID: f.customer.ID, Mode: izy.CheckoutShared, State: izy.SyncReady}
	if err := r.AddCheckout(ctx, co); err != nil {
		t.Fatal(err)
	}
	row := func(entity, id string, seq int64, v any) izy.Row {
		b, _ := json.Marshal(v)
		return izy.Row{Entity: entity, ID: id, Seq: seq, Data: b}
	}
	rows := []izy.Row{row("customer", f.customer.ID, f.customer.Seq, f.customer), row("location", f.location.ID, f.location.Seq, f.location)}
	for _, d := range f.devices {
		cur, err := c.Device(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row("device", d.ID, cur.Seq, cur.Device))
	}
	p := &izy.SyncPage{Rows: rows, Count: len(rows), Checksum: izy.RowsChecksum(rows),
		Totals: map[string]int64{"customer": 1, "location": 1, "device": int64(len(f.devices))}}
	if err := r.ApplySnapshotPage(ctx, co.ID, p); err != nil {
		t.Fatal(err)
	}
	return co.ID
}

func TestOfflineDevicesAndTest(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		hs := startServer(t, db)
		api := apiClient(t, hs.URL)
		f := makeFixture(t, api, 3)
		home := t.TempDir()
		login(t, home, hs.URL)
		coID := seedReplica(t, home, api, f)

		// The same test, evaluated online by the server, for comparison.
		d := f.devices[1]
		online, err := api.CreateTest(ctx, &client.TestInput{DeviceID: f.devices[2].ID, Date: izy.Today(), VisualOK: true, FunctionalOK: true,
			Measurements: []client.MeasurementInput{{Kind: "protective_conductor_resistance", Value: 0.12, Unit: "ohm"}, {Kind: "insulation_resistance", Value: 2.5, Unit: "MΩ"}}})
		if err != nil {
			t.Fatal(err)
		}

		hs.Close() // the network is gone from here on

		var list struct {
			Items []replica.DeviceRow `json:"items"`
			Count int                 `json:"count"`
		}
		izyJSON(t, home, &list, "devices")
		if list.Count != 3 {
			t.Fatalf("devices offline = %d, want 3", list.Count)
		}
		izyJSON(t, home, &list, "devices", "--q", "inv-b", "--customer", f.customer.ID)
		if list.Count != 1 || list.Items[0].ID != d.ID {
			t.Fatalf("search offline = %+v, want %s", list.Items, d.ID)
		}
		izyJSON(t, home, &list, "devices", "--colour", "green")
		if list.Count != 0 {
			t.Fatalf("green devices before any test = %d, want 0 (never tested is red)", list.Count)
		}

		var res struct {
			izy.Test
			Pending bool `json:"pending"`
		}
		izyJSON(t, home, &res, "test", d.ID, "--measure", "protective_conductor_resistance=0.12ohm", "--measure", "insulation_resistance=2.5MΩ")
		if !res.Pending || res.Result != online.Result || res.NextDue != online.NextDue || res.Standard != online.Standard {
			t.Fatalf("offline test = %+v, online %+v", res.Test, online)
		}
		for i, m := range res.Measurements {
			o := online.Measurements[i]
			if m.Result != o.Result || !sameLimit(m.Limit, o.Limit) {
				t.Fatalf("measurement %d offline %+v limit %+v, online %+v limit %+v", i, m, m.Limit, o, o.Limit)
			}
		}
		if *res.Measurements[0].Limit.Max != 0.3 || res.NextDue != izy.Today().AddMonths(12) || res.Result != izy.ResultPass {
			t.Fatalf("offline test = %+v", res.Test)
		}
		// A failed visual check fails the test, and the text output says so.
		out := izyRun(t, home, "test", f.devices[0].ID, "--visual-ok=false", "--measure", "insulation_resistance=0.1MΩ")
		if !strings.Contains(out, "result: fail") || !strings.Contains(out, "FAILED") {
			t.Fatalf("failed test output:\n%s", out)
		}
		if _, _, err := izyTry(home, "test", d.ID, "--measure", "insulation_resistance=2.5mA"); izy.ErrorCode(err) != izy.EINVALID {
			t.Fatalf("wrong unit: %v, want invalid", err)
		}
		// A device added and one edited offline.
		var added struct{ Device izy.Device }
		izyJSON(t, home, &added, "device", "add", "--customer", f.customer.ID, "--inventory", "NEW-1", "--designation", "Wasserkocher", "--class", "I", "--cable-length", "1.5", "--serial", "WK-1")
		izyRun(t, home, "device", "edit", d.ID, "--designation", "Bohrmaschine 2")
		izyJSON(t, home, &list, "devices", "--q", "bohrmaschine 2")
		if list.Count != 1 || !list.Items[0].Local || list.Items[0].NextDue != izy.Today().AddMonths(12) {
			t.Fatalf("edited device offline = %+v", list.Items)
		}

		var st statusResult
		izyJSON(t, home, &st, "status")
		if st.Pending != 4 || len(st.Checkouts) != 1 || st.Checkouts[0].ID != coID {
			t.Fatalf("status = %+v, want 4 pending mutations", st)
		}
		// The outbox holds what the server needs, durably: reopen the file.
		r, err := replica.Open(ctx, replicaPath(home))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ob, err := r.Outbox(ctx, coID, replica.OutboxPending)
		if err != nil {
			t.Fatal(err)
		}
		ops := []string{}
		for _, e := range ob {
			ops = append(ops, e.Mutation.Op)
		}
		if got, want := strings.Join(ops, ","), "test,test,create,update"; got != want {
			t.Fatalf("outbox ops = %s, want %s", got, want)
		}
		upd := ob[3].Mutation
		if upd.BaseVersion != d.Version || string(upd.Fields["designation"]) != `"Bohrmaschine 2"` || string(upd.Base["designation"]) != `"Bohrmaschine INV-B"` || len(upd.Fields) != 1 {
			t.Fatalf("update mutation = %+v", upd)
		}
		if tm := ob[0].Mutation; tm.EntityID != res.ID || string(tm.Fields["device_id"]) != `"`+d.ID+`"` {
			t.Fatalf("test mutation = %+v", tm)
		}
		// Sync while offline retries until --retry-for is spent, then fails with advice,
		// and loses nothing.
		_, errOut, err := izyEnv(home, fastRetry, "sync", "--retry-for", "150ms")
		if err == nil || !strings.Contains(err.Error(), "safe in the outbox") || !strings.Contains(err.Error(), "gave up after") {
			t.Fatalf("sync offline: %v", err)
		}
		if !strings.Contains(errOut, "connection lost, retrying in") {
			t.Fatalf("sync offline said nothing about retrying: %q", errOut)
		}
		izyJSON(t, home, &st, "status")
		if st.Pending != 4 {
			t.Fatalf("pending after a failed sync = %d, want 4", st.Pending)
		}
	})
}

func sameLimit(a, b *izy.Limit) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
