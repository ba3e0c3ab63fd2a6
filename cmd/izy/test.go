package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// TestCommand records a test offline: it evaluates it with the domain's rule sets
// against the local copy of the device, stores it and queues it for upload.
type TestCommand struct {
	env *env
	now func() time.Time // for tests; nil is time.Now
}

// Run runs the command.
func (c *TestCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	var measures measureFlags
	fs := newFlagSet(c.env, "test", "test DEVICE_ID --measure KIND=VALUEUNIT ... [--date YYYY-MM-DD] [--standard S] [--visual-ok=false] [--functional-ok=false]",
		`Record a test offline. It is evaluated at once with the same rules the server uses
(limits per measurement, overall result, next due date), stored in the local copy and
queued in the outbox; izy sync uploads it.

The visual inspection and the functional test count as passed unless you say otherwise:
record a failed one with --visual-ok=false or --functional-ok=false (the test then fails).`, &asJSON)
	fs.Var(&measures, "measure", "a reading KIND=VALUEUNIT, e.g. insulation_resistance=2.5MΩ (repeatable)")
	date := fs.String("date", "", "test date YYYY-MM-DD (default today)")
	standard := fs.String("standard", "", "standard to test against (default the device's, else VDE 0701-0702)")
	visual := fs.Bool("visual-ok", true, "the visual inspection passed")
	functional := fs.Bool("functional-ok", true, "the functional test passed")
	instrument := fs.String("instrument", "", "ID of the test instrument used")
	comment := fs.String("comment", "", "comment")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageErrorf("test needs exactly one DEVICE_ID")
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	today := izy.DateOf(now())
	t := &izy.Test{ID: izy.NewID(), DeviceID: pos[0], Date: today, Standard: *standard,
		VisualOK: *visual, FunctionalOK: *functional, Comment: *comment, CreatedAt: now().UTC()}
	if *date != "" {
		if t.Date, err = izy.ParseDate(*date); err != nil {
			return err
		}
	}
	if *instrument != "" {
		if !izy.ValidID(*instrument) {
			return usageErrorf("--instrument must be an instrument ID")
		}
		t.InstrumentID = instrument
	}
	for _, m := range measures {
		pm, err := parseMeasure(m)
		if err != nil {
			return err
		}
		t.Measurements = append(t.Measurements, pm)
	}
	if len(t.Measurements) > izy.MaxMeasurements {
		return usageErrorf("a test has at most %d measurements", izy.MaxMeasurements)
	}

	s, err := c.env.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := recordTest(ctx, s.replica, t, today)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.env.stdout, res)
	}
	w := newTable(c.env.stdout)
	fmt.Fprintf(w, "device %s, %s, %s\n", t.DeviceID, t.Date, t.Standard)
	fmt.Fprintln(w, "MEASUREMENT\tVALUE\tLIMIT\tRESULT")
	for _, m := range t.Measurements {
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\n", m.Kind, strconv.FormatFloat(m.Value, 'f', -1, 64), m.Unit, limitText(m.Limit), m.Result)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.env.stdout, "visual %s, functional %s\nresult: %s, next due %s\nstored offline as test %s; run izy sync to upload\n",
		okText(t.VisualOK), okText(t.FunctionalOK), t.Result, t.NextDue, t.ID)
	return nil
}

// testResult is the answer of izy test: the shape POST /api/v1/tests answers.
type testResult struct {
	*izy.Test
	Pending bool `json:"pending"` // queued in the outbox, not yet on the server
}

// recordTest evaluates t against the replica's device and stores the test, the device's
// new due date and an op "test" mutation in one local transaction.
func recordTest(ctx context.Context, r *replica.Replica, t *izy.Test, today izy.Date) (*testResult, error) {
	d, err := r.Device(ctx, t.DeviceID)
	if err != nil {
		return nil, err
	}
	if d.Status == izy.DeviceRetired {
		return nil, izy.Errorf(izy.ECONFLICT, "the device is retired; set its status to active (izy device edit %s --status active) before testing it", d.ID)
	}
	co, err := checkoutFor(ctx, r, d.CustomerID)
	if err != nil {
		return nil, err
	}
	rs, err := izy.RuleSetFor(izy.StandardFor(t, d))
	if err != nil {
		return nil, err
	}
	if err := rs.EvaluateAt(d, t, today); err != nil {
		return nil, err
	}
	t.CustomerID = d.CustomerID
	izy.ApplyTest(d, t)

	in := client.TestInput{ID: t.ID, DeviceID: t.DeviceID, Date: t.Date, Standard: t.Standard, InstrumentID: t.InstrumentID,
		VisualOK: t.VisualOK, FunctionalOK: t.FunctionalOK, Comment: t.Comment, Measurements: []client.MeasurementInput{}}
	for _, m := range t.Measurements {
		in.Measurements = append(in.Measurements, client.MeasurementInput{Kind: m.Kind, Value: m.Value, Unit: m.Unit, Parameters: m.Parameters})
	}
	fields, err := rawFields(in)
	if err != nil {
		return nil, err
	}
	m := izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: t.ID, Fields: fields, CreatedAt: t.CreatedAt}
	err = r.Record(ctx, replica.Change{CheckoutID: co.ID, Mutation: m, Records: []replica.LocalRecord{
		{Entity: "test", ID: t.ID, Value: t},
		{Entity: "device", ID: d.ID, Value: d},
	}})
	if err != nil {
		return nil, err
	}
	return &testResult{Test: t, Pending: true}, nil
}

// rawFields turns a struct into the field map of a mutation.
func rawFields(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}

func limitText(l *izy.Limit) string {
	switch {
	case l == nil:
		return "-"
	case l.Min != nil:
		return "≥ " + strconv.FormatFloat(*l.Min, 'f', -1, 64) + " " + l.Unit
	case l.Max != nil:
		return "≤ " + strconv.FormatFloat(*l.Max, 'f', -1, 64) + " " + l.Unit
	}
	return "-"
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}
