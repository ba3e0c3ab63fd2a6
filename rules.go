package izytroniq

import (
	"math"
	"slices"
	"strings"
)

// RuleSet is the limit values of one edition of a test standard. Limit values are data
// (the tables below), never scattered through code; the code only knows the few shapes a
// limit can take (fixed, stepped by lead length, derived from the lead's conductor, grown
// with heating power).
type RuleSet struct {
	Standard string // canonical name, e.g. "VDE 0701-0702:2008"
	Source   string // the document the values come from
	limits   []limitRule
}

// DefaultStandard is used when neither the test nor the device names one.
const DefaultStandard = "VDE 0701-0702:2008"

// limitRule is one row of a limit table. Values are in the kind's limit unit (Ω for the
// protective-conductor resistance, MΩ for insulation, mA for currents), as printed in the
// standards. A row gives either a minimum or a maximum. A heating row (for devices with
// heating elements) wins over the plain row of the same kind and class.
type limitRule struct {
	kind    string
	classes []ProtectionClass
	heating bool
	min     float64
	max     float64
	steps   *leadSteps     // max grows with the lead length in steps (2008)
	lead    *leadConductor // max follows from the lead's length and cross-section (2021)
	power   *heatingPower  // max grows with the heating power
	clause  string         // where the row comes from, for people auditing a verdict
}

// leadSteps is the 2008 protective-conductor rule: the base maximum holds for leads up to
// baseM; each further stepM or part of it adds stepOhm; never more than capOhm.
type leadSteps struct{ baseM, stepM, stepOhm, capOhm float64 }

// leadConductor is the 2021 protective-conductor rule. The base maximum (0.3 Ω) holds for
// leads up to baseM with a cross-section up to baseMM2; otherwise the limit follows from
// the conductor, R = l/(κ·A), kept within [floorOhm, capOhm].
//
// How the 0.3 Ω base and the formula combine is our reading, since the bare formula alone
// would be absurd: 5 m of 1.5 mm² copper is only 5/(56·1.5) ≈ 0.06 Ω, so the 0.3 Ω base is
// mostly plug, terminals and internal wiring. Applying the bare formula to a 6 m lead of
// 1.5 mm² would drop its limit from 0.3 Ω to 0.1 Ω, failing sound devices for one extra
// metre. Hence:
//   - no lead (length 0), or a lead up to 5 m and up to 1.5 mm²: the base, 0.3 Ω;
//   - a longer lead up to 1.5 mm²: the base plus the resistance of the length beyond 5 m,
//     0.3 Ω + (l − 5 m)/(κ·A), at most 1 Ω. This is the 2008 "+0.1 Ω per 7.5 m" made exact
//     (7.5 m of 1.5 mm² is 0.089 Ω) and never tighter than the base;
//   - a lead of a larger cross-section: l/(κ·A) within [0.1 Ω, 1 Ω]. A thick lead must
//     measure low, so the base allowance does not apply; this is the change instrument
//     makers describe (300 mΩ became 100 mΩ as the smallest limit for larger sections).
type leadConductor struct{ baseM, baseMM2, kappa, floorOhm, capOhm float64 }

// heatingPower raises a current limit for heating elements above aboveKW to mAPerKW per
// kW of heating power, at most capMA.
type heatingPower struct{ aboveKW, mAPerKW, capMA float64 }

var (
	classI   = []ProtectionClass{ClassI}
	classII  = []ProtectionClass{ClassII}
	classIII = []ProtectionClass{ClassIII}
	allClass = []ProtectionClass{ClassI, ClassII, ClassIII}
)

// Clause numbers follow the German editions named in Source; check them against the
// licensed text before quoting them to an auditor.

// limits2008 is DIN VDE 0701-0702:2008-06.
var limits2008 = []limitRule{
	{kind: KindProtectiveConductorResistance, classes: classI, max: 0.3,
		steps:  &leadSteps{baseM: 5, stepM: 7.5, stepOhm: 0.1, capOhm: 1.0},
		clause: "5.3 protective conductor: 0.3 Ω up to 5 m, +0.1 Ω per further 7.5 m, at most 1 Ω"},
	{kind: KindInsulationResistance, classes: classI, min: 1.0, clause: "5.4 insulation resistance, class I"},
	{kind: KindInsulationResistance, classes: classI, heating: true, min: 0.3, clause: "5.4 insulation resistance, class I with heating elements"},
	{kind: KindInsulationResistance, classes: classII, min: 2.0, clause: "5.4 insulation resistance, class II"},
	{kind: KindInsulationResistance, classes: classIII, min: 0.25, clause: "5.4 insulation resistance, class III"},
	{kind: KindProtectiveConductorCurrent, classes: classI, max: 3.5,
		power:  &heatingPower{aboveKW: 3.5, mAPerKW: 1, capMA: 10},
		clause: "5.5 protective conductor current: 3.5 mA; heating > 3.5 kW: 1 mA/kW, at most 10 mA"},
	{kind: KindTouchCurrent, classes: allClass, max: 0.5, clause: "5.6 touch current"},
	// The equivalent (alternative) leakage current stands in for the protective conductor
	// current on class I (5.5) and for the touch current on class II (5.6), with their limits.
	{kind: KindEquivalentLeakageCurrent, classes: classI, max: 3.5,
		power:  &heatingPower{aboveKW: 3.5, mAPerKW: 1, capMA: 10},
		clause: "5.5 alternative method, class I"},
	{kind: KindEquivalentLeakageCurrent, classes: classII, max: 0.5, clause: "5.6 alternative method, class II"},
}

// limits2021 is DIN EN 50678 (VDE 0701):2021-02 after repair and DIN EN 50699
// (VDE 0702):2021-06 for recurrent tests; they share their limit values. Only the
// protective-conductor rule changed from 2008.
var limits2021 = []limitRule{
	{kind: KindProtectiveConductorResistance, classes: classI, max: 0.3,
		lead:   &leadConductor{baseM: 5, baseMM2: 1.5, kappa: 56, floorOhm: 0.1, capOhm: 1.0},
		clause: "5.3 protective conductor: 0.3 Ω up to 5 m and 1.5 mm², else from l/(κ·A), κ = 56 m/(Ω·mm²) copper, 0.1–1 Ω"},
	{kind: KindInsulationResistance, classes: classI, min: 1.0, clause: "5.4, table 1: insulation resistance, class I"},
	{kind: KindInsulationResistance, classes: classI, heating: true, min: 0.3, clause: "5.4, table 1: class I with heating elements"},
	{kind: KindInsulationResistance, classes: classII, min: 2.0, clause: "5.4, table 1: insulation resistance, class II"},
	{kind: KindInsulationResistance, classes: classIII, min: 0.25, clause: "5.4, table 1: insulation resistance, class III"},
	{kind: KindProtectiveConductorCurrent, classes: classI, max: 3.5,
		power:  &heatingPower{aboveKW: 3.5, mAPerKW: 1, capMA: 10},
		clause: "5.5 protective conductor current: 3.5 mA; heating > 3.5 kW: 1 mA/kW, at most 10 mA"},
	{kind: KindTouchCurrent, classes: allClass, max: 0.5, clause: "5.6 touch current"},
	{kind: KindEquivalentLeakageCurrent, classes: classI, max: 3.5,
		power:  &heatingPower{aboveKW: 3.5, mAPerKW: 1, capMA: 10},
		clause: "5.5 alternative method, class I"},
	{kind: KindEquivalentLeakageCurrent, classes: classII, max: 0.5, clause: "5.6 alternative method, class II"},
}

// ruleSets are the editions we know, in the order Standards lists them, each with the
// names people and instruments write for it. The EN was ratified in 2020 and published
// as DIN EN in 2021, so both years name the same text.
var ruleSets = []struct {
	set     RuleSet
	aliases []string
}{
	{RuleSet{DefaultStandard, "DIN VDE 0701-0702 (VDE 0701-0702):2008-06", limits2008},
		[]string{"DIN VDE 0701-0702:2008", "DIN VDE 0701-0702:2008-06", "VDE 0701-0702:2008-06",
			"VDE 0701-0702", "DIN VDE 0701-0702"}},
	{RuleSet{"DIN EN 50678:2021", "DIN EN 50678 (VDE 0701):2021-02, test after repair", limits2021},
		[]string{"EN 50678:2021", "EN 50678:2020", "DIN EN 50678:2021-02", "DIN EN 50678", "EN 50678",
			"DIN EN 50678 (VDE 0701):2021", "DIN EN 50678 (VDE 0701):2021-02", "VDE 0701:2021"}},
	{RuleSet{"DIN EN 50699:2021", "DIN EN 50699 (VDE 0702):2021-06, recurrent test", limits2021},
		[]string{"EN 50699:2021", "EN 50699:2020", "DIN EN 50699:2021-06", "DIN EN 50699", "EN 50699",
			"DIN EN 50699 (VDE 0702):2021", "DIN EN 50699 (VDE 0702):2021-06", "VDE 0702:2021"}},
}

// standardKey folds the ways one name gets typed (case, dash variants, spaces) together.
func standardKey(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			return '-'
		}
		return r
	}, strings.ToLower(s))
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(strings.ReplaceAll(s, " :", ":"), ": ", ":")
}

// Standards returns the canonical names of the known standard editions.
func Standards() []string {
	names := make([]string, len(ruleSets))
	for i, r := range ruleSets {
		names[i] = r.set.Standard
	}
	return names
}

// RuleSetFor returns the rule set of a standard name (canonical name or alias, any case).
func RuleSetFor(standard string) (*RuleSet, error) {
	key := standardKey(standard)
	for _, r := range ruleSets {
		if key == standardKey(r.set.Standard) || slices.ContainsFunc(r.aliases, func(a string) bool { return key == standardKey(a) }) {
			rs := r.set // a copy: callers cannot alter the shared tables' names
			return &rs, nil
		}
	}
	return nil, Errorf(EINVALID, "unknown standard %q; known: %s", truncate(standard, 60), strings.Join(Standards(), ", "))
}

// StandardFor returns the standard a test is evaluated against: the test's own, else the
// device's, else DefaultStandard.
func StandardFor(t *Test, d *Device) string {
	switch {
	case t != nil && strings.TrimSpace(t.Standard) != "":
		return t.Standard
	case d != nil && strings.TrimSpace(d.Standard) != "":
		return d.Standard
	}
	return DefaultStandard
}

// Bounds of a test as the server accepts it.
const (
	maxCommentChars   = 4000
	maxParameters     = 20
	maxParameterKey   = 64
	maxParameterValue = 200
)

// Evaluate is EvaluateAt on the current date.
func (rs *RuleSet) Evaluate(d *Device, t *Test) error { return rs.EvaluateAt(d, t, Today()) }

// EvaluateAt validates t for device d, fills each measurement's limit and result, and
// sets the test's canonical standard, overall result and next due date. today bounds the
// test date (at most one day ahead, for inspectors working across time zones) and is a
// parameter so that tests are deterministic; a zero today means Today().
//
// Values and units stay as the inspector gave them; only the comparison is done in the
// limit's unit. The test fails when any measurement fails or the visual inspection or
// the functional test did not pass. A test without measurements is accepted for a
// class III device (which may need none) and for a test that failed the visual or
// functional check (testing stops at the first defect); for class I and II a pass needs
// at least one measurement, so no device passes on looks alone. On error t is unchanged.
func (rs *RuleSet) EvaluateAt(d *Device, t *Test, today Date) error {
	if today.IsZero() {
		today = Today()
	}
	if err := rs.validate(d, t, today); err != nil {
		return err
	}
	result := ResultPass
	if !t.VisualOK || !t.FunctionalOK {
		result = ResultFail
	}
	ms := make([]Measurement, len(t.Measurements))
	for i, m := range t.Measurements {
		limit, pass, err := rs.judge(d, &m)
		if err != nil {
			return Errorf(EINVALID, "measurement %d: %s", i+1, ErrorMessage(err))
		}
		m.Limit, m.Result = limit, ResultPass
		if !pass {
			m.Result, result = ResultFail, ResultFail
		}
		ms[i] = m
	}
	t.Standard = rs.Standard
	t.Measurements = ms
	t.Result = result
	t.NextDue = NextDue(d, t.Date, result)
	return nil
}

// validate checks what the limit tables cannot: the device's numbers the limits depend
// on, and the test's date, standard, size and free text.
func (rs *RuleSet) validate(d *Device, t *Test, today Date) error {
	if d == nil || t == nil {
		return Errorf(EINVALID, "a test needs a device")
	}
	if !d.ProtectionClass.Valid() {
		return Errorf(EINVALID, "the device's protection_class must be I, II or III")
	}
	if !finiteIn(d.CableLengthM, 0, math.MaxFloat64) || !finiteIn(d.CableCrossMM2, 0, math.MaxFloat64) ||
		d.HeatingPowerKW != nil && !finiteIn(*d.HeatingPowerKW, 0, math.MaxFloat64) {
		return Errorf(EINVALID, "the device's cable length, cross-section and heating power must be finite and not negative")
	}
	if t.Date.IsZero() {
		return Errorf(EINVALID, "date is required")
	}
	if t.Date.After(today.AddDays(1)) {
		return Errorf(EINVALID, "date %s lies in the future", t.Date)
	}
	if t.Standard != "" {
		other, err := RuleSetFor(t.Standard)
		if err != nil {
			return err
		}
		if other.Standard != rs.Standard {
			return Errorf(EINVALID, "the test names standard %s but is evaluated against %s", other.Standard, rs.Standard)
		}
	}
	if err := checkText("comment", t.Comment, 0, maxCommentChars); err != nil {
		return err
	}
	if n := len(t.Measurements); n > MaxMeasurements {
		return Errorf(EINVALID, "a test has at most %d measurements (got %d)", MaxMeasurements, n)
	}
	if len(t.Measurements) == 0 && t.VisualOK && t.FunctionalOK && d.ProtectionClass != ClassIII {
		return Errorf(EINVALID, "a passing test of a protection class %s device needs at least one measurement", d.ProtectionClass)
	}
	for i, m := range t.Measurements {
		if len(m.Parameters) > maxParameters {
			return Errorf(EINVALID, "measurement %d: at most %d parameters", i+1, maxParameters)
		}
		for k, v := range m.Parameters {
			if err := checkText("parameter name", k, 1, maxParameterKey); err != nil {
				return Errorf(EINVALID, "measurement %d: %s", i+1, ErrorMessage(err))
			}
			if err := checkText("parameter "+truncate(k, maxParameterKey), v, 0, maxParameterValue); err != nil {
				return Errorf(EINVALID, "measurement %d: %s", i+1, ErrorMessage(err))
			}
		}
	}
	return nil
}

// judge returns the limit that applies to m on device d and whether m keeps it.
func (rs *RuleSet) judge(d *Device, m *Measurement) (*Limit, bool, error) {
	k, err := kindOf(m.Kind)
	if err != nil {
		return nil, false, err
	}
	if _, err := NormalizeValue(m.Kind, m.Value, m.Unit); err != nil {
		return nil, false, err
	}
	r := rs.ruleFor(k.name, d)
	if r == nil {
		return nil, false, Errorf(EINVALID, "%s is not applicable to protection class %s under %s", k.name, d.ProtectionClass, rs.Standard)
	}
	// Compare in the limit's unit, converting straight from the given unit so that a
	// reading equal to the limit (300 mΩ against 0.3 Ω) is not spoiled by two roundings.
	v := scale(m.Value, units[strings.TrimSpace(m.Unit)].exp-units[k.limitUnit].exp)
	// A relative tolerance far below any instrument's resolution absorbs float error
	// only; 0.31 Ω against 0.3 Ω still fails.
	const tolerance = 1e-9
	bound := r.bound(d)
	if r.min > 0 {
		return &Limit{Min: &bound, Unit: k.limitUnit}, v >= bound*(1-tolerance), nil
	}
	return &Limit{Max: &bound, Unit: k.limitUnit}, v <= bound*(1+tolerance), nil
}

// ruleFor returns the row for kind on d, or nil when the kind does not apply to its class.
func (rs *RuleSet) ruleFor(kind string, d *Device) *limitRule {
	var found *limitRule
	for i := range rs.limits {
		r := &rs.limits[i]
		if r.kind != kind || !slices.Contains(r.classes, d.ProtectionClass) || r.heating && !d.HeatingElements {
			continue
		}
		if found == nil || r.heating {
			found = r
		}
	}
	return found
}

// bound computes the row's limit for d, rounded to a thousandth of the limit unit (1 mΩ,
// 1 kΩ, 1 µA): the precision instruments print, so the limit shown is the limit applied.
func (r *limitRule) bound(d *Device) float64 {
	v := r.max
	if r.min > 0 {
		v = r.min
	}
	switch {
	case r.steps != nil:
		v = r.steps.limit(v, d.CableLengthM)
	case r.lead != nil:
		v = r.lead.limit(v, d.CableLengthM, d.CableCrossMM2)
	case r.power != nil && d.HeatingElements && d.HeatingPowerKW != nil:
		v = r.power.limit(v, *d.HeatingPowerKW)
	}
	return math.Round(v*1000) / 1000
}

func (s *leadSteps) limit(base, lengthM float64) float64 {
	if lengthM <= s.baseM {
		return base
	}
	// "or part of it": any started step counts; the tiny offset keeps an exact multiple
	// (12.5 m is one step) from being pushed up by float error.
	n := math.Ceil((lengthM-s.baseM)/s.stepM - 1e-9)
	return min(base+n*s.stepOhm, s.capOhm)
}

func (c *leadConductor) limit(base, lengthM, crossMM2 float64) float64 {
	if crossMM2 == 0 {
		crossMM2 = c.baseMM2 // unknown cross-section: the usual 1.5 mm² cord
	}
	switch {
	case lengthM == 0: // no lead: only the device's own protective conductor is measured
		return base
	case crossMM2 <= c.baseMM2 && lengthM <= c.baseM:
		return base
	case crossMM2 <= c.baseMM2:
		return min(base+(lengthM-c.baseM)/(c.kappa*crossMM2), c.capOhm)
	}
	return min(max(lengthM/(c.kappa*crossMM2), c.floorOhm), c.capOhm)
}

func (h *heatingPower) limit(base, kW float64) float64 {
	if kW <= h.aboveKW {
		return base
	}
	return min(kW*h.mAPerKW, h.capMA)
}
