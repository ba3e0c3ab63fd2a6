package syncer

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
)

// The download states of a checkout, as the original product's sync service shows them:
// downloading while the server hands out pages and more follow; applying once it has
// handed out the end of a download (the snapshot's last page, or a change page with rows
// and nothing more after it) and the client is storing it in its replica; ready when the
// client has confirmed that: its ack (POST …/ack), or its next request for changes, which
// it only makes from a position it has committed. A checkout that stays applying is one
// whose client stopped (or lost the connection) before it confirmed the end of a
// download. The upload states (uploading, merging, conflicts-pending) are not touched
// here: a download never hides them.

// downloaded moves the state of checkout co after the server answered a download page:
// more says pages follow, rows how many rows this page carried.
func (s *Syncer) downloaded(ctx context.Context, co *izy.Checkout, more bool, rows int) error {
	switch co.State {
	case izy.SyncReady, izy.SyncDownloading, izy.SyncApplying:
	default:
		return nil
	}
	state := izy.SyncReady
	switch {
	case more:
		state = izy.SyncDownloading
	case rows > 0:
		state = izy.SyncApplying
	}
	if state == co.State {
		return nil
	}
	return s.store.SetCheckoutState(ctx, co.ID, state)
}
