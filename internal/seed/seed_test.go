package seed_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/seed"
)

// recorder keeps what Generate writes and checks the order foreign keys need.
type recorder struct {
	customers   map[string]*izy.Customer
	locations   map[string]*izy.Location
	instruments map[string]*izy.Instrument
	users       map[string]*izy.User
	devices     map[string]*izy.Device
	tests       []*izy.Test
	order       []string
}

func newRecorder() *recorder {
	return &recorder{
		customers: map[string]*izy.Customer{}, locations: map[string]*izy.Location{},
		instruments: map[string]*izy.Instrument{}, users: map[string]*izy.User{},
		devices: map[string]*izy.Device{},
	}
}

func (r *recorder) Customer(c *izy.Customer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	r.customers[c.ID] = c
	r.order = append(r.order, "customer:"+c.ID)
	return nil
}

func (r *recorder) User(u *izy.User, hash string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	for _, g := range u.Grants {
		if r.customers[g.CustomerID] == nil {
			return fmt.Errorf("user %s: grant for unknown customer", u.Username)
		}
	}
	r.users[u.ID] = u
	return nil
}

func (r *recorder) Instrument(i *izy.Instrument) error {
	if err := i.Validate(); err != nil {
		return err
	}
	r.instruments[i.ID] = i
	return nil
}

func (r *recorder) Location(l *izy.Location) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if r.customers[l.CustomerID] == nil {
		return fmt.Errorf("location %s: unknown customer", l.Name)
	}
	if l.ParentID != nil {
		p := r.locations[*l.ParentID]
		if p == nil {
			return fmt.Errorf("location %s: unknown parent", l.Name)
		}
		if err := l.ValidateParent(p); err != nil {
			return err
		}
	}
	r.locations[l.ID] = l
	return nil
}

func (r *recorder) Device(d *izy.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if l := r.locations[*d.LocationID]; l == nil || l.CustomerID != d.CustomerID || l.Kind != izy.LocationRoom {
		return fmt.Errorf("device %s: location is not a room of its customer", d.InventoryID)
	}
	if r.devices[d.ID] != nil {
		return fmt.Errorf("device %s: duplicate id", d.InventoryID)
	}
	r.devices[d.ID] = d
	return nil
}

func (r *recorder) Test(t *izy.Test) error {
	d := r.devices[t.DeviceID]
	if d == nil || d.CustomerID != t.CustomerID {
		return fmt.Errorf("test of unknown device")
	}
	if r.users[t.InspectorID] == nil || t.InstrumentID == nil || r.instruments[*t.InstrumentID] == nil {
		return fmt.Errorf("test names an unknown inspector or instrument")
	}
	if n := len(t.Measurements); (n < 1 || n > 6) && t.Result == izy.ResultPass {
		return fmt.Errorf("test has %d measurements", n)
	}
	r.tests = append(r.tests, t)
	return nil
}

var today = izy.Date{Year: 2025, Month: 11, Day: 24}

func TestGenerate(t *testing.T) {
	r := newRecorder()
	var progress []seed.Stats
	st, err := seed.Generate(context.Background(), r, seed.Options{
		Devices: 2000, Seed: 1, Today: today,
		Progress: func(s seed.Stats) { progress = append(progress, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Devices, int64(2000); got != want {
		t.Fatalf("devices = %d, want %d", got, want)
	}
	if got, want := int64(len(r.devices)), st.Devices; got != want {
		t.Fatalf("recorded devices = %d, stats say %d", got, want)
	}
	if got, want := int64(len(r.tests)), st.Tests; got != want {
		t.Fatalf("recorded tests = %d, stats say %d", got, want)
	}
	if len(progress) < 5 || progress[len(progress)-1].Devices != st.Devices {
		t.Fatalf("progress = %d reports, last %+v", len(progress), progress[len(progress)-1])
	}

	// Every colour shows on the dashboard, for devices and instruments.
	for name, c := range map[string]izy.ColourCounts{"devices": st.Colours, "instruments": st.InstrumentColours} {
		if c.Green == 0 || c.Yellow == 0 || c.Orange == 0 || c.Red == 0 {
			t.Errorf("%s colours = %+v, want all four", name, c)
		}
	}
	if st.Colours.Green < st.Colours.Red {
		t.Errorf("colours = %+v: most devices should be in date", st.Colours)
	}

	// Recount colours from the devices, and check each device agrees with its last test.
	var counts izy.ColourCounts
	lastTest := map[string]*izy.Test{}
	classes := map[izy.ProtectionClass]int{}
	medical, heating, never := 0, 0, 0
	for _, tt := range r.tests {
		if p := lastTest[tt.DeviceID]; p == nil || !tt.Date.Before(p.Date) {
			lastTest[tt.DeviceID] = tt
		}
	}
	for _, d := range r.devices {
		classes[d.ProtectionClass]++
		if d.Medical != nil {
			medical++
			if d.Medical.UDI == "" {
				t.Errorf("medical device %s has no UDI", d.InventoryID)
			}
		}
		if d.HeatingPowerKW != nil {
			heating++
		}
		lt := lastTest[d.ID]
		if lt == nil {
			never++
			if !d.NextDue.IsZero() || d.LastResult != "" {
				t.Errorf("untested device %s has next due %s, last result %q", d.InventoryID, d.NextDue, d.LastResult)
			}
		} else if d.NextDue != lt.NextDue || d.LastResult != lt.Result || d.LastTestDate != lt.Date {
			t.Errorf("device %s: next due %s, last %s %s; last test %s %s due %s",
				d.InventoryID, d.NextDue, d.LastTestDate, d.LastResult, lt.Date, lt.Result, lt.NextDue)
		}
		if d.Status == izy.DeviceActive {
			switch izy.DeviceColour(d, today, izy.DefaultWindows) {
			case izy.Green:
				counts.Green++
			case izy.Yellow:
				counts.Yellow++
			case izy.Orange:
				counts.Orange++
			case izy.Red:
				counts.Red++
			}
		}
	}
	if diff := cmp.Diff(st.Colours, counts); diff != "" {
		t.Errorf("colour stats differ from the devices (-stats +devices):\n%s", diff)
	}
	for _, c := range []izy.ProtectionClass{izy.ClassI, izy.ClassII, izy.ClassIII} {
		if classes[c] == 0 {
			t.Errorf("no device of protection class %s", c)
		}
	}
	if medical == 0 || heating == 0 || never == 0 {
		t.Errorf("medical = %d, heating = %d, never tested = %d; want some of each", medical, heating, never)
	}

	// Tests reach back three years, some failed, and every result is the rule set's.
	oldest := today
	failed := 0
	for _, tt := range r.tests {
		if tt.Date.Before(oldest) {
			oldest = tt.Date
		}
		if tt.Date.After(today) {
			t.Fatalf("test dated %s after today", tt.Date)
		}
		if tt.Result == izy.ResultFail {
			failed++
		}
		rs, err := izy.RuleSetFor(tt.Standard)
		if err != nil {
			t.Fatal(err)
		}
		again := *tt
		if err := rs.EvaluateAt(r.devices[tt.DeviceID], &again, today); err != nil {
			t.Fatal(err)
		}
		if again.Result != tt.Result {
			t.Fatalf("test %s: stored result %s, rule set says %s", tt.ID, tt.Result, again.Result)
		}
	}
	if oldest.After(today.AddMonths(-30)) {
		t.Errorf("oldest test %s: want about three years of history", oldest)
	}
	if failed == 0 || int64(failed) != st.FailedTests {
		t.Errorf("failed tests = %d, stats say %d; want some", failed, st.FailedTests)
	}
	if n := len(r.locations); n < 4*len(r.customers) {
		t.Errorf("%d locations for %d customers: want four-level trees", n, len(r.customers))
	}
}

func TestGenerateDeterministic(t *testing.T) {
	run := func() *recorder {
		r := newRecorder()
		if _, err := seed.Generate(context.Background(), r, seed.Options{Devices: 300, Seed: 42, Today: today}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := run(), run()
	if diff := cmp.Diff(a.devices, b.devices); diff != "" {
		t.Fatalf("same seed, different devices:\n%s", diff)
	}
	if diff := cmp.Diff(a.tests, b.tests); diff != "" {
		t.Fatalf("same seed, different tests:\n%s", diff)
	}
	r := newRecorder()
	if _, err := seed.Generate(context.Background(), r, seed.Options{Devices: 300, Seed: 43, Today: today}); err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(a.devices, r.devices) {
		t.Fatal("different seeds gave the same devices")
	}
}

func TestGenerateMeasurementBudget(t *testing.T) {
	for _, want := range []int{5000, 10000, 30000} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			st, err := seed.Generate(context.Background(), newRecorder(), seed.Options{
				Devices: 1000, Measurements: want, Seed: 7, Today: today})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Measurements; got < int64(want)*9/10 || got > int64(want)*12/10 {
				t.Errorf("measurements = %d, want about %d", got, want)
			}
		})
	}
}

func TestGenerateBadOptions(t *testing.T) {
	for _, o := range []seed.Options{
		{Devices: -1},
		{Devices: 10, Customers: 11},
		{YearsOfTests: -1},
		{Measurements: -5},
	} {
		if _, err := seed.Generate(context.Background(), newRecorder(), o); err == nil {
			t.Errorf("Generate(%+v) succeeded, want an error", o)
		}
	}
}

func TestGenerateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := seed.Generate(ctx, newRecorder(), seed.Options{Devices: 100, Today: today}); err == nil {
		t.Fatal("Generate on a cancelled context succeeded")
	}
}
