package sqldb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestConcurrentWritesAndReads runs writers and readers at once, more of them than
// there are connections, and checks that every write lands and nothing waits forever.
func TestConcurrentWritesAndReads(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithTimeout(testCtx(), 60*time.Second)
		defer cancel()
		c := mustCustomer(t, db, "K-1")
		const workers, each = 12, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*each*3)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					d := newDevice(c.ID, fmt.Sprintf("W%d-%d", w, i))
					if err := db.CreateDevice(ctx, d); err != nil {
						errs <- err
						return
					}
					tst := &izy.Test{DeviceID: d.ID, Date: izy.Date{Year: 2025, Month: 1, Day: 1 + i},
						Standard: izy.DefaultStandard, Result: izy.ResultPass, NextDue: izy.Date{Year: 2026, Month: 1, Day: 1}}
					if err := db.CreateTest(ctx, tst); err != nil {
						errs <- err
						return
					}
					if _, err := db.GetTest(ctx, tst.ID); err != nil {
						errs <- err
					}
					if _, _, err := db.ListDevices(ctx, izy.DeviceFilter{CustomerID: c.ID, Page: izy.Page{Limit: 10}}); err != nil {
						errs <- err
					}
					if _, err := db.Dashboard(ctx, izy.Date{Year: 2025, Month: 6, Day: 1}, izy.DefaultWindows, ""); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		items, _, err := db.ListDevices(ctx, izy.DeviceFilter{CustomerID: c.ID, Page: izy.Page{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(items), workers*each; got != want {
			t.Fatalf("got %d devices, want %d", got, want)
		}
	})
}
