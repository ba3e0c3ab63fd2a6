package main

import (
	"context"
	"fmt"

	"github.com/izytroniq/izytroniq/internal/replica"
)

// StatusCommand shows what this client holds: checkouts, outbox, conflicts, last sync.
type StatusCommand struct{ env *env }

type statusResult struct {
	Server    string           `json:"server"`
	Username  string           `json:"username"`
	ClientID  string           `json:"client_id"`
	Checkouts []statusCheckout `json:"checkouts"`
	Outbox    map[string]int   `json:"outbox"` // entries per status
	Pending   int              `json:"pending"`
	Conflicts int              `json:"open_conflicts"`
	Records   map[string]int64 `json:"records"`
	LastSync  string           `json:"last_sync"`
}

// statusCheckout is a checkout with its local sync state.
type statusCheckout struct {
	replica.CheckoutState
	// SyncState is where this client's last sync of the checkout stands (the server's
	// state names; see state.go). It overrides the server's view stored with the checkout.
	SyncState string `json:"sync_state"`
}

// Run runs the command. It works offline.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "status", "status", `Show checkouts with the sync state each stands in, the outbox, open conflicts and the
last sync. Works offline. States: ready, uploading, conflicts-pending, downloading,
applying (storing the end of a download); a sync that was cut off for good leaves the
state it stopped in, until the next izy sync.`, &asJSON)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	res := statusResult{Server: s.cfg.Server, Username: s.cfg.Username, ClientID: s.cfg.ClientID}
	cos, err := s.replica.Checkouts(ctx, false)
	if err != nil {
		return err
	}
	res.Checkouts = []statusCheckout{}
	for _, co := range cos {
		res.Checkouts = append(res.Checkouts, statusCheckout{CheckoutState: co, SyncState: s.localState(ctx, co.ID)})
	}
	if res.Outbox, err = s.replica.OutboxCounts(ctx, ""); err != nil {
		return err
	}
	res.Pending = res.Outbox[replica.OutboxPending]
	open, err := s.replica.Conflicts(ctx, "", "open")
	if err != nil {
		return err
	}
	res.Conflicts = len(open)
	if res.Records, err = s.replica.Counts(ctx); err != nil {
		return err
	}
	if res.LastSync, err = s.replica.State(ctx, "last_sync"); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.env.stdout, res)
	}
	w := c.env.stdout
	fmt.Fprintf(w, "server:     %s as %s\n", res.Server, res.Username)
	last := res.LastSync
	if last == "" {
		last = "never"
	}
	fmt.Fprintf(w, "last sync:  %s\n", last)
	fmt.Fprintf(w, "outbox:     %d pending", res.Pending)
	for k, n := range res.Outbox {
		if k != replica.OutboxPending {
			fmt.Fprintf(w, ", %d %s", n, k)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "conflicts:  %d open\n", res.Conflicts)
	fmt.Fprintf(w, "local data: %d devices, %d tests, %d locations\n", res.Records["device"], res.Records["test"], res.Records["location"])
	if len(res.Checkouts) == 0 {
		fmt.Fprintln(w, "checkouts:  none (izy checkout --customer ID)")
		return nil
	}
	t := newTable(w)
	fmt.Fprintln(t, "CHECKOUT\tCUSTOMER\tMODE\tSTATE\tSNAPSHOT\tCHANGES UP TO\tLAST SYNC")
	for _, co := range res.Checkouts {
		snap := "complete"
		if !co.SnapshotDone {
			snap = "incomplete (run izy checkout again)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", co.ID, co.CustomerID, co.Mode, co.SyncState, snap, co.ChangeSeq, co.LastSync)
	}
	return t.Flush()
}
