package main

import (
	"context"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// DevicesCommand lists and searches the devices of the replica, offline.
type DevicesCommand struct{ env *env }

// Run runs the command.
func (c *DevicesCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "devices", "devices [--q TEXT] [--customer ID] [--colour C]",
		"List and search the checked-out devices offline, by inventory ID.", &asJSON)
	q := fs.String("q", "", "search inventory ID, serial number and designation")
	customer := fs.String("customer", "", "only this customer's devices")
	location := fs.String("location", "", "only devices at this location")
	colour := fs.String("colour", "", "only devices of this colour (green, yellow, orange, red)")
	fs.StringVar(colour, "color", "", "same as --colour")
	limit := fs.Int("limit", 0, "at most this many devices (0: all)")
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if *colour != "" && !izy.Colour(*colour).Valid() {
		return usageErrorf("--colour must be green, yellow, orange or red")
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	ds, err := s.replica.Devices(ctx, replica.DeviceFilter{CustomerID: *customer, LocationID: *location, Query: *q, Colour: izy.Colour(*colour), Limit: *limit})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.env.stdout, map[string]any{"items": ds, "count": len(ds)})
	}
	t := newTable(c.env.stdout)
	fmt.Fprintln(t, "ID\tINVENTORY\tDESIGNATION\tSERIAL\tCLASS\tNEXT DUE\tCOLOUR\t")
	for _, d := range ds {
		mark := ""
		if d.Local {
			mark = "(changed offline)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.InventoryID, d.Designation, d.SerialNumber, d.ProtectionClass, d.NextDue, d.Colour, mark)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.env.stdout, "%d devices\n", len(ds))
	return nil
}
