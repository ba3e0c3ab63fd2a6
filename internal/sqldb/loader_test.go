package sqldb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestLoader(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		before := mustCustomer(t, db, "K-0") // the loader continues the change sequence
		l, err := db.NewLoader(ctx, 50)      // small batches: several commits
		if err != nil {
			t.Fatal(err)
		}
		c := &izy.Customer{Number: "K-1", Name: "Loaded"}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(l.Customer(c))
		u := &izy.User{Username: "loaded", Role: izy.RoleInspector, Grants: []izy.Grant{{CustomerID: c.ID, Access: izy.AccessWrite}}}
		must(l.User(u, "pw-hash"))
		site := &izy.Location{CustomerID: c.ID, Kind: izy.LocationProperty, Name: "Site"}
		must(l.Location(site))
		room := &izy.Location{CustomerID: c.ID, ParentID: &site.ID, Kind: izy.LocationRoom, Name: "Room"}
		must(l.Location(room))
		instr := &izy.Instrument{Type: "tester", SerialNumber: "I-1", CalibrationDue: date(t, "2026-01-01")}
		must(l.Instrument(instr))
		var devices []*izy.Device
		var tests []*izy.Test
		for i := range 120 {
			d := newDevice(c.ID, fmt.Sprintf("L-%03d", i))
			d.LocationID = &room.ID
			d.LastTestDate, d.LastResult, d.NextDue = date(t, "2025-01-01"), izy.ResultPass, date(t, "2026-01-01")
			if i%7 == 0 {
				d.Medical = &izy.MedicalInfo{UDI: "U", AppliedBF: 1}
			}
			must(l.Device(d))
			devices = append(devices, d)
			x := newTest(t, d.ID, "2025-01-01", izy.ResultPass, "2026-01-01")
			x.CustomerID = c.ID
			x.InspectorID = u.ID
			x.InstrumentID = &instr.ID
			must(l.Test(x))
			tests = append(tests, x)
		}
		must(l.Close())
		if got, want := l.Counts()["measurements"], int64(240); got != want {
			t.Fatalf("got %d measurements counted, want %d", got, want)
		}

		for _, d := range devices[:10] {
			got, err := db.GetDevice(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d, got); diff != "" {
				t.Fatalf("loaded device (-want +got):\n%s", diff)
			}
			if d.Seq <= before.Seq {
				t.Fatalf("loaded seq %d is not after %d", d.Seq, before.Seq)
			}
		}
		got, err := db.GetTest(ctx, tests[5].ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tests[5], got); diff != "" {
			t.Fatalf("loaded test (-want +got):\n%s", diff)
		}
		gu, hash, err := db.UserByUsername(ctx, "loaded")
		if err != nil || hash != "pw-hash" {
			t.Fatalf("loaded user: %v, hash %q", err, hash)
		}
		if diff := cmp.Diff(u, gu); diff != "" {
			t.Fatalf("loaded user (-want +got):\n%s", diff)
		}
		all, _, err := db.ListDevices(ctx, izy.DeviceFilter{LocationID: site.ID, Page: izy.Page{Limit: 1000}})
		if err != nil || len(all) != 120 {
			t.Fatalf("got %d devices under the site, %v; want 120", len(all), err)
		}
		// Normal writes continue the sequence after the loaded rows.
		after := mustCustomer(t, db, "K-2")
		if after.Seq <= devices[len(devices)-1].Seq {
			t.Fatalf("seq after load %d is not after %d", after.Seq, devices[len(devices)-1].Seq)
		}
		entries, _, err := db.ListAudit(ctx, izy.AuditFilter{Entity: "database"})
		if err != nil || len(entries) != 1 || entries[0].Action != "bulk load" {
			t.Fatalf("bulk load audit: got %+v, %v", entries, err)
		}
	})
}

func TestLoaderAbortAndErrors(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, err := db.NewLoader(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		c := &izy.Customer{Number: "K-1", Name: "Never"}
		if err := l.Customer(c); err != nil {
			t.Fatal(err)
		}
		l.Abort()
		_, err = db.GetCustomer(ctx, c.ID)
		wantCode(t, err, izy.ENOTFOUND)

		// A device of a customer that does not exist fails the load, and nothing stays.
		l, err = db.NewLoader(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		d := newDevice(izy.NewID(), "X")
		err = l.Device(d)
		if err == nil {
			err = l.Close()
		} else {
			l.Abort()
		}
		if err == nil {
			t.Fatal("loading a device of a missing customer succeeded")
		}
		_, err = db.GetDevice(ctx, d.ID)
		wantCode(t, err, izy.ENOTFOUND)
		// The writer is free again.
		mustCustomer(t, db, "K-after")
	})
}
