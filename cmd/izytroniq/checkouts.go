package main

import (
	"context"
	"flag"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
)

// CheckoutsCommand shows who holds which data offline, read straight from the database.
type CheckoutsCommand struct {
	*env
}

const checkoutsUsage = `Usage:
  izytroniq checkouts list [--all] [--json]
  izytroniq checkouts show ID [--json]

list shows the open checkouts (--all: released ones too), oldest first: who, on which
client, what scope, which mode, the sync state, since when and how many conflicts are
open. show adds what the state means, the change positions and when the client was last
seen. Both take --config FILE and --db DSN.

Sync states: ready; uploading (a batch is stored raw); merging (the batch is being
applied); conflicts-pending (conflicts wait for a resolution); downloading (pages are
being handed out, more follow); applying (the client is storing the end of a download in
its replica and has not confirmed it yet).
`

// Run runs `izytroniq checkouts`.
func (c *CheckoutsCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, checkoutsUsage)
		if len(args) == 0 {
			return usageErrorf("checkouts needs a subcommand: list or show")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	if sub != "list" && sub != "show" {
		fmt.Fprint(c.stderr, checkoutsUsage)
		return usageErrorf("unknown checkouts subcommand %q", sub)
	}
	fs := flag.NewFlagSet("checkouts "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, checkoutsUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, true)
	asJSON := fs.Bool("json", false, "print JSON")
	all := fs.Bool("all", false, "list released checkouts too")
	var id string
	if sub == "show" && len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		id, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if sub == "show" && id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if sub == "show" && !izy.ValidID(id) {
		fs.Usage()
		return usageErrorf("checkouts show needs the ID of a checkout")
	}
	_, db, closeAll, err := openCurrentDB(ctx, c.env, &cf)
	if err != nil {
		return err
	}
	defer closeAll()
	items := []izy.Checkout{}
	if sub == "show" {
		co, err := db.GetCheckout(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, co)
		}
		items = []izy.Checkout{*co}
	} else {
		// Page through all of them: the list has no size limit of its own.
		p := izy.Page{Limit: checkoutsPage}
		for {
			page, next, err := db.ListCheckoutsPage(ctx, "", *all, p)
			if err != nil {
				return err
			}
			items = append(items, page...)
			if next == "" {
				break
			}
			p.Cursor = next
		}
		if *asJSON {
			return writeJSON(c.stdout, items)
		}
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "ID\tWHO\tCLIENT\tSCOPE\tMODE\tSTATE\tSINCE\tCONFLICTS\tPROTOCOL")
	for _, co := range items {
		scope := "customer " + co.CustomerID
		if co.LocationID != nil {
			scope = "location " + *co.LocationID
		}
		client := co.ClientName
		if client == "" {
			client = co.ClientID
		}
		state := co.State
		if co.ReleasedAt != nil {
			state = "released " + co.ReleasedAt.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", co.ID, co.Username, client, scope, co.Mode, state,
			co.CreatedAt.Local().Format("2006-01-02 15:04"), co.OpenConflicts, co.Protocol)
	}
	if len(items) == 0 {
		fmt.Fprintln(tw, "(no open checkouts)")
	}
	if err := tw.Flush(); err != nil || sub != "show" {
		return err
	}
	co := items[0]
	fmt.Fprintf(c.stdout, "\nstate:        %s (%s)\nsnapshot seq: %d\nacked seq:    %d\nlast seen:    %s\n",
		co.State, stateMeaning[co.State], co.SnapshotSeq, co.AckedSeq, co.LastSeenAt.Local().Format("2006-01-02 15:04:05"))
	return nil
}

// checkoutsPage is how many checkouts list reads at a time (tests make it small).
var checkoutsPage = izy.MaxPageLimit

// stateMeaning explains each sync state in a few words.
var stateMeaning = map[string]string{
	izy.SyncReady:            "nothing under way",
	izy.SyncUploading:        "an upload batch is stored raw, not yet applied",
	izy.SyncMerging:          "an upload batch is being merged into the data",
	izy.SyncConflictsPending: "conflicts wait for a resolution",
	izy.SyncDownloading:      "download pages are being handed out, more follow",
	izy.SyncApplying:         "the client is storing the end of a download and has not confirmed it",
}
