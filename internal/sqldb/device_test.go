package sqldb_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestDevices(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		other := mustCustomer(t, db, "K-2")
		site := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site")
		otherSite := mustLocation(t, db, other.ID, nil, izy.LocationProperty, "Elsewhere")
		kw := 2.5
		d := &izy.Device{CustomerID: c.ID, LocationID: &site.ID, InventoryID: "INV-1", Designation: "Kettle",
			Type: "kettle", Manufacturer: "Bosch", Model: "TWK", SerialNumber: "SN-1", ProtectionClass: izy.ClassI,
			CableLengthM: 1.5, CableCrossMM2: 0.75, HeatingElements: true, HeatingPowerKW: &kw, CostCentre: "CC",
			Department: "Kitchen", Standard: izy.DefaultStandard, IntervalMonths: 24, Comment: "line 1\nline 2",
			Status: izy.DeviceActive, Tag: "RFID-1",
			Medical: &izy.MedicalInfo{UDI: "UDI-1", AppliedB: 1, AppliedBF: 2, AppliedCF: 3, NetworkAware: true}}
		if err := db.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetDevice(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Fatalf("get after create (-want +got):\n%s", diff)
		}
		plain := mustDevice(t, db, newDevice(c.ID, "INV-2"))
		gotPlain, err := db.GetDevice(ctx, plain.ID)
		if err != nil {
			t.Fatal(err)
		}
		if gotPlain.Medical != nil || gotPlain.LocationID != nil || gotPlain.HeatingPowerKW != nil || !gotPlain.NextDue.IsZero() {
			t.Fatalf("optional fields of a plain device: got %+v", gotPlain)
		}

		bad := []struct {
			name string
			mod  func(d *izy.Device)
			code string
			msg  string
		}{
			{"duplicate inventory id", func(d *izy.Device) { d.InventoryID = "INV-1" }, izy.ECONFLICT, "inventory ID INV-1 already exists for this customer"},
			{"unknown customer", func(d *izy.Device) { d.CustomerID = izy.NewID() }, izy.EINVALID, ""},
			{"unknown location", func(d *izy.Device) { d.LocationID = new(izy.NewID()) }, izy.EINVALID, ""},
			{"location of another customer", func(d *izy.Device) { d.LocationID = &otherSite.ID }, izy.EINVALID, ""},
		}
		for _, b := range bad {
			t.Run("create "+b.name, func(t *testing.T) {
				nd := newDevice(c.ID, "INV-new")
				b.mod(nd)
				err := db.CreateDevice(ctx, nd)
				wantCode(t, err, b.code)
				if b.msg != "" && izy.ErrorMessage(err) != b.msg {
					t.Fatalf("got %q, want %q", izy.ErrorMessage(err), b.msg)
				}
			})
		}
		// The same inventory ID at another customer is fine.
		mustDevice(t, db, newDevice(other.ID, "INV-1"))

		t.Run("update", func(t *testing.T) {
			u := *got
			u.Designation = "Water kettle"
			u.Medical = nil
			u.LocationID = nil
			u.NextDue = date(t, "2099-01-01") // last-test fields come from tests only
			if err := db.UpdateDevice(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if u.Version != 2 || u.Designation != "Water kettle" || u.Medical != nil || u.LocationID != nil || !u.NextDue.IsZero() {
				t.Fatalf("after update got %+v", u)
			}
			if u.Seq <= got.Seq {
				t.Fatalf("seq did not grow: %d then %d", got.Seq, u.Seq)
			}
			stale := *got
			err := db.UpdateDevice(ctx, &stale)
			wantCode(t, err, izy.ECONFLICT)
			if want := "device was changed by someone else (version 2, you sent 1); reload and try again"; izy.ErrorMessage(err) != want {
				t.Fatalf("got %q, want %q", izy.ErrorMessage(err), want)
			}
			for _, b := range bad[:1] {
				v := u
				b.mod(&v)
				v.ID = plain.ID
				v.Version = plain.Version
				wantCode(t, db.UpdateDevice(ctx, &v), b.code)
			}
			moved := u
			moved.CustomerID = other.ID
			wantCode(t, db.UpdateDevice(ctx, &moved), izy.EINVALID)
			missing := u
			missing.ID = izy.NewID()
			wantCode(t, db.UpdateDevice(ctx, &missing), izy.ENOTFOUND)
		})
		_, err = db.GetDevice(ctx, izy.NewID())
		wantCode(t, err, izy.ENOTFOUND)
		if n := auditCount(t, db, "device", d.ID); n != 2 {
			t.Fatalf("got %d audit entries, want 2", n)
		}
	})
}

func TestListDevices(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		other := mustCustomer(t, db, "K-2")
		site := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site")
		hall := mustLocation(t, db, c.ID, site, izy.LocationBuilding, "Hall")
		room := mustLocation(t, db, c.ID, hall, izy.LocationRoom, "Room")
		site2 := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site 2")

		var all, inRoom, inSite2 []string
		for i := range 30 {
			d := newDevice(c.ID, inv(i))
			switch i % 3 {
			case 0:
				d.LocationID = &room.ID
			case 1:
				d.LocationID = &site2.ID
			}
			mustDevice(t, db, d)
			all = append(all, d.ID)
			switch i % 3 {
			case 0:
				inRoom = append(inRoom, d.ID)
			case 1:
				inSite2 = append(inSite2, d.ID)
			}
		}
		mustDevice(t, db, newDevice(other.ID, "OTHER"))

		ids := func(f izy.DeviceFilter) []string {
			t.Helper()
			return collect(t, 7, func(d *izy.Device) string { return d.ID }, func(p izy.Page) ([]izy.Device, string, error) {
				f.Page = p
				return db.ListDevices(ctx, f)
			})
		}
		if diff := cmp.Diff(all, ids(izy.DeviceFilter{CustomerID: c.ID})); diff != "" {
			t.Fatalf("by customer (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(inRoom, ids(izy.DeviceFilter{LocationID: site.ID})); diff != "" {
			t.Fatalf("site subtree (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(inSite2, ids(izy.DeviceFilter{LocationID: site2.ID})); diff != "" {
			t.Fatalf("site 2 (-want +got):\n%s", diff)
		}
		if got := ids(izy.DeviceFilter{}); len(got) != 31 {
			t.Fatalf("unfiltered: got %d devices, want 31", len(got))
		}
		u := mustUser(t, db, "insp", izy.RoleInspector, izy.Grant{CustomerID: other.ID, Access: izy.AccessWrite})
		if got := ids(izy.DeviceFilter{GrantedTo: u.ID}); len(got) != 1 {
			t.Fatalf("granted: got %d devices, want 1", len(got))
		}
		if got := ids(izy.DeviceFilter{GrantedTo: u.ID, CustomerID: c.ID}); len(got) != 0 {
			t.Fatalf("granted, other customer: got %d devices, want 0", len(got))
		}
		_, _, err := db.ListDevices(ctx, izy.DeviceFilter{Colour: "purple"})
		wantCode(t, err, izy.EINVALID)
		_, _, err = db.ListDevices(ctx, izy.DeviceFilter{Page: izy.Page{Cursor: "%%%"}})
		wantCode(t, err, izy.EINVALID)
	})
}

func TestListDevicesSearch(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		for _, x := range []struct{ inv, serial, designation string }{
			{"A-100%", "S1", "Drill"},
			{"A_1", "S2", "Saw"},
			{"AX1", "S3", "Grinder"},
			{"B-1", "O'; DROP TABLE devices; --", "Kettle"},
			{"B-2", `C:\tools`, "Lamp"},
			{"B-3", "S5", "Bohrmaschine groß"},
		} {
			d := newDevice(c.ID, x.inv)
			d.SerialNumber, d.Designation = x.serial, x.designation
			mustDevice(t, db, d)
		}
		tests := []struct {
			q    string
			want []string
		}{
			{"%", []string{"A-100%"}},
			{"_", []string{"A_1"}},
			{"a_1", []string{"A_1"}},
			{"'; DROP TABLE devices; --", []string{"B-1"}},
			{"--", []string{"B-1"}},
			{`\`, []string{"B-2"}},
			{`c:\t`, []string{"B-2"}},
			{"DRILL", []string{"A-100%"}},
			{"groß", []string{"B-3"}},
			{"a-", []string{"A-100%"}},
		}
		for _, tt := range tests {
			items, _, err := db.ListDevices(ctx, izy.DeviceFilter{Query: tt.q})
			if err != nil {
				t.Fatalf("query %q: %v", tt.q, err)
			}
			var got []string
			for _, d := range items {
				got = append(got, d.InventoryID)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("query %q (-want +got):\n%s", tt.q, diff)
			}
		}
		// The table is intact after all that.
		items, _, err := db.ListDevices(ctx, izy.DeviceFilter{})
		if err != nil || len(items) != 6 {
			t.Fatalf("after searching: got %d devices, %v; want 6", len(items), err)
		}
	})
}

func TestListDevicesColour(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		today := date(t, "2025-06-01")
		w := izy.DefaultWindows
		type dev struct {
			inv    string
			due    string
			result string
			status string
			want   izy.Colour
		}
		devs := []dev{
			{"never", "", "", "", izy.Red},
			{"overdue", "2025-05-31", izy.ResultPass, "", izy.Red},
			{"failed", "2026-06-01", izy.ResultFail, "", izy.Red},
			{"today", "2025-06-01", izy.ResultPass, "", izy.Orange},
			{"orange-end", "2025-06-08", izy.ResultPass, "", izy.Orange},
			{"yellow-start", "2025-06-09", izy.ResultPass, "", izy.Yellow},
			{"yellow-end", "2025-07-01", izy.ResultPass, "", izy.Yellow},
			{"green", "2025-07-02", izy.ResultPass, "", izy.Green},
			{"retired", "2020-01-01", izy.ResultPass, izy.DeviceRetired, ""},
		}
		want := map[izy.Colour][]string{}
		for _, x := range devs {
			d := newDevice(c.ID, x.inv)
			if x.status != "" {
				d.Status = x.status
			}
			mustDevice(t, db, d)
			if x.due != "" {
				// Record a test whose next due date is x.due.
				due := date(t, x.due)
				tst := &izy.Test{DeviceID: d.ID, Date: date(t, "2025-01-01"), Standard: izy.DefaultStandard,
					Result: x.result, NextDue: due, Measurements: []izy.Measurement{}}
				if err := db.CreateTest(ctx, tst); err != nil {
					t.Fatal(err)
				}
			}
			if x.want != "" {
				want[x.want] = append(want[x.want], x.inv)
				got, _ := db.GetDevice(ctx, d.ID)
				if gc := izy.DeviceColour(got, today, w); gc != x.want {
					t.Fatalf("domain colours %s %s, test wants %s", x.inv, gc, x.want)
				}
			}
		}
		for _, colour := range []izy.Colour{izy.Red, izy.Orange, izy.Yellow, izy.Green} {
			items, _, err := db.ListDevices(ctx, izy.DeviceFilter{Colour: colour, Today: today, Windows: w})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range items {
				got = append(got, d.InventoryID)
			}
			if diff := cmp.Diff(want[colour], got, cmpSorted); diff != "" {
				t.Errorf("colour %s (-want +got):\n%s", colour, diff)
			}
		}
		dash, err := db.Dashboard(ctx, today, w, "")
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := izy.ColourCounts{Green: 1, Yellow: 2, Orange: 2, Red: 3}
		if diff := cmp.Diff(wantCounts, dash.Devices); diff != "" {
			t.Fatalf("dashboard devices (-want +got):\n%s", diff)
		}
		u := mustUser(t, db, "nobody", izy.RoleReadOnly)
		dash, err = db.Dashboard(ctx, today, w, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(izy.ColourCounts{}, dash.Devices); diff != "" {
			t.Fatalf("dashboard of an ungranted user (-want +got):\n%s", diff)
		}
	})
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
})

func TestConstraintGuards(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		d := newDevice(c.ID, "D1")
		d.ProtectionClass = "IV" // the domain would refuse it; the database refuses it too
		wantCode(t, db.CreateDevice(ctx, d), izy.EINVALID)
		ok := mustDevice(t, db, newDevice(c.ID, "D2"))
		x := newTest(t, ok.ID, "2025-01-01", "maybe", "2026-01-01")
		wantCode(t, db.CreateTest(ctx, x), izy.EINVALID)
		u := mustUser(t, db, "eva", izy.RoleClerk)
		u.Role = "boss"
		wantCode(t, db.UpdateUser(ctx, u), izy.EINVALID)
	})
}
