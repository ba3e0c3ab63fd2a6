package main

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
)

// The client's own view of each checkout's sync state, kept in the replica (key
// "sync_state/ID") so that izy status shows it offline. It follows the server's meaning
// (docs/sync-protocol.md, "States"): uploading while the outbox goes up, downloading
// while pages come down, applying while the replica stores the end of a download, ready
// when a sync ended. A command cut off for good leaves the state it stopped in.

func stateKey(checkoutID string) string { return "sync_state/" + checkoutID }

// setState records the sync state of a checkout, and as the client's overall state. It
// is best effort: a failure to record it must not fail the sync.
func (s *session) setState(ctx context.Context, checkoutID, state string) {
	_ = s.replica.SetState(ctx, "sync_state", state)
	_ = s.replica.SetState(ctx, stateKey(checkoutID), state)
}

// localState returns the recorded sync state of a checkout, ready when none was recorded.
func (s *session) localState(ctx context.Context, checkoutID string) string {
	v, err := s.replica.State(ctx, stateKey(checkoutID))
	if err != nil || v == "" {
		return izy.SyncReady
	}
	return v
}

// downloadRemote is the server for a download: it records applying once the end of the
// download (the snapshot's last page, or the last change page with rows) has arrived and
// the replica is about to store it.
type downloadRemote struct {
	*remote
	s *session
}

func (d downloadRemote) Snapshot(ctx context.Context, checkoutID, cursor string, limit int) (*izy.SyncPage, error) {
	p, err := d.remote.Snapshot(ctx, checkoutID, cursor, limit)
	if err == nil && p.Next == "" && len(p.Rows) > 0 {
		d.s.setState(ctx, checkoutID, izy.SyncApplying)
	}
	return p, err
}

func (d downloadRemote) Changes(ctx context.Context, checkoutID string, since int64, limit int) (*izy.SyncPage, error) {
	p, err := d.remote.Changes(ctx, checkoutID, since, limit)
	if err == nil && !p.More && len(p.Rows) > 0 {
		d.s.setState(ctx, checkoutID, izy.SyncApplying)
	}
	return p, err
}
