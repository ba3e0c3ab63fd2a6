package izytroniq_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	izy "github.com/izytroniq/izytroniq"
)

const (
	std2008  = "VDE 0701-0702:2008"
	std50678 = "DIN EN 50678:2021"
	std50699 = "DIN EN 50699:2021"
)

// today is the fixed "now" of every evaluation in these tests.
var today = izy.Date{Year: 2025, Month: 3, Day: 15}

func kw(v float64) *float64 { return &v }

// device returns a class device with the given lead; options adjust it further.
func device(class izy.ProtectionClass, lengthM float64, opts ...func(*izy.Device)) *izy.Device {
	d := &izy.Device{ProtectionClass: class, CableLengthM: lengthM, IntervalMonths: 12}
	for _, o := range opts {
		o(d)
	}
	return d
}

func cross(mm2 float64) func(*izy.Device) { return func(d *izy.Device) { d.CableCrossMM2 = mm2 } }

func heating(kW *float64) func(*izy.Device) {
	return func(d *izy.Device) { d.HeatingElements, d.HeatingPowerKW = true, kW }
}

// mustRuleSet returns the rule set of a standard or stops the test.
func mustRuleSet(tb testing.TB, standard string) *izy.RuleSet {
	tb.Helper()
	rs, err := izy.RuleSetFor(standard)
	if err != nil {
		tb.Fatalf("RuleSetFor(%q): %v", standard, err)
	}
	return rs
}

// judge evaluates one measurement on d under standard and returns it evaluated.
func judge(tb testing.TB, standard string, d *izy.Device, kind string, value float64, unit string) (izy.Measurement, error) {
	tb.Helper()
	tt := &izy.Test{Date: today, VisualOK: true, FunctionalOK: true,
		Measurements: []izy.Measurement{{Kind: kind, Value: value, Unit: unit}}}
	if err := mustRuleSet(tb, standard).EvaluateAt(d, tt, today); err != nil {
		return izy.Measurement{}, err
	}
	return tt.Measurements[0], nil
}

// limitOf formats a limit as "max 0.3 Ω" for comparisons and messages.
func limitOf(l *izy.Limit) string {
	switch {
	case l == nil:
		return "<nil>"
	case l.Min != nil && l.Max == nil:
		return fmt.Sprintf("min %g %s", *l.Min, l.Unit)
	case l.Max != nil && l.Min == nil:
		return fmt.Sprintf("max %g %s", *l.Max, l.Unit)
	}
	return fmt.Sprintf("malformed %+v", *l)
}

type limitCase struct {
	name   string
	dev    *izy.Device
	kind   string
	value  float64
	unit   string
	limit  string // as limitOf prints it
	result string
}

func runLimitCases(t *testing.T, standards []string, cases []limitCase) {
	t.Helper()
	for _, std := range standards {
		for _, tt := range cases {
			t.Run(std+"/"+tt.name, func(t *testing.T) {
				m, err := judge(t, std, tt.dev, tt.kind, tt.value, tt.unit)
				if err != nil {
					t.Fatalf("evaluate: %v", err)
				}
				if got := limitOf(m.Limit); got != tt.limit {
					t.Errorf("limit: got %s, want %s", got, tt.limit)
				}
				if m.Result != tt.result {
					t.Errorf("%g %s against %s: got %s, want %s", tt.value, tt.unit, limitOf(m.Limit), m.Result, tt.result)
				}
			})
		}
	}
}

const (
	pass = izy.ResultPass
	fail = izy.ResultFail
	pe   = izy.KindProtectiveConductorResistance
	ins  = izy.KindInsulationResistance
	pec  = izy.KindProtectiveConductorCurrent
	tc   = izy.KindTouchCurrent
	elc  = izy.KindEquivalentLeakageCurrent
)

// The limits every known edition shares (SPEC §3 table).
func TestSharedLimits(t *testing.T) {
	I, II, III := izy.ClassI, izy.ClassII, izy.ClassIII
	runLimitCases(t, []string{std2008, std50678, std50699}, []limitCase{
		{"pe/5m/0.3", device(I, 5), pe, 0.3, "Ω", "max 0.3 Ω", pass},
		{"pe/5m/300mohm", device(I, 5), pe, 300, "mohm", "max 0.3 Ω", pass},
		{"pe/5m/0.31", device(I, 5), pe, 0.31, "Ω", "max 0.3 Ω", fail},
		{"pe/5m/301mΩ", device(I, 5), pe, 301, "mΩ", "max 0.3 Ω", fail},
		{"pe/no lead", device(I, 0), pe, 0.3, "ohm", "max 0.3 Ω", pass},
		{"pe/no lead thick", device(I, 0, cross(6)), pe, 0.3, "ohm", "max 0.3 Ω", pass},
		{"pe/zero reading", device(I, 2), pe, 0, "Ω", "max 0.3 Ω", pass},

		{"ins/I/1MΩ", device(I, 2), ins, 1, "MΩ", "min 1 MΩ", pass},
		{"ins/I/1000kΩ", device(I, 2), ins, 1000, "kΩ", "min 1 MΩ", pass},
		{"ins/I/1e6Ω", device(I, 2), ins, 1e6, "Ω", "min 1 MΩ", pass},
		{"ins/I/999kΩ", device(I, 2), ins, 999, "kohm", "min 1 MΩ", fail},
		{"ins/I/1mohm is not 1Mohm", device(I, 2), ins, 1, "mohm", "min 1 MΩ", fail},
		{"ins/I/1Mohm", device(I, 2), ins, 1, "Mohm", "min 1 MΩ", pass},
		{"ins/I/GΩ", device(I, 2), ins, 2.2, "GΩ", "min 1 MΩ", pass},
		{"ins/I heating/0.3MΩ", device(I, 2, heating(nil)), ins, 0.3, "MΩ", "min 0.3 MΩ", pass},
		{"ins/I heating/300kΩ", device(I, 2, heating(kw(2))), ins, 300, "kΩ", "min 0.3 MΩ", pass},
		{"ins/I heating/0.29MΩ", device(I, 2, heating(nil)), ins, 0.29, "MΩ", "min 0.3 MΩ", fail},
		{"ins/II/2MΩ", device(II, 2), ins, 2, "MΩ", "min 2 MΩ", pass},
		{"ins/II/1.99MΩ", device(II, 2), ins, 1.99, "MΩ", "min 2 MΩ", fail},
		{"ins/II heating ignored", device(II, 2, heating(nil)), ins, 1.99, "MΩ", "min 2 MΩ", fail},
		{"ins/III/250kΩ", device(III, 0), ins, 250, "kΩ", "min 0.25 MΩ", pass},
		{"ins/III/249kΩ", device(III, 0), ins, 249, "kΩ", "min 0.25 MΩ", fail},

		{"pec/3.5mA", device(I, 2), pec, 3.5, "mA", "max 3.5 mA", pass},
		{"pec/3500µA", device(I, 2), pec, 3500, "µA", "max 3.5 mA", pass},
		{"pec/0.0035A", device(I, 2), pec, 0.0035, "A", "max 3.5 mA", pass},
		{"pec/3.51mA", device(I, 2), pec, 3.51, "mA", "max 3.5 mA", fail},
		{"pec/heating unknown power", device(I, 2, heating(nil)), pec, 3.6, "mA", "max 3.5 mA", fail},
		{"pec/heating 3.5kW", device(I, 2, heating(kw(3.5))), pec, 3.6, "mA", "max 3.5 mA", fail},
		{"pec/heating 4.2kW", device(I, 2, heating(kw(4.2))), pec, 4.2, "mA", "max 4.2 mA", pass},
		{"pec/heating 5kW", device(I, 2, heating(kw(5))), pec, 5, "mA", "max 5 mA", pass},
		{"pec/heating 5kW over", device(I, 2, heating(kw(5))), pec, 5.01, "mA", "max 5 mA", fail},
		{"pec/heating 10kW", device(I, 2, heating(kw(10))), pec, 10, "mA", "max 10 mA", pass},
		{"pec/heating 12kW cap", device(I, 2, heating(kw(12))), pec, 10.1, "mA", "max 10 mA", fail},
		{"pec/power without heating flag", device(I, 2, func(d *izy.Device) { d.HeatingPowerKW = kw(8) }), pec, 5, "mA", "max 3.5 mA", fail},

		{"tc/I/0.5mA", device(I, 2), tc, 0.5, "mA", "max 0.5 mA", pass},
		{"tc/II/500µA", device(II, 2), tc, 500, "uA", "max 0.5 mA", pass},
		{"tc/II/0.51mA", device(II, 2), tc, 0.51, "mA", "max 0.5 mA", fail},
		{"tc/III/0.5mA", device(III, 0), tc, 0.5, "mA", "max 0.5 mA", pass},

		{"elc/I/3.5mA", device(I, 2), elc, 3.5, "mA", "max 3.5 mA", pass},
		{"elc/I/3.51mA", device(I, 2), elc, 3.51, "mA", "max 3.5 mA", fail},
		{"elc/I heating 5kW", device(I, 2, heating(kw(5))), elc, 5, "mA", "max 5 mA", pass},
		{"elc/I heating 12kW", device(I, 2, heating(kw(12))), elc, 10, "mA", "max 10 mA", pass},
		{"elc/II/0.5mA", device(II, 2), elc, 0.5, "mA", "max 0.5 mA", pass},
		{"elc/II/0.51mA", device(II, 2), elc, 0.51, "mA", "max 0.5 mA", fail},
	})
}

// DIN VDE 0701-0702:2008 5.3: 0.3 Ω up to 5 m, +0.1 Ω per further 7.5 m or part of it, at most 1 Ω.
func TestProtectiveConductorResistance2008(t *testing.T) {
	I := izy.ClassI
	runLimitCases(t, []string{std2008}, []limitCase{
		{"5.01m", device(I, 5.01), pe, 0.4, "Ω", "max 0.4 Ω", pass},
		{"12.5m", device(I, 12.5), pe, 0.4, "Ω", "max 0.4 Ω", pass},
		{"12.5m over", device(I, 12.5), pe, 0.41, "Ω", "max 0.4 Ω", fail},
		{"12.6m", device(I, 12.6), pe, 0.5, "Ω", "max 0.5 Ω", pass},
		{"20m", device(I, 20), pe, 0.5, "Ω", "max 0.5 Ω", pass},
		{"27.5m", device(I, 27.5), pe, 0.6, "Ω", "max 0.6 Ω", pass},
		{"50m", device(I, 50), pe, 0.9, "Ω", "max 0.9 Ω", pass},
		{"50.1m", device(I, 50.1), pe, 1, "Ω", "max 1 Ω", pass},
		{"100m cap", device(I, 100), pe, 1, "Ω", "max 1 Ω", pass},
		{"100m cap over", device(I, 100), pe, 1.01, "Ω", "max 1 Ω", fail},
		{"cross-section ignored", device(I, 5, cross(2.5)), pe, 0.3, "Ω", "max 0.3 Ω", pass},
	})
}

// DIN EN 50678/50699:2021 5.3, in our reading (see leadConductor in rules.go).
func TestProtectiveConductorResistance2021(t *testing.T) {
	I := izy.ClassI
	runLimitCases(t, []string{std50678, std50699}, []limitCase{
		{"5m 1.5mm²", device(I, 5, cross(1.5)), pe, 0.3, "Ω", "max 0.3 Ω", pass},
		{"3m 0.75mm²", device(I, 3, cross(0.75)), pe, 0.3, "Ω", "max 0.3 Ω", pass},
		// 0.3 Ω + 5 m/(56·1.5) = 0.3595 Ω, shown and applied to 1 mΩ.
		{"10m 1.5mm²", device(I, 10), pe, 0.36, "Ω", "max 0.36 Ω", pass},
		{"10m 1.5mm² over", device(I, 10), pe, 361, "mΩ", "max 0.36 Ω", fail},
		{"12.5m 1.5mm²", device(I, 12.5, cross(1.5)), pe, 0.389, "Ω", "max 0.389 Ω", pass},
		{"63.8m 1.5mm² reaches 1Ω", device(I, 63.8), pe, 1, "Ω", "max 1 Ω", pass},
		{"63m 1.5mm² below cap", device(I, 63), pe, 0.991, "Ω", "max 0.99 Ω", fail},
		{"100m 1.5mm² cap", device(I, 100), pe, 1.001, "Ω", "max 1 Ω", fail},
		// Larger sections: l/(κ·A) within [0.1 Ω, 1 Ω].
		{"5m 2.5mm² floor", device(I, 5, cross(2.5)), pe, 0.1, "Ω", "max 0.1 Ω", pass},
		{"5m 2.5mm² floor over", device(I, 5, cross(2.5)), pe, 0.101, "Ω", "max 0.1 Ω", fail},
		{"20m 4mm² floor", device(I, 20, cross(4)), pe, 0.09, "Ω", "max 0.1 Ω", pass},
		{"50m 2.5mm²", device(I, 50, cross(2.5)), pe, 0.357, "Ω", "max 0.357 Ω", pass},
		{"70m 2.5mm² exact", device(I, 70, cross(2.5)), pe, 500, "mΩ", "max 0.5 Ω", pass},
		{"70m 2.5mm² over", device(I, 70, cross(2.5)), pe, 0.501, "Ω", "max 0.5 Ω", fail},
		{"200m 2.5mm² cap", device(I, 200, cross(2.5)), pe, 1, "Ω", "max 1 Ω", pass},
	})
}

func TestNotApplicable(t *testing.T) {
	for _, tt := range []struct {
		std   string
		class izy.ProtectionClass
		kind  string
	}{
		{std2008, izy.ClassII, pe},
		{std2008, izy.ClassIII, pe},
		{std50699, izy.ClassII, pe},
		{std2008, izy.ClassII, pec},
		{std50678, izy.ClassIII, pec},
		{std2008, izy.ClassIII, elc},
	} {
		t.Run(tt.std+"/"+string(tt.class)+"/"+tt.kind, func(t *testing.T) {
			_, err := judge(t, tt.std, device(tt.class, 2), tt.kind, 0.1, "Ω")
			if tt.kind != pe {
				_, err = judge(t, tt.std, device(tt.class, 2), tt.kind, 0.1, "mA")
			}
			want := "not applicable to protection class " + string(tt.class)
			if izy.ErrorCode(err) != izy.EINVALID || !strings.Contains(izy.ErrorMessage(err), want) {
				t.Fatalf("got %v, want EINVALID mentioning %q", err, want)
			}
		})
	}
}

func TestRuleSetFor(t *testing.T) {
	for in, want := range map[string]string{
		"VDE 0701-0702:2008":            std2008,
		"vde 0701-0702:2008":            std2008,
		"DIN VDE 0701-0702:2008":        std2008,
		"DIN VDE 0701-0702:2008-06":     std2008,
		"VDE 0701-0702":                 std2008,
		"  VDE  0701\u20130702 : 2008 ": std2008, // en dash, stray spaces
		"DIN EN 50678:2021":             std50678,
		"EN 50678:2021":                 std50678,
		"en 50678:2020":                 std50678,
		"DIN EN 50678 (VDE 0701):2021":  std50678,
		"DIN EN 50699:2021":             std50699,
		"EN 50699:2021":                 std50699,
		"EN 50699":                      std50699,
		"VDE 0702:2021":                 std50699,
	} {
		t.Run(in, func(t *testing.T) {
			rs, err := izy.RuleSetFor(in)
			if err != nil {
				t.Fatalf("RuleSetFor: %v", err)
			}
			if rs.Standard != want {
				t.Fatalf("got %q, want %q", rs.Standard, want)
			}
		})
	}
	for _, in := range []string{"", "VDE 0701-0702:2009", "EN 50678:2019", "IEC 62353", strings.Repeat("x", 500)} {
		t.Run("unknown/"+in, func(t *testing.T) {
			_, err := izy.RuleSetFor(in)
			if izy.ErrorCode(err) != izy.EINVALID || !strings.Contains(izy.ErrorMessage(err), "known: "+std2008) {
				t.Fatalf("got %v, want EINVALID listing the known standards", err)
			}
		})
	}
	if got, want := izy.Standards(), []string{std2008, std50678, std50699}; !slices.Equal(got, want) {
		t.Fatalf("Standards: got %q, want %q", got, want)
	}
	// Every canonical name resolves to itself, so stored names stay stable.
	for _, s := range izy.Standards() {
		if rs := mustRuleSet(t, s); rs.Standard != s {
			t.Errorf("RuleSetFor(%q).Standard = %q", s, rs.Standard)
		}
	}
	// A caller changing its copy does not change the next caller's.
	mustRuleSet(t, std2008).Standard = "changed"
	if got := mustRuleSet(t, std2008).Standard; got != std2008 {
		t.Fatalf("rule sets are shared: got %q", got)
	}
}

func TestStandardFor(t *testing.T) {
	for _, tt := range []struct {
		name       string
		test, dev  string
		nilT, nilD bool
		want       string
	}{
		{name: "test wins", test: "EN 50699:2021", dev: std2008, want: "EN 50699:2021"},
		{name: "device next", dev: std50678, want: std50678},
		{name: "default", want: izy.DefaultStandard},
		{name: "blank test", test: "  ", dev: std50678, want: std50678},
		{name: "nil both", nilT: true, nilD: true, want: izy.DefaultStandard},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tst, dev := &izy.Test{Standard: tt.test}, &izy.Device{Standard: tt.dev}
			if tt.nilT {
				tst = nil
			}
			if tt.nilD {
				dev = nil
			}
			if got := izy.StandardFor(tst, dev); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }

func TestEvaluate(t *testing.T) {
	d := device(izy.ClassI, 12.6, func(d *izy.Device) { d.IntervalMonths = 24 })
	tt := &izy.Test{
		Date: izy.Date{Year: 2024, Month: 2, Day: 29}, Standard: "din vde 0701-0702:2008",
		VisualOK: true, FunctionalOK: true,
		Measurements: []izy.Measurement{
			{Kind: pe, Value: 450, Unit: "mohm", Parameters: map[string]string{"test_current": "200 mA"}},
			{Kind: pe, Value: 0.12, Unit: "Ω"}, // a second measuring point
			{Kind: ins, Value: 2.5, Unit: "MΩ", Limit: &izy.Limit{Min: ptr(0), Unit: "Ω"}, Result: pass}, // caller's verdict is ignored
			{Kind: pec, Value: 350, Unit: "µA"},
		},
	}
	if err := mustRuleSet(t, std2008).EvaluateAt(d, tt, today); err != nil {
		t.Fatalf("EvaluateAt: %v", err)
	}
	want := &izy.Test{
		Date: izy.Date{Year: 2024, Month: 2, Day: 29}, Standard: std2008,
		VisualOK: true, FunctionalOK: true, Result: pass,
		NextDue: izy.Date{Year: 2026, Month: 2, Day: 28}, // 24 months on, clamped to the month's end
		Measurements: []izy.Measurement{
			{Kind: pe, Value: 450, Unit: "mohm", Parameters: map[string]string{"test_current": "200 mA"},
				Limit: &izy.Limit{Max: ptr(0.5), Unit: "Ω"}, Result: pass},
			{Kind: pe, Value: 0.12, Unit: "Ω", Limit: &izy.Limit{Max: ptr(0.5), Unit: "Ω"}, Result: pass},
			{Kind: ins, Value: 2.5, Unit: "MΩ", Limit: &izy.Limit{Min: ptr(1), Unit: "MΩ"}, Result: pass},
			{Kind: pec, Value: 350, Unit: "µA", Limit: &izy.Limit{Max: ptr(3.5), Unit: "mA"}, Result: pass},
		},
	}
	if diff := cmp.Diff(want, tt); diff != "" {
		t.Fatalf("evaluated test (-want +got):\n%s", diff)
	}
}

func TestEvaluateResult(t *testing.T) {
	good := []izy.Measurement{{Kind: pe, Value: 0.1, Unit: "Ω"}, {Kind: ins, Value: 5, Unit: "MΩ"}}
	bad := []izy.Measurement{{Kind: pe, Value: 0.1, Unit: "Ω"}, {Kind: ins, Value: 0.5, Unit: "MΩ"}}
	date := izy.Date{Year: 2025, Month: 1, Day: 31}
	for _, tt := range []struct {
		name               string
		class              izy.ProtectionClass
		visual, functional bool
		ms                 []izy.Measurement
		result             string
		nextDue            izy.Date
	}{
		{"all good", izy.ClassI, true, true, good, pass, izy.Date{Year: 2026, Month: 1, Day: 31}},
		{"one measurement fails", izy.ClassI, true, true, bad, fail, date},
		{"visual fails", izy.ClassI, false, true, good, fail, date},
		{"functional fails", izy.ClassI, true, false, good, fail, date},
		{"class III without measurements", izy.ClassIII, true, true, nil, pass, izy.Date{Year: 2026, Month: 1, Day: 31}},
		{"stopped at visual defect", izy.ClassI, false, true, nil, fail, date},
		{"stopped at functional defect", izy.ClassII, true, false, nil, fail, date},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tst := &izy.Test{Date: date, VisualOK: tt.visual, FunctionalOK: tt.functional, Measurements: tt.ms}
			if err := mustRuleSet(t, std50699).EvaluateAt(device(tt.class, 2), tst, today); err != nil {
				t.Fatalf("EvaluateAt: %v", err)
			}
			if tst.Result != tt.result || tst.NextDue != tt.nextDue {
				t.Fatalf("got %s due %s, want %s due %s", tst.Result, tst.NextDue, tt.result, tt.nextDue)
			}
			if tst.Standard != std50699 {
				t.Fatalf("standard: got %q, want %q", tst.Standard, std50699)
			}
		})
	}
}

func TestEvaluateRejects(t *testing.T) {
	valid := func() *izy.Test {
		return &izy.Test{Date: today, VisualOK: true, FunctionalOK: true,
			Measurements: []izy.Measurement{{Kind: pe, Value: 0.1, Unit: "Ω"}}}
	}
	many := func(n int) []izy.Measurement {
		ms := make([]izy.Measurement, n)
		for i := range ms {
			ms[i] = izy.Measurement{Kind: pe, Value: 0.1, Unit: "Ω"}
		}
		return ms
	}
	params := map[string]string{}
	for i := range 21 {
		params[fmt.Sprint("p", i)] = "x"
	}
	for _, tt := range []struct {
		name    string
		dev     *izy.Device
		change  func(*izy.Test)
		mention string
	}{
		{"no date", nil, func(t *izy.Test) { t.Date = izy.Date{} }, "date is required"},
		{"two days ahead", nil, func(t *izy.Test) { t.Date = today.AddDays(2) }, "future"},
		{"other standard", nil, func(t *izy.Test) { t.Standard = "EN 50699:2021" }, "evaluated against"},
		{"unknown standard", nil, func(t *izy.Test) { t.Standard = "VDE 0100-600" }, "unknown standard"},
		{"too many measurements", nil, func(t *izy.Test) { t.Measurements = many(izy.MaxMeasurements + 1) }, "at most 50"},
		{"comment too long", nil, func(t *izy.Test) { t.Comment = strings.Repeat("ä", 4001) }, "comment"},
		{"comment control char", nil, func(t *izy.Test) { t.Comment = "a\x00b" }, "control"},
		{"too many parameters", nil, func(t *izy.Test) { t.Measurements[0].Parameters = params }, "at most 20 parameters"},
		{"long parameter", nil, func(t *izy.Test) { t.Measurements[0].Parameters = map[string]string{"v": strings.Repeat("x", 201)} }, "parameter v"},
		{"empty parameter name", nil, func(t *izy.Test) { t.Measurements[0].Parameters = map[string]string{"": "x"} }, "parameter name"},
		{"unknown kind", nil, func(t *izy.Test) {
			t.Measurements = append(t.Measurements, izy.Measurement{Kind: "earth", Value: 1, Unit: "Ω"})
		}, "measurement 2: unknown measurement kind"},
		{"unknown unit", nil, func(t *izy.Test) { t.Measurements[0].Unit = "Ohms" }, "measurement 1: unknown unit"},
		{"wrong dimension", nil, func(t *izy.Test) { t.Measurements[0].Unit = "mA" }, "measurement 1: unit \"mA\""},
		{"NaN", nil, func(t *izy.Test) { t.Measurements[0].Value = math.NaN() }, "finite"},
		{"negative", nil, func(t *izy.Test) { t.Measurements[0].Value = -0.1 }, "negative"},
		{"class I pass without measurements", nil, func(t *izy.Test) { t.Measurements = nil }, "at least one measurement"},
		{"bad class", device("IV", 2), func(*izy.Test) {}, "protection_class"},
		{"NaN cable", device(izy.ClassI, math.NaN()), func(*izy.Test) {}, "cable length"},
		{"negative heating power", device(izy.ClassI, 1, heating(kw(-1))), func(*izy.Test) {}, "heating power"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.dev
			if d == nil {
				d = device(izy.ClassI, 2)
			}
			tst := valid()
			tt.change(tst)
			before := *tst
			before.Measurements = slices.Clone(tst.Measurements)
			err := mustRuleSet(t, std2008).EvaluateAt(d, tst, today)
			if izy.ErrorCode(err) != izy.EINVALID || !strings.Contains(izy.ErrorMessage(err), tt.mention) {
				t.Fatalf("got %v, want EINVALID mentioning %q", err, tt.mention)
			}
			if diff := cmp.Diff(before, *tst, cmp.Comparer(func(a, b float64) bool {
				return a == b || math.IsNaN(a) && math.IsNaN(b)
			})); diff != "" {
				t.Fatalf("a refused test was changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestEvaluateAcceptsTomorrow(t *testing.T) {
	// An inspector east of the server's zone may already be on the next day.
	tst := &izy.Test{Date: today.AddDays(1), VisualOK: true, FunctionalOK: true,
		Measurements: []izy.Measurement{{Kind: pe, Value: 0.1, Unit: "Ω"}}}
	if err := mustRuleSet(t, std2008).EvaluateAt(device(izy.ClassI, 2), tst, today); err != nil {
		t.Fatalf("EvaluateAt: %v", err)
	}
	tst.Date = izy.Today()
	if err := mustRuleSet(t, std2008).Evaluate(device(izy.ClassI, 2), tst); err != nil {
		t.Fatalf("Evaluate today: %v", err)
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add(uint8(0), "", 0.3, "Ω", "I", 5.0, 0.0, false, 0.0, uint8(0))
	f.Add(uint8(1), "", 2.5, "MΩ", "II", 0.0, 0.0, true, 5.0, uint8(1))
	f.Add(uint8(2), "", 5.0, "mA", "I", 20.0, 2.5, true, 12.0, uint8(2))
	f.Add(uint8(9), "bogus", math.NaN(), "mohm", "III", -1.0, math.Inf(1), true, math.NaN(), uint8(3))
	kinds := izy.MeasurementKinds()
	units := izy.Units()
	f.Fuzz(func(t *testing.T, k uint8, kind string, value float64, unit, class string,
		lengthM, crossMM2 float64, heats bool, powerKW float64, std uint8) {
		if int(k) < len(kinds) {
			kind = kinds[k]
		}
		if int(k)%3 == 0 && len(unit) == 1 { // steer some runs onto real units
			unit = units[int(unit[0])%len(units)]
		}
		d := &izy.Device{ProtectionClass: izy.ProtectionClass(class), CableLengthM: lengthM,
			CableCrossMM2: crossMM2, HeatingElements: heats}
		if heats {
			d.HeatingPowerKW = &powerKW
		}
		standards := izy.Standards()
		rs := mustRuleSet(t, standards[int(std)%len(standards)])
		tst := &izy.Test{Date: today, VisualOK: true, FunctionalOK: true,
			Measurements: []izy.Measurement{{Kind: kind, Value: value, Unit: unit}, {Kind: kind, Value: value, Unit: unit}}}
		err := rs.EvaluateAt(d, tst, today)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID {
				t.Fatalf("code %q, want %q: %v", izy.ErrorCode(err), izy.EINVALID, err)
			}
			return
		}
		if math.IsNaN(value) || math.IsInf(value, 0) || value < 0 {
			t.Fatalf("%g %q was judged %s; want it refused", value, unit, tst.Result)
		}
		for _, m := range tst.Measurements {
			if m.Result != pass && m.Result != fail {
				t.Fatalf("measurement result %q", m.Result)
			}
			l := m.Limit
			if l == nil || (l.Min == nil) == (l.Max == nil) || l.Unit == "" {
				t.Fatalf("malformed limit %s", limitOf(l))
			}
			b := l.Min
			if b == nil {
				b = l.Max
			}
			if math.IsNaN(*b) || math.IsInf(*b, 0) || *b <= 0 {
				t.Fatalf("limit %s is not a positive finite number", limitOf(l))
			}
			if m.Result == fail && tst.Result != fail {
				t.Fatalf("a measurement failed but the test is %s", tst.Result)
			}
		}
	})
}
