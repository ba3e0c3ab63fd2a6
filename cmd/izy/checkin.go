package main

import (
	"context"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// CheckinCommand syncs a checkout and releases it.
type CheckinCommand struct{ env *env }

// Run runs the command.
func (c *CheckinCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "checkin", "checkin [--checkout ID]",
		`Sync, then release the checkout (all open checkouts without --checkout). It refuses
while conflicts are open or mutations are still pending: resolve them with izy conflicts.`, &asJSON)
	only := fs.String("checkout", "", "check in only this checkout")
	c.env.retryFlag(fs)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	results, err := s.syncAll(ctx, *only, 500, nil)
	if err != nil {
		return err
	}
	released := []string{}
	for _, r := range results {
		if r.Conflicts > 0 {
			return izy.Errorf(izy.ECONFLICT, "checkout %s has %d open conflicts: resolve them (izy conflicts list, izy conflicts resolve ID --keep-server|--take-client|--merge field=value|--create-new), then run izy checkin again", r.CheckoutID, r.Conflicts)
		}
		counts, err := s.replica.OutboxCounts(ctx, r.CheckoutID)
		if err != nil {
			return err
		}
		if n := counts[replica.OutboxPending]; n > 0 {
			return izy.Errorf(izy.ECONFLICT, "checkout %s still has %d mutations waiting for upload: run izy sync, then izy checkin", r.CheckoutID, n)
		}
		if err := s.client.ReleaseCheckout(ctx, r.CheckoutID); err != nil && izy.ErrorCode(err) != izy.ENOTFOUND {
			return s.online(err)
		}
		if err := s.replica.ReleaseCheckout(ctx, r.CheckoutID); err != nil {
			return err
		}
		released = append(released, r.CheckoutID)
	}
	if asJSON {
		return writeJSON(c.env.stdout, map[string]any{"released": released, "sync": results})
	}
	for _, r := range results {
		printSync(c.env.stdout, r)
	}
	for _, id := range released {
		fmt.Fprintf(c.env.stdout, "checked in %s\n", id)
	}
	if len(released) == 0 {
		fmt.Fprintln(c.env.stdout, "nothing to check in")
	}
	return nil
}
