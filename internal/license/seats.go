package license

import (
	"context"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// SeatStore keeps which client IDs hold an offline seat (cmd/izytroniq passes a
// *sqldb.DB).
type SeatStore interface {
	// BindSeat binds clientID to a seat unless it holds one already or limit seats are
	// bound, atomically; it returns whether the client holds a seat afterwards and how
	// many are bound.
	BindSeat(ctx context.Context, clientID, userID string, limit int, at time.Time) (ok bool, bound int, err error)
}

// Seats is the sync service's seat check (syncer.SeatChecker): with a licence in
// effect, offline checkout needs Enterprise Ultimate and a free offline seat, bound to
// the client ID on its first checkout. In evaluation mode every client may check out.
type Seats struct {
	Licence interface{ Current() State }
	Store   SeatStore
	Now     func() time.Time
}

// CheckSeat allows clientID to check out, binding it to a seat on its first checkout.
func (s *Seats) CheckSeat(ctx context.Context, userID, clientID string) error {
	st := s.Licence.Current()
	if !st.Granted() {
		return nil
	}
	l := st.License
	if l.Edition != EnterpriseUltimate {
		return izy.Errorf(izy.EFORBIDDEN, "offline checkout needs the %s edition; the installed licence is %s", EnterpriseUltimate, l.Edition)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ok, bound, err := s.Store.BindSeat(ctx, clientID, userID, l.OfflineSeats, now())
	if err != nil {
		return err
	}
	if !ok {
		return izy.Errorf(izy.EFORBIDDEN, "no free offline seat for client %s: the licence allows %d offline seats and %d client IDs are bound; an administrator frees one with 'izytroniq license seats release CLIENT_ID' (see 'izytroniq license show')",
			clientID, l.OfflineSeats, bound)
	}
	return nil
}
