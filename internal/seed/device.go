package seed

import (
	"fmt"
	"math"
	"slices"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// probe is one measurement a device's test sequence takes every time, with the value the
// device usually shows; each test varies it a little.
type probe struct {
	kind   string
	unit   string
	base   float64
	digits int // decimals shown by the instrument
	params map[string]string
}

// state is how a device stands on Today; it decides the date of its last test.
type state int

const (
	stateGreen state = iota
	stateYellow
	stateOrange
	stateOverdue
	stateFailed
	stateNeverTested
)

func (g *generator) pickState() state {
	switch r := g.rng.Float64(); {
	case r < 0.03:
		return stateNeverTested
	case r < 0.07:
		return stateFailed
	case r < 0.15:
		return stateOverdue
	case r < 0.21:
		return stateOrange
	case r < 0.31:
		return stateYellow
	}
	return stateGreen
}

// makeDevice writes the n-th device of customer c, placed in room, and its history of
// tests by inspector.
func (g *generator) makeDevice(c *izy.Customer, ck *customerKind, inspector *izy.User, room *string, n int) error {
	kinds := catalogue[pick(g, ck.catalogue)]
	k := &kinds[g.rng.IntN(len(kinds))]
	maker := pick(g, k.makers)
	g.serial++
	d := &izy.Device{
		ID:              g.id(),
		CustomerID:      c.ID,
		LocationID:      room,
		InventoryID:     fmt.Sprintf("%s-%05d", c.Number, n),
		Designation:     k.designation,
		Type:            k.typ,
		Manufacturer:    maker[0],
		Model:           maker[1],
		SerialNumber:    fmt.Sprintf("%s%08d", serialPrefix(maker[0]), (g.serial*104729)%100000000),
		ProtectionClass: k.class,
		CableLengthM:    pick(g, k.cable),
		CableCrossMM2:   k.cross,
		CostCentre:      fmt.Sprintf("KST %d", 4000+g.rng.IntN(60)*10),
		Department:      pick(g, departments),
		IntervalMonths:  k.interval,
		Comment:         pick(g, comments),
		Status:          izy.DeviceActive,
		Tag:             fmt.Sprintf("IZY%010d", g.serial),
		Version:         1,
	}
	if d.IntervalMonths == 0 {
		d.IntervalMonths = ck.interval
	}
	if d.CableCrossMM2 == 0 {
		d.CableCrossMM2 = 0.75
		if d.CableLengthM > 3 {
			d.CableCrossMM2 = 1.5
		}
	}
	if k.heatingKW[1] > 0 {
		kw := math.Round(g.between(k.heatingKW[0], k.heatingKW[1]+0.001)*10) / 10
		d.HeatingElements, d.HeatingPowerKW = true, &kw
	}
	if k.medical != nil {
		d.Standard = g.medStandard
		d.Medical = &izy.MedicalInfo{
			UDI:          fmt.Sprintf("(01)0%013d(21)%s", 4000000000000+g.rng.Int64N(999999999999), d.SerialNumber),
			AppliedB:     k.medical[0],
			AppliedBF:    k.medical[1],
			AppliedCF:    k.medical[2],
			NetworkAware: g.chance(0.3),
		}
	}
	if g.chance(0.015) {
		d.Status = izy.DeviceRetired
	}

	tests, err := g.history(d, inspector)
	if err != nil {
		return err
	}
	if len(tests) > 0 {
		last := tests[len(tests)-1]
		d.LastTestDate, d.LastResult, d.NextDue = last.Date, last.Result, last.NextDue
		d.CreatedAt = g.stamp(tests[0].Date.AddDays(-g.rng.IntN(60)))
	} else {
		d.CreatedAt = g.stamp(g.o.Today.AddDays(-g.rng.IntN(120)))
	}
	d.UpdatedAt = d.CreatedAt
	// Count before handing rows over: the loader may fill in fields from then on.
	if d.Status == izy.DeviceActive {
		count(&g.stats.Colours, izy.DeviceColour(d, g.o.Today, izy.DefaultWindows))
	}
	if err := g.l.Device(d); err != nil {
		return fmt.Errorf("seed device %s: %w", d.InventoryID, err)
	}
	g.stats.Devices++
	for _, t := range tests {
		g.stats.Tests++
		g.stats.Measurements += int64(len(t.Measurements))
		if t.Result == izy.ResultFail {
			g.stats.FailedTests++
		}
		if err := g.l.Test(t); err != nil {
			return fmt.Errorf("seed test of %s: %w", d.InventoryID, err)
		}
	}
	g.devices++
	if g.o.Progress != nil && g.devices%int64(g.o.ProgressEvery) == 0 && g.devices < int64(g.o.Devices) {
		g.stats.Elapsed = time.Since(g.start)
		g.o.Progress(g.stats)
	}
	return nil
}

func serialPrefix(maker string) string {
	b := []byte(asciiLower(maker))
	for len(b) < 2 {
		b = append(b, 'x')
	}
	return string([]byte{b[0] - 'a' + 'A', b[1] - 'a' + 'A'})
}

// history returns the device's tests, oldest first, evaluated with the real rule sets.
func (g *generator) history(d *izy.Device, inspector *izy.User) ([]*izy.Test, error) {
	st := g.pickState()
	if st == stateNeverTested {
		return nil, nil
	}
	probes := g.probes(d)
	today := g.o.Today
	interval := d.IntervalMonths
	var last izy.Date
	dueIn := func(lo, hi int) izy.Date { return today.AddDays(lo + g.rng.IntN(hi-lo+1)).AddMonths(-interval) }
	switch st {
	case stateGreen:
		span := daysBetween(today, today.AddMonths(interval))
		if span <= 31 {
			last = dueIn(8, 30) // intervals of a month cannot be green for long
		} else {
			last = dueIn(31, span)
		}
	case stateYellow:
		last = dueIn(8, 30)
	case stateOrange:
		last = dueIn(0, 7)
	case stateOverdue:
		last = dueIn(-200, -1)
	case stateFailed:
		last = today.AddDays(-g.rng.IntN(45))
	}

	// Walk back one interval at a time, as testers come a little early or late.
	cutoff := today.AddMonths(-12 * g.o.YearsOfTests)
	// With a measurement budget, the history is as long as the budget needs: the
	// measurements wanted by the end of this device, less those made so far.
	var budget int64
	if g.o.Measurements > 0 {
		budget = int64(g.o.Measurements)*(g.devices+1)/int64(g.o.Devices) - g.stats.Measurements
	}
	dates := []izy.Date{last}
	for len(dates) < 120 {
		prev := dates[len(dates)-1].AddMonths(-interval).AddDays(g.rng.IntN(22) - 14)
		if g.o.Measurements > 0 && int64((len(dates)+1)*len(probes)) > budget ||
			g.o.Measurements == 0 && prev.Before(cutoff) {
			break
		}
		dates = append(dates, prev)
	}
	slices.Reverse(dates)

	var tests []*izy.Test
	for i, date := range dates {
		fail := st == stateFailed && i == len(dates)-1
		// Some earlier tests failed too; the device was repaired and passed a retest.
		retest := false
		if !fail && i < len(dates)-1 && g.chance(0.04) {
			fail, retest = true, true
		}
		t, err := g.test(d, inspector, probes, date, fail)
		if err != nil {
			return nil, err
		}
		tests = append(tests, t)
		if retest {
			again := date.AddDays(1 + g.rng.IntN(10))
			if again.Before(dates[i+1]) && !again.After(today) {
				t, err := g.test(d, inspector, probes, again, false)
				if err != nil {
					return nil, err
				}
				tests = append(tests, t)
			}
		}
	}
	return tests, nil
}

func daysBetween(a, b izy.Date) int { return int(b.Time().Sub(a.Time()).Hours() / 24) }

// probes returns the device's test sequence: one to six measurements, depending on its
// protection class, as a tester's instrument would run them.
func (g *generator) probes(d *izy.Device) []probe {
	var ps []probe
	insulation := probe{kind: izy.KindInsulationResistance, unit: "MΩ", digits: 1,
		params: map[string]string{"test_voltage": "500 V"}}
	switch d.ProtectionClass {
	case izy.ClassI:
		points := 1
		if g.chance(0.3) {
			points = 2
		}
		cable := d.CableLengthM / (56 * d.CableCrossMM2)
		for p := range points {
			pr := probe{kind: izy.KindProtectiveConductorResistance, unit: "Ω", digits: 3,
				base:   cable + g.between(0.02, 0.08),
				params: map[string]string{"test_current": "200 mA", "point": []string{"Gehäuse", "Gehäuseschraube"}[p]}}
			if g.chance(0.3) {
				pr.unit, pr.base, pr.digits = "mΩ", pr.base*1000, 0
			}
			ps = append(ps, pr)
		}
		insulation.base = g.between(20, 550)
		if d.HeatingElements {
			insulation.base = g.between(2, 60)
		}
		ps = append(ps, insulation)
		if g.chance(0.7) {
			ps = append(ps, probe{kind: izy.KindProtectiveConductorCurrent, unit: "mA", digits: 2,
				base: g.between(0.02, 0.9), params: map[string]string{"method": "differential"}})
		} else {
			ps = append(ps, probe{kind: izy.KindEquivalentLeakageCurrent, unit: "mA", digits: 2,
				base: g.between(0.05, 1.2), params: map[string]string{"method": "alternative"}})
		}
		if g.chance(0.4) {
			ps = append(ps, g.touchCurrent())
		}
	case izy.ClassII:
		insulation.base = g.between(50, 550)
		ps = append(ps, insulation, g.touchCurrent())
		if g.chance(0.25) {
			tc := g.touchCurrent()
			tc.params = map[string]string{"point": "Bedienteil"}
			ps = append(ps, tc)
		}
	case izy.ClassIII:
		insulation.base = g.between(5, 200)
		insulation.params = map[string]string{"test_voltage": "250 V"}
		ps = append(ps, insulation)
	}
	return ps
}

func (g *generator) touchCurrent() probe {
	if g.chance(0.5) {
		return probe{kind: izy.KindTouchCurrent, unit: "µA", digits: 0, base: g.between(5, 90),
			params: map[string]string{"point": "Gehäuse"}}
	}
	return probe{kind: izy.KindTouchCurrent, unit: "mA", digits: 3, base: g.between(0.005, 0.09),
		params: map[string]string{"point": "Gehäuse"}}
}

// test makes one evaluated test of d on date. When fail is set, the test fails: a visual
// defect or one measurement out of its limit.
func (g *generator) test(d *izy.Device, inspector *izy.User, probes []probe, date izy.Date, fail bool) (*izy.Test, error) {
	standard := d.Standard
	if standard == "" {
		standard = g.oldStandard
		if date.Year >= 2022 {
			standard = g.newStandard
		}
	}
	// Standard stays empty: Evaluate writes the rule set's canonical name, and saves
	// looking the name up again for every test.
	t := &izy.Test{
		ID:           g.id(),
		DeviceID:     d.ID,
		CustomerID:   d.CustomerID,
		Date:         date,
		InspectorID:  inspector.ID,
		InstrumentID: &pick(g, g.instruments).ID,
		VisualOK:     true,
		FunctionalOK: true,
		Measurements: make([]izy.Measurement, len(probes)),
		CreatedAt:    g.stamp(date),
	}
	for i, p := range probes {
		t.Measurements[i] = izy.Measurement{Kind: p.kind, Unit: p.unit, Parameters: p.params,
			Value: round(p.base*g.between(0.9, 1.1), p.digits)}
	}
	bad := -1 // the measurement that fails, if any
	if fail {
		if g.chance(0.3) {
			t.VisualOK = false
		} else {
			bad = g.rng.IntN(len(probes))
		}
		t.Comment = pick(g, failReasons)
	}
	rs, err := g.ruleSet(standard)
	if err != nil {
		return nil, err
	}
	if err := rs.EvaluateAt(d, t, g.o.Today); err != nil {
		return nil, fmt.Errorf("seed: evaluate test of %s: %w", d.InventoryID, err)
	}
	// Values are typical of the device, but the rule set decides; move any value that
	// came out on the wrong side of its limit to the right side, and evaluate again.
	fixed := false
	for i := range t.Measurements {
		m := &t.Measurements[i]
		want := izy.ResultPass
		if i == bad {
			want = izy.ResultFail
		}
		if m.Result == want || m.Limit == nil {
			continue
		}
		fixed = true
		switch {
		case m.Limit.Max != nil && want == izy.ResultPass:
			m.Value = round(*m.Limit.Max*g.between(0.3, 0.8), 3)
		case m.Limit.Max != nil:
			m.Value = round(*m.Limit.Max*g.between(1.2, 3), 3)
		case m.Limit.Min != nil && want == izy.ResultPass:
			m.Value = round(*m.Limit.Min*g.between(2, 50), 2)
		case m.Limit.Min != nil:
			m.Value = round(*m.Limit.Min*g.between(0.1, 0.7), 3)
		}
		m.Unit = m.Limit.Unit
	}
	if fixed {
		t.Standard = ""
		if err := rs.EvaluateAt(d, t, g.o.Today); err != nil {
			return nil, fmt.Errorf("seed: evaluate test of %s: %w", d.InventoryID, err)
		}
	}
	return t, nil
}

func (g *generator) ruleSet(standard string) (*izy.RuleSet, error) {
	if rs, ok := g.rules[standard]; ok {
		return rs, nil
	}
	rs, err := izy.RuleSetFor(standard)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if g.rules == nil {
		g.rules = map[string]*izy.RuleSet{}
	}
	g.rules[standard] = rs
	return rs, nil
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}
