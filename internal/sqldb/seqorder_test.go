package sqldb_test

import (
	"context"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// TestWritesCommitInSeqOrder: while one write transaction holds an uncommitted change seq,
// another write must wait, so that no row with a higher seq becomes visible before the
// lower one; otherwise a client reading the change feed "since" the higher seq would miss
// the lower row for ever.
func TestWritesCommitInSeqOrder(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		took := make(chan int64, 1)
		release := make(chan struct{})
		held := make(chan error, 1)
		go func() { held <- db.HoldWrite(ctx, took, release) }()
		first := <-took

		done := make(chan error, 1)
		c := &izy.Customer{Number: "K-ORDER", Name: "Order"}
		go func() { done <- db.CreateCustomer(ctx, c) }()
		select {
		case err := <-done:
			t.Fatalf("a second write committed (err %v) while seq %d was still uncommitted", err, first)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if c.Seq <= first {
			t.Fatalf("later write got seq %d, not after the held seq %d", c.Seq, first)
		}
	})
}
