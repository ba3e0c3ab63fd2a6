// Package syncer is the sync service: checkouts, the snapshot and change feed, idempotent
// uploads merged field by field, conflicts and their resolution, and sync states.
package syncer

import (
	"context"
	"log/slog"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Store is what the sync service needs from the database (cmd/izytroniq adapts a
// *sqldb.DB). Every method is one transaction; ApplyBatch and ResolveConflict run their
// callback inside theirs.
type Store interface {
	CreateCheckout(ctx context.Context, co *izy.Checkout) error
	GetCheckout(ctx context.Context, id string) (*izy.Checkout, error)
	ListCheckoutsPage(ctx context.Context, userID string, released bool, p izy.Page) ([]izy.Checkout, string, error)
	ReleaseCheckout(ctx context.Context, id string) error
	AckCheckout(ctx context.Context, id string, seq int64) error
	SetCheckoutState(ctx context.Context, id, state string) error
	SyncStatus(ctx context.Context) (map[string]int, error)
	CollectTombstones(ctx context.Context) (int64, error)

	SnapshotPage(ctx context.Context, co *izy.Checkout, cursor string, limit int) (*izy.SyncPage, error)
	Changes(ctx context.Context, co *izy.Checkout, since int64, limit int) (*izy.SyncPage, error)

	StoreBatch(ctx context.Context, checkoutID, batchID string, protocol int, raw []byte) (*izy.BatchResult, error)
	ApplyBatch(ctx context.Context, checkoutID string, b *izy.Batch, apply func(ctx context.Context, tx Tx) (*izy.BatchResult, error)) (*izy.BatchResult, error)

	ListConflicts(ctx context.Context, checkoutID, status, userID string, p izy.Page) ([]izy.Conflict, string, error)
	GetConflict(ctx context.Context, id string) (*izy.Conflict, error)
	ResolveConflict(ctx context.Context, id, resolution string, apply func(ctx context.Context, tx Tx, c *izy.Conflict) error) (*izy.Conflict, error)
}

// Tx is the write transaction an upload or a resolution runs in; its writes behave like
// the online API's, except that the checkout it works for may write its own scope.
type Tx interface {
	Device(ctx context.Context, id string) (*izy.Device, error)
	Location(ctx context.Context, id string) (*izy.Location, error)
	Instrument(ctx context.Context, id string) (*izy.Instrument, error)
	CreateDevice(ctx context.Context, d *izy.Device) error
	UpdateDevice(ctx context.Context, d *izy.Device) error
	CreateLocation(ctx context.Context, l *izy.Location) error
	UpdateLocation(ctx context.Context, l *izy.Location) error
	DeleteLocation(ctx context.Context, id string, version int64) error
	CreateTest(ctx context.Context, t *izy.Test) error
	TestExists(ctx context.Context, id string) (bool, error)
	Deleted(ctx context.Context, entity, id string) (bool, error)
	DeviceBySerial(ctx context.Context, customerID, serial, exceptID string) (*izy.Device, error)
	InventoryTaken(ctx context.Context, customerID, inv string) (bool, error)
	LocationWithin(ctx context.Context, id, root string) (bool, error)
	MutationResult(ctx context.Context, mutationID string) (*izy.MutationResult, error)
	AddConflict(ctx context.Context, customerID string, c *izy.Conflict) error
	Audit(ctx context.Context, action, entity, entityID string, detail any) error
	Savepoint(ctx context.Context, fn func() error) error
}

// SeatChecker decides whether a client may take data offline. It is the one place where
// the licence's offline seats plug in; AllowAll lets every client check out.
type SeatChecker interface {
	CheckSeat(ctx context.Context, userID, clientID string) error
}

// AllowAll is the SeatChecker used until licences are enforced.
type AllowAll struct{}

// CheckSeat allows every client.
func (AllowAll) CheckSeat(context.Context, string, string) error { return nil }

// Limits bound uploads and pages.
type Limits struct {
	MaxMutations  int   // per batch; default 5,000
	MaxBatchBytes int64 // per upload body; default 8 MiB
	MaxPage       int   // rows per snapshot or change page; default 5,000
}

// Default limits.
const (
	DefaultMaxMutations  = 5000
	DefaultMaxBatchBytes = 8 << 20
	DefaultMaxPage       = 5000
	DefaultPage          = 1000
)

// Syncer is the sync service. It keeps no state of its own: every checkout's state lives
// in the store, so several servers on one database agree.
type Syncer struct {
	store  Store
	seats  SeatChecker
	limits Limits
	log    *slog.Logger
	now    func() time.Time
}

// New returns a sync service on store; a nil seats allows every client.
func New(store Store, seats SeatChecker, limits Limits, logger *slog.Logger) *Syncer {
	if seats == nil {
		seats = AllowAll{}
	}
	if limits.MaxMutations <= 0 {
		limits.MaxMutations = DefaultMaxMutations
	}
	if limits.MaxBatchBytes <= 0 {
		limits.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if limits.MaxPage <= 0 {
		limits.MaxPage = DefaultMaxPage
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Syncer{store: store, seats: seats, limits: limits, log: logger, now: time.Now}
}

// MaxBatchBytes is the largest upload body accepted.
func (s *Syncer) MaxBatchBytes() int64 { return s.limits.MaxBatchBytes }

// CreateCheckout validates and stores a checkout for the user of ctx after asking the
// SeatChecker. The caller has checked role and grant.
func (s *Syncer) CreateCheckout(ctx context.Context, co *izy.Checkout) error {
	u := izy.UserFromContext(ctx)
	if u == nil {
		return izy.Errorf(izy.EUNAUTHORIZED, "sign in first")
	}
	switch {
	case co.ClientID == "" || len(co.ClientID) > 100:
		return izy.Errorf(izy.EINVALID, "client_id is required (at most 100 characters)")
	case len(co.ClientName) > 200:
		return izy.Errorf(izy.EINVALID, "client_name must have at most 200 characters")
	case !izy.ValidID(co.CustomerID):
		return izy.Errorf(izy.EINVALID, "customer_id must be a valid id (or give location_id)")
	case co.LocationID != nil && !izy.ValidID(*co.LocationID):
		return izy.Errorf(izy.EINVALID, "location_id must be a valid id")
	case co.Mode == "":
		co.Mode = izy.CheckoutShared
	}
	if co.Mode != izy.CheckoutShared && co.Mode != izy.CheckoutExclusive {
		return izy.Errorf(izy.EINVALID, "mode must be shared or exclusive")
	}
	if co.Protocol == 0 {
		co.Protocol = izy.ProtocolVersion
	}
	if co.Protocol != izy.ProtocolVersion && co.Protocol != izy.PreviousProtocolVersion {
		return izy.Errorf(izy.EINVALID, "protocol_version %d is not supported; this server speaks %d and %d", co.Protocol, izy.PreviousProtocolVersion, izy.ProtocolVersion)
	}
	if err := s.seats.CheckSeat(ctx, u.ID, co.ClientID); err != nil {
		return err
	}
	co.ID, co.UserID = "", u.ID
	if err := s.store.CreateCheckout(ctx, co); err != nil {
		return err
	}
	s.log.Info("checkout", "checkout", co.ID, "user", co.Username, "client", co.ClientID, "customer", co.CustomerID, "mode", co.Mode)
	return nil
}

// Checkout returns a checkout.
func (s *Syncer) Checkout(ctx context.Context, id string) (*izy.Checkout, error) {
	return s.store.GetCheckout(ctx, id)
}

// Checkouts returns a page of the open checkouts of userID ("" for all) and the cursor of
// the next page.
func (s *Syncer) Checkouts(ctx context.Context, userID string, p izy.Page) ([]izy.Checkout, string, error) {
	return s.store.ListCheckoutsPage(ctx, userID, false, p)
}

// Release checks a checkout in.
func (s *Syncer) Release(ctx context.Context, id string) error {
	return s.store.ReleaseCheckout(ctx, id)
}

// Ack records that the checkout's client holds every change up to seq.
func (s *Syncer) Ack(ctx context.Context, id string, seq int64) error {
	if seq < 0 {
		return izy.Errorf(izy.EINVALID, "seq must not be negative")
	}
	return s.store.AckCheckout(ctx, id, seq)
}

func (s *Syncer) openCheckout(ctx context.Context, id string) (*izy.Checkout, error) {
	co, err := s.store.GetCheckout(ctx, id)
	if err != nil {
		return nil, err
	}
	if co.ReleasedAt != nil {
		return nil, izy.Errorf(izy.ECONFLICT, "checkout %s was checked in; check out again", id)
	}
	return co, nil
}

func (s *Syncer) pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPage, nil
	case limit < 0 || limit > s.limits.MaxPage:
		return 0, izy.Errorf(izy.EINVALID, "limit must be between 1 and %d", s.limits.MaxPage)
	}
	return limit, nil
}

// Snapshot returns a snapshot page of an open checkout. While pages follow, the
// checkout's state is downloading; the last page sets it to applying (see state.go).
func (s *Syncer) Snapshot(ctx context.Context, id, cursor string, limit int) (*izy.SyncPage, error) {
	limit, err := s.pageLimit(limit)
	if err != nil {
		return nil, err
	}
	co, err := s.openCheckout(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.store.SnapshotPage(ctx, co, cursor, limit)
	if err != nil {
		return nil, err
	}
	if err := s.downloaded(ctx, co, p.Next != "", len(p.Rows)); err != nil {
		return nil, err
	}
	return p, nil
}

// Changes returns the changes of an open checkout's scope after since.
func (s *Syncer) Changes(ctx context.Context, id string, since int64, limit int) (*izy.SyncPage, error) {
	limit, err := s.pageLimit(limit)
	if err != nil {
		return nil, err
	}
	if since < 0 {
		return nil, izy.Errorf(izy.EINVALID, "since must not be negative")
	}
	co, err := s.openCheckout(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Changes(ctx, co, since, limit)
	if err != nil {
		return nil, err
	}
	if err := s.downloaded(ctx, co, p.More, len(p.Rows)); err != nil {
		return nil, err
	}
	return p, nil
}

// SyncStatus counts open checkouts per sync state.
func (s *Syncer) SyncStatus(ctx context.Context) (map[string]int, error) {
	return s.store.SyncStatus(ctx)
}

// CollectTombstones deletes the tombstones every open checkout has acknowledged; the sync
// worker calls it periodically.
func (s *Syncer) CollectTombstones(ctx context.Context) (int64, error) {
	return s.store.CollectTombstones(ctx)
}

// Run collects tombstones every interval until ctx ends: the sync worker.
func (s *Syncer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.CollectTombstones(ctx)
			if err != nil {
				s.log.Error("collect tombstones", "err", err)
			} else if n > 0 {
				s.log.Info("collected tombstones", "deleted", n)
			}
		}
	}
}

// Conflicts returns a page of the conflicts of checkoutID ("" for any) with status (""
// for any) of checkouts of userID ("" for anybody's), and the cursor of the next page.
func (s *Syncer) Conflicts(ctx context.Context, checkoutID, status, userID string, p izy.Page) ([]izy.Conflict, string, error) {
	return s.store.ListConflicts(ctx, checkoutID, status, userID, p)
}

// Conflict returns one conflict.
func (s *Syncer) Conflict(ctx context.Context, id string) (*izy.Conflict, error) {
	return s.store.GetConflict(ctx, id)
}
