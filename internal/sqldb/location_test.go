package sqldb_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestLocations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := testCtx()
		c := mustCustomer(t, db, "K-1")
		other := mustCustomer(t, db, "K-2")
		site := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Site")
		hall := mustLocation(t, db, c.ID, site, izy.LocationBuilding, "Hall")
		room := mustLocation(t, db, c.ID, hall, izy.LocationRoom, "Room 1")

		got, err := db.GetLocation(ctx, room.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(room, got); diff != "" {
			t.Fatalf("get after create (-want +got):\n%s", diff)
		}
		_, err = db.GetLocation(ctx, izy.NewID())
		wantCode(t, err, izy.ENOTFOUND)

		bad := []struct {
			name string
			l    izy.Location
			code string
		}{
			{"unknown customer", izy.Location{CustomerID: izy.NewID(), Kind: izy.LocationProperty, Name: "x"}, izy.EINVALID},
			{"unknown parent", izy.Location{CustomerID: c.ID, ParentID: new(izy.NewID()), Kind: izy.LocationRoom, Name: "x"}, izy.EINVALID},
			{"parent of another customer", izy.Location{CustomerID: other.ID, ParentID: &site.ID, Kind: izy.LocationRoom, Name: "x"}, izy.EINVALID},
			{"building under room", izy.Location{CustomerID: c.ID, ParentID: &room.ID, Kind: izy.LocationBuilding, Name: "x"}, izy.EINVALID},
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				l := b.l
				wantCode(t, db.CreateLocation(ctx, &l), b.code)
			})
		}

		t.Run("update", func(t *testing.T) {
			u := *room
			u.Name = "Room 1a"
			u.ParentID = &site.ID // a room may sit directly under a property
			if err := db.UpdateLocation(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if u.Version != 2 || u.Name != "Room 1a" || *u.ParentID != site.ID {
				t.Fatalf("after update got %+v", u)
			}
			stale := *room
			wantCode(t, db.UpdateLocation(ctx, &stale), izy.ECONFLICT)
			// A building with a building below it cannot become a room.
			h := *hall
			sub := mustLocation(t, db, c.ID, hall, izy.LocationLevel, "Level 1")
			h.Kind = izy.LocationRoom
			wantCode(t, db.UpdateLocation(ctx, &h), izy.EINVALID)
			// A location cannot move under its own descendant.
			h = *hall
			h.ParentID = &sub.ID
			wantCode(t, db.UpdateLocation(ctx, &h), izy.EINVALID)
			h = *hall
			h.CustomerID = other.ID
			wantCode(t, db.UpdateLocation(ctx, &h), izy.EINVALID)
			missing := *hall
			missing.ID = izy.NewID()
			wantCode(t, db.UpdateLocation(ctx, &missing), izy.ENOTFOUND)
			room = &u
		})

		t.Run("delete", func(t *testing.T) {
			err := db.DeleteLocation(ctx, site.ID, site.Version)
			wantCode(t, err, izy.ECONFLICT)
			d := newDevice(c.ID, "D1")
			d.LocationID = &room.ID
			mustDevice(t, db, d)
			wantCode(t, db.DeleteLocation(ctx, room.ID, room.Version), izy.ECONFLICT)
			wantCode(t, db.DeleteLocation(ctx, room.ID, room.Version-1), izy.ECONFLICT)
			wantCode(t, db.DeleteLocation(ctx, izy.NewID(), 1), izy.ENOTFOUND)
			lone := mustLocation(t, db, c.ID, nil, izy.LocationProperty, "Lone")
			if err := db.DeleteLocation(ctx, lone.ID, lone.Version); err != nil {
				t.Fatal(err)
			}
			_, err = db.GetLocation(ctx, lone.ID)
			wantCode(t, err, izy.ENOTFOUND)
			if n := auditCount(t, db, "location", lone.ID); n != 2 {
				t.Fatalf("got %d audit entries, want 2", n)
			}
		})

		t.Run("list", func(t *testing.T) {
			var want []string
			for _, l := range []*izy.Location{site, hall, room} {
				want = append(want, l.ID)
			}
			l4, _, err := db.ListLocations(ctx, izy.LocationFilter{CustomerID: c.ID, Page: izy.Page{Limit: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, l := range l4 {
				all = append(all, l.ID)
			}
			got := collect(t, 2, func(l *izy.Location) string { return l.ID }, func(p izy.Page) ([]izy.Location, string, error) {
				return db.ListLocations(ctx, izy.LocationFilter{CustomerID: c.ID, Page: p})
			})
			if diff := cmp.Diff(all, got); diff != "" {
				t.Fatalf("paged (-want +got):\n%s", diff)
			}
			for _, id := range want {
				if !slices.Contains(got, id) {
					t.Fatalf("list lacks %s", id)
				}
			}
			children, _, err := db.ListLocations(ctx, izy.LocationFilter{ParentID: site.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(children) != 2 { // hall and the moved room
				t.Fatalf("got %d children of the site, want 2", len(children))
			}
			u := mustUser(t, db, "ro", izy.RoleReadOnly)
			none, _, err := db.ListLocations(ctx, izy.LocationFilter{GrantedTo: u.ID})
			if err != nil || len(none) != 0 {
				t.Fatalf("ungranted user sees %v, %v", none, err)
			}
		})
	})
}
