package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// DeviceCommand adds and edits devices offline.
type DeviceCommand struct{ env *env }

// deviceFlags maps each flag to the device's JSON field and how to write its value.
var deviceFlags = []struct {
	flag, field, help string
	kind              string // string, number, int, bool, id
}{
	{"location", "location_id", "location ID", "id"},
	{"inventory", "inventory_id", "inventory ID", "string"},
	{"designation", "designation", "designation", "string"},
	{"type", "type", "type", "string"},
	{"manufacturer", "manufacturer", "manufacturer", "string"},
	{"model", "model", "model", "string"},
	{"serial", "serial_number", "serial number", "string"},
	{"class", "protection_class", "protection class I, II or III", "string"},
	{"cable-length", "cable_length_m", "cable length in metres", "number"},
	{"heating-elements", "heating_elements", "has heating elements (true/false)", "bool"},
	{"standard", "standard", "standard", "string"},
	{"interval", "interval_months", "test interval in months", "int"},
	{"department", "department", "department", "string"},
	{"cost-centre", "cost_centre", "cost centre", "string"},
	{"comment", "comment", "comment", "string"},
	{"status", "status", "active or retired", "string"},
}

// Run runs the command.
func (c *DeviceCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "edit") {
		fmt.Fprint(c.env.stderr, "Usage:\n  izy device add --customer ID --inventory INV --designation TEXT [flags]\n  izy device edit DEVICE_ID [flags]\n")
		return usageErrorf("device needs add or edit")
	}
	sub, args := args[0], args[1:]
	var asJSON bool
	fs := newFlagSet(c.env, "device "+sub, "device add --customer ID --inventory INV --designation TEXT [flags] | device edit DEVICE_ID [flags]",
		`Add or edit a device offline. The change is stored in the local copy and queued in the
outbox with the values it was based on, so the server can merge it with edits made
meanwhile; izy sync uploads it.`, &asJSON)
	customer := fs.String("customer", "", "customer ID (add only)")
	vals := map[string]*string{}
	for _, f := range deviceFlags {
		vals[f.flag] = fs.String(f.flag, "", f.help)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return helpOK(err)
	}
	set := map[string]json.RawMessage{}
	var convErr error
	fs.Visit(func(fl *flag.Flag) {
		for _, f := range deviceFlags {
			if f.flag == fl.Name {
				raw, err := flagJSON(f.kind, *vals[f.flag])
				if err != nil && convErr == nil {
					convErr = usageErrorf("--%s: %v", f.flag, err)
				}
				set[f.field] = raw
			}
		}
	})
	if convErr != nil {
		return convErr
	}
	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var d *izy.Device
	switch sub {
	case "add":
		if len(pos) != 0 {
			return usageErrorf("device add takes no positional argument")
		}
		if *customer == "" {
			return usageErrorf("device add needs --customer ID")
		}
		d, err = addDevice(ctx, s.replica, *customer, set)
	case "edit":
		if len(pos) != 1 {
			return usageErrorf("device edit needs exactly one DEVICE_ID")
		}
		if len(set) == 0 {
			return usageErrorf("device edit needs at least one field to change")
		}
		d, err = editDevice(ctx, s.replica, pos[0], set)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.env.stdout, map[string]any{"device": d, "pending": true})
	}
	fmt.Fprintf(c.env.stdout, "device %s (%s, %s) stored offline; run izy sync to upload\n", d.ID, d.InventoryID, d.Designation)
	return nil
}

// flagJSON turns a flag's text into the JSON value of its field.
func flagJSON(kind, v string) (json.RawMessage, error) {
	switch kind {
	case "number":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return json.Marshal(f)
	case "int":
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return json.Marshal(n)
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return json.Marshal(b)
	case "id":
		if v == "" {
			return json.RawMessage("null"), nil
		}
	}
	return json.Marshal(v)
}

// applyFields sets fields (JSON values) on a copy of d, validates it and returns it with
// the fields as the validated device holds them.
func applyFields(d izy.Device, set map[string]json.RawMessage) (*izy.Device, map[string]json.RawMessage, error) {
	all, err := rawFields(d)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range set {
		all[k] = v
	}
	b, _ := json.Marshal(all)
	var nd izy.Device
	if err := json.Unmarshal(b, &nd); err != nil {
		return nil, nil, izy.Errorf(izy.EINVALID, "%v", err)
	}
	if err := nd.Validate(); err != nil {
		return nil, nil, err
	}
	after, err := rawFields(nd)
	if err != nil {
		return nil, nil, err
	}
	return &nd, after, nil
}

// writable are the device fields a client may send in a create.
var writable = []string{"id", "customer_id", "location_id", "inventory_id", "designation", "type", "manufacturer", "model",
	"serial_number", "protection_class", "cable_length_m", "cable_cross_section_mm2", "heating_elements", "heating_power_kw",
	"cost_centre", "department", "standard", "interval_months", "comment", "status", "tag", "medical"}

func addDevice(ctx context.Context, r *replica.Replica, customerID string, set map[string]json.RawMessage) (*izy.Device, error) {
	co, err := checkoutFor(ctx, r, customerID)
	if err != nil {
		return nil, err
	}
	d, after, err := applyFields(izy.Device{ID: izy.NewID(), CustomerID: customerID}, set)
	if err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	for _, k := range writable {
		fields[k] = after[k]
	}
	m := izy.Mutation{ID: izy.NewID(), Op: izy.OpCreate, Entity: "device", EntityID: d.ID, Fields: fields}
	return d, r.Record(ctx, replica.Change{CheckoutID: co.ID, Mutation: m, Records: []replica.LocalRecord{{Entity: "device", ID: d.ID, Value: d}}})
}

func editDevice(ctx context.Context, r *replica.Replica, id string, set map[string]json.RawMessage) (*izy.Device, error) {
	cur, err := r.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	co, err := checkoutFor(ctx, r, cur.CustomerID)
	if err != nil {
		return nil, err
	}
	before, err := rawFields(cur)
	if err != nil {
		return nil, err
	}
	d, after, err := applyFields(*cur, set)
	if err != nil {
		return nil, err
	}
	fields, base := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for k := range set {
		if !bytes.Equal(before[k], after[k]) {
			fields[k], base[k] = after[k], before[k]
		}
	}
	if len(fields) == 0 {
		return nil, izy.Errorf(izy.EINVALID, "nothing changes: the device has these values already")
	}
	op := izy.OpUpdate
	m := izy.Mutation{ID: izy.NewID(), Op: op, Entity: "device", EntityID: d.ID, BaseVersion: cur.Version, Fields: fields, Base: base}
	return d, r.Record(ctx, replica.Change{CheckoutID: co.ID, Mutation: m, Records: []replica.LocalRecord{{Entity: "device", ID: d.ID, Value: d}}})
}
