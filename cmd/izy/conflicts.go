package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
)

// offlineRetryFor bounds the retries of conflicts list and show, which fall back to the
// local copy, unless --retry-for is given.
const offlineRetryFor = 10 * time.Second

// ConflictsCommand lists, shows and resolves conflicts.
type ConflictsCommand struct{ env *env }

// Run runs the command.
func (c *ConflictsCommand) Run(ctx context.Context, args []string) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var asJSON bool
	fs := newFlagSet(c.env, "conflicts "+sub, "conflicts [list|show ID|resolve ID --keep-server|--take-client|--merge field=value...|--create-new]",
		`List the conflicts of your checkouts (from the server when it is reachable, else the
local copy), show one with base, server and client values, or resolve one.`, &asJSON)
	all := fs.Bool("all", false, "list resolved conflicts too")
	keep := fs.Bool("keep-server", false, "resolve: keep the server's values")
	take := fs.Bool("take-client", false, "resolve: take this client's values")
	createNew := fs.Bool("create-new", false, "resolve: create the client's record as a new one")
	var merge measureFlags
	fs.Var(&merge, "merge", "resolve: take field=value (repeatable; value is JSON or text)")
	c.env.retryFlag(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return helpOK(err)
	}
	fs.Visit(func(f *flag.Flag) { c.env.retrySet = c.env.retrySet || f.Name == "retry-for" })
	if sub != "resolve" && !c.env.retrySet {
		// list and show fall back to the local copy: wait for the server only briefly.
		c.env.retryFor = min(c.env.retryFor, offlineRetryFor)
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	switch sub {
	case "list":
		status := "open"
		if *all {
			status = ""
		}
		cos, err := s.replica.Checkouts(ctx, true)
		if err != nil {
			return err
		}
		offline := false
		for _, co := range cos {
			if err := s.refreshConflicts(ctx, co.ID); err != nil {
				offline = true
				break
			}
		}
		cs, err := s.replica.Conflicts(ctx, "", status)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(c.env.stdout, map[string]any{"items": cs, "offline": offline})
		}
		if offline {
			fmt.Fprintln(c.env.stderr, "server unreachable: showing the local copy")
		}
		t := newTable(c.env.stdout)
		fmt.Fprintln(t, "ID\tKIND\tENTITY\tSTATUS\tFIELDS")
		for _, cf := range cs {
			var names []string
			for _, f := range cf.Fields {
				names = append(names, f.Field)
			}
			fmt.Fprintf(t, "%s\t%s\t%s %s\t%s\t%s\n", cf.ID, cf.Kind, cf.Entity, cf.EntityID, cf.Status, strings.Join(names, ","))
		}
		return t.Flush()
	case "show":
		if len(pos) != 1 {
			return usageErrorf("conflicts show needs one conflict ID")
		}
		cf, err := s.client.Conflict(ctx, pos[0])
		if err == nil {
			err = s.replica.PutConflicts(ctx, []izy.Conflict{*cf})
		} else if cf, err = s.replica.Conflict(ctx, pos[0]); err != nil {
			return err
		}
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(c.env.stdout, cf)
		}
		fmt.Fprintf(c.env.stdout, "conflict %s (%s) on %s %s, %s\n", cf.ID, cf.Kind, cf.Entity, cf.EntityID, cf.Status)
		t := newTable(c.env.stdout)
		fmt.Fprintln(t, "FIELD\tBASE\tSERVER\tCLIENT")
		for _, f := range cf.Fields {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", f.Field, f.Base, f.Server, f.Client)
		}
		return t.Flush()
	case "resolve":
		if len(pos) != 1 {
			return usageErrorf("conflicts resolve needs one conflict ID")
		}
		var res client.Resolution
		n := 0
		for _, on := range []struct {
			set bool
			r   string
		}{{*keep, izy.ResolveKeepServer}, {*take, izy.ResolveTakeClient}, {*createNew, izy.ResolveCreateNew}, {len(merge) > 0, izy.ResolveMerge}} {
			if on.set {
				res.Resolution = on.r
				n++
			}
		}
		if n != 1 {
			return usageErrorf("resolve needs exactly one of --keep-server, --take-client, --merge field=value, --create-new")
		}
		if len(merge) > 0 {
			res.Fields = map[string]any{}
			for _, m := range merge {
				k, v, ok := strings.Cut(m, "=")
				if !ok || k == "" {
					return usageErrorf("--merge %q must read field=value", m)
				}
				var j any
				if json.Unmarshal([]byte(v), &j) == nil {
					res.Fields[k] = j
				} else {
					res.Fields[k] = v
				}
			}
		}
		cf, err := s.client.ResolveConflict(ctx, pos[0], res)
		if err != nil {
			return s.online(err)
		}
		if err := s.replica.PutConflicts(ctx, []izy.Conflict{*cf}); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(c.env.stdout, cf)
		}
		fmt.Fprintf(c.env.stdout, "conflict %s resolved (%s); run izy sync to download the result\n", cf.ID, cf.Resolution)
		return nil
	}
	return usageErrorf("unknown conflicts command %q (list, show, resolve)", sub)
}
