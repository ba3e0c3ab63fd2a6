package license_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/license"
	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

var _ syncer.SeatChecker = (*license.Seats)(nil)
var _ license.SeatStore = (*sqldb.DB)(nil)

// fixed is a licence state that does not change.
type fixed license.State

func (f fixed) Current() license.State { return license.State(f) }

func granted(tb testing.TB, edition license.Edition, offline int) fixed {
	tb.Helper()
	_, priv, err := release.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	l, err := license.Issue(priv, "ACME", edition, 5, offline, "2099-01-01", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return fixed{Status: license.StatusValid, License: l}
}

func TestSeats(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := &license.Seats{Licence: granted(t, license.EnterpriseUltimate, 2), Store: db}
		for _, c := range []string{"laptop-1", "laptop-2", "laptop-1"} {
			if err := s.CheckSeat(ctx, "u1", c); err != nil {
				t.Fatalf("CheckSeat(%s): %v", c, err)
			}
		}
		err := s.CheckSeat(ctx, "u2", "laptop-3")
		if izy.ErrorCode(err) != izy.EFORBIDDEN {
			t.Fatalf("third client: %v, want forbidden", err)
		}
		for _, want := range []string{"laptop-3", "allows 2 offline seats", "2 client IDs are bound", "izytroniq license seats release"} {
			if !strings.Contains(izy.ErrorMessage(err), want) {
				t.Errorf("third client's error %q lacks %q", izy.ErrorMessage(err), want)
			}
		}
		seats, err := db.ListSeats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(seats) != 2 || seats[0].ClientID != "laptop-1" || seats[1].ClientID != "laptop-2" {
			t.Errorf("seats %v, want laptop-1 and laptop-2", seats)
		}

		if err := db.ReleaseSeat(ctx, "laptop-2"); err != nil {
			t.Fatal(err)
		}
		if err := db.ReleaseSeat(ctx, "laptop-2"); izy.ErrorCode(err) != izy.ENOTFOUND {
			t.Errorf("releasing a free seat: %v, want not found", err)
		}
		if err := s.CheckSeat(ctx, "u2", "laptop-3"); err != nil {
			t.Fatalf("after freeing a seat: %v", err)
		}

		// Evaluation (no or an expired licence) allows every client and binds none.
		eval := &license.Seats{Licence: fixed{Status: license.StatusExpired}, Store: db}
		for i := range 5 {
			if err := eval.CheckSeat(ctx, "u1", fmt.Sprint("eval-", i)); err != nil {
				t.Fatalf("evaluation: %v", err)
			}
		}
		if seats, _ := db.ListSeats(ctx); len(seats) != 2 {
			t.Errorf("evaluation bound seats: %v", seats)
		}
	})
}

func TestSeatsNeedUltimate(t *testing.T) {
	for _, ed := range []license.Edition{license.Business, license.EnterprisePremium} {
		s := &license.Seats{Licence: granted(t, ed, 10), Store: nil} // the store must not be asked
		err := s.CheckSeat(context.Background(), "u1", "laptop-1")
		if izy.ErrorCode(err) != izy.EFORBIDDEN || !strings.Contains(izy.ErrorMessage(err), "needs the Enterprise Ultimate edition; the installed licence is "+string(ed)) {
			t.Errorf("%s: %v, want a refusal naming the edition", ed, err)
		}
	}
}

// TestSeatRace lets many clients race for the last seats: exactly as many win as there
// are seats, on each database.
func TestSeatRace(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		const seats, clients = 3, 12
		s := &license.Seats{Licence: granted(t, license.EnterpriseUltimate, seats), Store: db}
		for round := range 3 {
			var wg sync.WaitGroup
			errs := make([]error, clients)
			start := make(chan struct{})
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = s.CheckSeat(ctx, "u", fmt.Sprintf("r%d-c%d", round, i))
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case izy.ErrorCode(err) != izy.EFORBIDDEN:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			bound, err := db.ListSeats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if won != seats || len(bound) != seats {
				t.Fatalf("round %d: %d clients won, %d seats bound; want exactly %d", round, won, len(bound), seats)
			}
			for _, b := range bound {
				if err := db.ReleaseSeat(ctx, b.ClientID); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
