package sqldb_test

import (
	"context"
	"fmt"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// actor is the user the tests act as; audit entries name it.
var actor = &izy.User{ID: "0190a000-0000-7000-8000-000000000001", Username: "tester", Role: izy.RoleAdmin}

func testCtx() context.Context { return izy.NewContextWithUser(context.Background(), actor) }

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := izy.ErrorCode(err); got != code {
		tb.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func mustCustomer(tb testing.TB, db *sqldb.DB, number string) *izy.Customer {
	tb.Helper()
	c := &izy.Customer{Number: number, Name: "Customer " + number}
	if err := db.CreateCustomer(testCtx(), c); err != nil {
		tb.Fatalf("create customer %s: %v", number, err)
	}
	return c
}

func mustLocation(tb testing.TB, db *sqldb.DB, customerID string, parent *izy.Location, kind izy.LocationKind, name string) *izy.Location {
	tb.Helper()
	l := &izy.Location{CustomerID: customerID, Kind: kind, Name: name}
	if parent != nil {
		l.ParentID = &parent.ID
	}
	if err := db.CreateLocation(testCtx(), l); err != nil {
		tb.Fatalf("create location %s: %v", name, err)
	}
	return l
}

func newDevice(customerID, inv string) *izy.Device {
	return &izy.Device{CustomerID: customerID, InventoryID: inv, Designation: "Drill " + inv,
		ProtectionClass: izy.ClassI, IntervalMonths: 12, Status: izy.DeviceActive}
}

func mustDevice(tb testing.TB, db *sqldb.DB, d *izy.Device) *izy.Device {
	tb.Helper()
	if err := db.CreateDevice(testCtx(), d); err != nil {
		tb.Fatalf("create device %s: %v", d.InventoryID, err)
	}
	return d
}

func mustUser(tb testing.TB, db *sqldb.DB, name string, role izy.Role, grants ...izy.Grant) *izy.User {
	tb.Helper()
	u := &izy.User{Username: name, DisplayName: "User " + name, Role: role, Grants: grants}
	if err := db.CreateUser(testCtx(), u, "hash-of-"+name); err != nil {
		tb.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func date(tb testing.TB, s string) izy.Date {
	tb.Helper()
	d, err := izy.ParseDate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// collect pages through a list with the given page size and returns every item's ID.
func collect[T any](tb testing.TB, limit int, id func(*T) string, list func(p izy.Page) ([]T, string, error)) []string {
	tb.Helper()
	var ids []string
	p := izy.Page{Limit: limit}
	for i := 0; ; i++ {
		if i > 10000 {
			tb.Fatal("pagination does not end")
		}
		items, next, err := list(p)
		if err != nil {
			tb.Fatalf("list page %d: %v", i, err)
		}
		if len(items) > limit {
			tb.Fatalf("page %d has %d items, limit %d", i, len(items), limit)
		}
		for j := range items {
			ids = append(ids, id(&items[j]))
		}
		if next == "" {
			return ids
		}
		p.Cursor = next
	}
}

func auditCount(tb testing.TB, db *sqldb.DB, entity, id string) int {
	tb.Helper()
	items, _, err := db.ListAudit(context.Background(), izy.AuditFilter{Entity: entity, EntityID: id, Page: izy.Page{Limit: 1000}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range items {
		if e.UserID != actor.ID {
			tb.Fatalf("audit entry %d names user %q, want %q", e.ID, e.UserID, actor.ID)
		}
	}
	return len(items)
}

func inv(i int) string { return fmt.Sprintf("INV-%05d", i) }
