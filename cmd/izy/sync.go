package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// SyncCommand uploads the outbox and downloads the changes of every open checkout.
type SyncCommand struct{ env *env }

// syncResult reports one checkout's sync.
type syncResult struct {
	CheckoutID string         `json:"checkout_id"`
	Batches    int            `json:"batches"`
	Outcomes   map[string]int `json:"outcomes"`
	Changes    int            `json:"changes"`
	Conflicts  int            `json:"open_conflicts"`
}

// Run runs the command.
func (c *SyncCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "sync", "sync [--checkout ID]",
		`Upload the outbox in batches (each batch is stored with its ID before it is sent, so a
retry after a lost connection or a crash sends the same batch and the server answers it
once), record the outcome of each mutation and any conflicts, then download the changes
since the last sync. A lost connection is retried by itself (see --retry-for); when izy
gives up, your work stays in the outbox: run izy sync again when online.`, &asJSON)
	only := fs.String("checkout", "", "sync only this checkout")
	batch := fs.Int("batch", 500, "mutations per upload batch")
	c.env.retryFlag(fs)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var progress io.Writer = c.env.stderr
	if asJSON {
		progress = nil
	}
	results, err := s.syncAll(ctx, *only, *batch, progress)
	if err != nil {
		if !asJSON { // what was uploaded before the error (say, the outbox of a client that must update)
			for _, r := range results {
				printSync(c.env.stdout, r)
			}
		}
		return err
	}
	if asJSON {
		return writeJSON(c.env.stdout, map[string]any{"checkouts": results})
	}
	for _, r := range results {
		printSync(c.env.stdout, r)
	}
	if len(results) == 0 {
		fmt.Fprintln(c.env.stdout, "nothing checked out: run izy checkout --customer ID")
	}
	return nil
}

func printSync(w io.Writer, r syncResult) {
	fmt.Fprintf(w, "checkout %s: uploaded %d batches (%d applied, %d merged, %d conflicts, %d rejected), downloaded %d changes",
		r.CheckoutID, r.Batches, r.Outcomes[izy.MutationApplied], r.Outcomes[izy.MutationMerged],
		r.Outcomes[izy.MutationConflict], r.Outcomes[izy.MutationRejected], r.Changes)
	if r.Conflicts > 0 {
		fmt.Fprintf(w, "; %d open conflicts: see izy conflicts list", r.Conflicts)
	}
	fmt.Fprintln(w)
}

// syncAll syncs the open checkouts (or only one).
func (s *session) syncAll(ctx context.Context, only string, batch int, progress io.Writer) ([]syncResult, error) {
	h, err := s.handshake(ctx)
	if err != nil {
		return nil, err
	}
	// Below the server's minimum client version izy may still upload its outbox (offline
	// work is never stranded) but must update before it downloads.
	uploadOnly := h.UpdateRequired
	cos, err := s.replica.Checkouts(ctx, false)
	if err != nil {
		return nil, err
	}
	results := []syncResult{}
	for _, co := range cos {
		if only != "" && co.ID != only {
			continue
		}
		r, err := s.syncOne(ctx, &co, batch, uploadOnly, progress)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	if only != "" && len(results) == 0 {
		return nil, izy.Errorf(izy.ENOTFOUND, "checkout %s is not open on this client; see izy status", only)
	}
	if uploadOnly {
		return results, izy.Errorf(izy.ECONFLICT, "izy %s is below the server's minimum client version %s: the outbox was uploaded, but izy must be updated (to %s) before it downloads",
			version, h.MinClientVersion, h.CurrentClientVersion)
	}
	return results, s.replica.SetState(ctx, "last_sync", time.Now().UTC().Format(time.RFC3339))
}

// syncOne uploads, refreshes the conflicts and downloads for one checkout. A checkout
// whose snapshot was cut off resumes it first.
func (s *session) syncOne(ctx context.Context, co *replica.CheckoutState, batch int, uploadOnly bool, progress io.Writer) (syncResult, error) {
	res := syncResult{CheckoutID: co.ID}
	s.setState(ctx, co.ID, izy.SyncUploading)
	push, err := s.replica.PushOutbox(ctx, s.client, co.ID, batch)
	res.Batches, res.Outcomes = push.Batches, push.Outcomes
	if err != nil {
		return res, s.online(err)
	}
	if err := s.refreshConflicts(ctx, co.ID); err != nil {
		return res, err
	}
	open, err := s.replica.Conflicts(ctx, co.ID, "open")
	if err != nil {
		return res, err
	}
	res.Conflicts = len(open)
	if !uploadOnly {
		if res.Changes, err = s.download(ctx, co, 1000, progress); err != nil {
			return res, err
		}
	}
	state := izy.SyncReady
	if res.Conflicts > 0 {
		state = izy.SyncConflictsPending
	}
	s.setState(ctx, co.ID, state)
	return res, nil
}

// download resumes the snapshot of a checkout if it was cut off, then pulls the changes;
// it returns the changes applied and records the download states on the way.
func (s *session) download(ctx context.Context, co *replica.CheckoutState, pageSize int, progress io.Writer) (int, error) {
	s.setState(ctx, co.ID, izy.SyncDownloading)
	rem := downloadRemote{remote: s.client, s: s}
	pr := newProgress(progress)
	if !co.SnapshotDone {
		_, err := s.replica.DownloadSnapshot(ctx, rem, co.ID, pageSize, pr.update)
		pr.done()
		if err != nil {
			return 0, s.online(err)
		}
	}
	n, err := s.replica.PullChanges(ctx, rem, co.ID, pageSize, pr.update)
	pr.done()
	return n, s.online(err)
}

// conflictsPage is how many conflicts refreshConflicts asks for at a time (tests make it
// small to page).
var conflictsPage = 1000

// refreshConflicts mirrors the server's conflicts of a checkout (open and resolved),
// paging through all of them.
func (s *session) refreshConflicts(ctx context.Context, checkoutID string) error {
	q := url.Values{"checkout_id": {checkoutID}, "limit": {strconv.Itoa(conflictsPage)}}
	for {
		page, err := s.client.Conflicts(ctx, q)
		if err != nil {
			return s.online(err)
		}
		if err := s.replica.PutConflicts(ctx, page.Items); err != nil {
			return err
		}
		if page.NextCursor == nil {
			return nil
		}
		q.Set("cursor", *page.NextCursor)
	}
}
