package main

import (
	"context"
	"fmt"
	"io"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// CheckoutCommand opens a checkout and downloads its data into the replica.
type CheckoutCommand struct{ env *env }

type checkoutResult struct {
	Checkout     izy.Checkout     `json:"checkout"`
	Resumed      bool             `json:"resumed"`
	SnapshotRows int64            `json:"snapshot_rows"`
	Changes      int              `json:"changes"`
	Totals       map[string]int64 `json:"totals"`
}

// Run runs the command.
func (c *CheckoutCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "checkout", "checkout --customer ID | --location ID [--exclusive]",
		`Check out a customer (or a location subtree) and download it for offline work. The
download is verified page by page (count and checksum) and in total. A lost connection
is retried by itself (see --retry-for), resuming from the last stored page; when izy
gives up or is stopped, run the same command again to resume from there.`, &asJSON)
	customer := fs.String("customer", "", "customer ID")
	location := fs.String("location", "", "location ID (the location and everything below it)")
	exclusive := fs.Bool("exclusive", false, "refuse online edits to the scope while checked out")
	pageSize := fs.Int("page-size", 1000, "rows per snapshot page")
	c.env.retryFlag(fs)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if (*customer == "") == (*location == "") {
		return usageErrorf("checkout needs exactly one of --customer ID or --location ID")
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.handshake(ctx); err != nil {
		return err
	}
	res := checkoutResult{}
	cs, err := findCheckout(ctx, s.replica, *customer, *location)
	if err != nil {
		return err
	}
	if cs != nil {
		res.Resumed = true
	} else {
		mode := izy.CheckoutShared
		if *exclusive {
			mode = izy.CheckoutExclusive
		}
		co, err := s.client.CreateCheckout(ctx, client.CheckoutRequest{
			ClientID: s.cfg.ClientID, ClientName: hostname(), CustomerID: *customer, LocationID: *location,
			Mode: mode, Protocol: izy.ProtocolVersion,
		})
		if err != nil {
			return s.online(err)
		}
		if err := s.replica.AddCheckout(ctx, co); err != nil {
			return err
		}
		if cs, err = s.replica.Checkout(ctx, co.ID); err != nil {
			return err
		}
	}
	var out io.Writer = c.env.stderr
	if asJSON {
		out = nil
	}
	pr := newProgress(out)
	s.setState(ctx, cs.ID, izy.SyncDownloading)
	rem := downloadRemote{remote: s.client, s: s}
	if res.SnapshotRows, err = s.replica.DownloadSnapshot(ctx, rem, cs.ID, *pageSize, pr.update); err != nil {
		pr.done()
		return s.online(err)
	}
	pr.done()
	if res.Changes, err = s.replica.PullChanges(ctx, rem, cs.ID, *pageSize, pr.update); err != nil {
		pr.done()
		return s.online(err)
	}
	pr.done()
	s.setState(ctx, cs.ID, izy.SyncReady)
	if cs, err = s.replica.Checkout(ctx, cs.ID); err != nil {
		return err
	}
	res.Checkout, res.Totals = cs.Checkout, cs.SnapCounts
	if asJSON {
		return writeJSON(c.env.stdout, res)
	}
	verb := "checked out"
	if res.Resumed {
		verb = "resumed checkout"
	}
	fmt.Fprintf(c.env.stdout, "%s %s (%s): %d customers, %d locations, %d devices, %d instruments, %d tests; verified\n",
		verb, cs.ID, cs.Mode, cs.SnapCounts["customer"], cs.SnapCounts["location"], cs.SnapCounts["device"], cs.SnapCounts["instrument"], cs.SnapCounts["test"])
	return nil
}

// findCheckout returns the open local checkout of the same scope, or nil.
func findCheckout(ctx context.Context, r *replica.Replica, customer, location string) (*replica.CheckoutState, error) {
	cos, err := r.Checkouts(ctx, false)
	if err != nil {
		return nil, err
	}
	for i := range cos {
		co := &cos[i]
		loc := ""
		if co.LocationID != nil {
			loc = *co.LocationID
		}
		if location != "" && loc == location || location == "" && loc == "" && co.CustomerID == customer {
			return co, nil
		}
	}
	return nil, nil
}

// checkoutFor returns the open checkout that holds a customer's data.
func checkoutFor(ctx context.Context, r *replica.Replica, customerID string) (*replica.CheckoutState, error) {
	cos, err := r.Checkouts(ctx, false)
	if err != nil {
		return nil, err
	}
	for i := range cos {
		if cos[i].CustomerID == customerID {
			return &cos[i], nil
		}
	}
	return nil, izy.Errorf(izy.ENOTFOUND, "no open checkout holds customer %s: run izy checkout --customer %s", customerID, customerID)
}
