package izytroniq

import (
	"math"
	"strconv"
	"strings"
)

// Measurement kinds (SPEC §4). A kind names what was measured; its limit comes from the
// rule set, its unit from the caller.
const (
	KindProtectiveConductorResistance = "protective_conductor_resistance"
	KindInsulationResistance          = "insulation_resistance"
	KindProtectiveConductorCurrent    = "protective_conductor_current"
	KindTouchCurrent                  = "touch_current"
	KindEquivalentLeakageCurrent      = "equivalent_leakage_current"
)

// Dimension is the physical quantity a measurement kind or a unit stands for.
type Dimension string

// The two dimensions the safety tests measure. Base units are the ohm and the ampere.
const (
	Resistance Dimension = "resistance"
	Current    Dimension = "current"
)

// kindInfo describes one measurement kind. limitUnit is the unit people read the limit
// in (SPEC §4: PE resistance in Ω, insulation in MΩ, currents in mA); rule tables state
// their values in that unit, just as the standards print them.
type kindInfo struct {
	name      string
	dim       Dimension
	limitUnit string
}

// kinds in the order of SPEC §4, which is also the order of the test report.
var kinds = []kindInfo{
	{KindProtectiveConductorResistance, Resistance, "Ω"},
	{KindInsulationResistance, Resistance, "MΩ"},
	{KindProtectiveConductorCurrent, Current, "mA"},
	{KindTouchCurrent, Current, "mA"},
	{KindEquivalentLeakageCurrent, Current, "mA"},
}

func kindOf(kind string) (kindInfo, error) {
	for _, k := range kinds {
		if k.name == kind {
			return k, nil
		}
	}
	return kindInfo{}, Errorf(EINVALID, "unknown measurement kind %q; known: %s",
		truncate(kind, 60), strings.Join(MeasurementKinds(), ", "))
}

// MeasurementKinds returns the known measurement kinds in report order.
func MeasurementKinds() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// DimensionOf returns whether kind is measured as a resistance or a current.
func DimensionOf(kind string) (Dimension, error) {
	k, err := kindOf(kind)
	return k.dim, err
}

// unitInfo is one spelling of a unit: value in base units = value × 10^exp.
// A power of ten (not a float factor) lets us divide for negative exponents, so that
// 300 mΩ becomes exactly the float nearest 0.3 Ω, as a person would expect.
type unitInfo struct {
	dim Dimension
	exp int
}

// units maps every accepted spelling to its meaning. Spellings are case-sensitive on
// purpose: "mohm" is milli, "Mohm" mega (SPEC §4), a factor of 10⁹ apart.
var units = map[string]unitInfo{
	// Ω is accepted as U+03A9 GREEK CAPITAL OMEGA (what keyboards and the SPEC write) and
	// as U+2126 OHM SIGN (what some instrument exports write); µ as U+00B5 MICRO SIGN and as
	// U+03BC GREEK SMALL MU. They look identical, so refusing either would baffle people.
	"Ω": {Resistance, 0}, "\u2126": {Resistance, 0}, "ohm": {Resistance, 0}, "Ohm": {Resistance, 0},
	"mΩ": {Resistance, -3}, "m\u2126": {Resistance, -3}, "mohm": {Resistance, -3}, "mOhm": {Resistance, -3},
	"kΩ": {Resistance, 3}, "k\u2126": {Resistance, 3}, "kohm": {Resistance, 3}, "kOhm": {Resistance, 3},
	"MΩ": {Resistance, 6}, "M\u2126": {Resistance, 6}, "Mohm": {Resistance, 6}, "MOhm": {Resistance, 6},
	// Insulation testers read up to several GΩ, so GΩ is accepted though SPEC §4 omits it.
	"GΩ": {Resistance, 9}, "G\u2126": {Resistance, 9}, "Gohm": {Resistance, 9}, "GOhm": {Resistance, 9},
	"A":  {Current, 0},
	"mA": {Current, -3},
	"µA": {Current, -6}, "\u03bcA": {Current, -6}, "uA": {Current, -6},
}

// unitNames lists the spellings to show people, per dimension: symbols, then ASCII.
var unitNames = map[Dimension][]string{
	Resistance: {"Ω", "mΩ", "kΩ", "MΩ", "GΩ", "ohm", "mohm", "kohm", "Mohm", "Gohm"},
	Current:    {"A", "mA", "µA", "uA"},
}

// Units returns the unit spellings to offer people: Ω mΩ kΩ MΩ GΩ A mA µA and the ASCII
// spellings ohm mohm kohm Mohm Gohm uA. Look-alike spellings (U+2126 OHM SIGN, Greek μ,
// Ohm, mOhm, kOhm, MOhm, GOhm) are accepted as well but not listed.
func Units() []string {
	return []string{"Ω", "mΩ", "kΩ", "MΩ", "GΩ", "A", "mA", "µA", "ohm", "mohm", "kohm", "Mohm", "Gohm", "uA"}
}

// Largest plausible readings. Beyond them a value is a typing or export error (a unit
// slip of 10³ or more), not a measurement, and must not be judged as pass or fail.
const (
	maxResistanceOhm = 1e12 // 1 TΩ, past the range of any insulation tester
	maxCurrentAmp    = 1000 // 1 kA, far past any leakage or test current
)

// NormalizeValue converts value in unit to the base unit of kind's dimension (Ω or A).
// It refuses an unknown kind, an unknown unit or one of the wrong dimension, and values
// that cannot be readings: NaN, infinities, negatives, and absurdly large values.
func NormalizeValue(kind string, value float64, unit string) (float64, error) {
	k, err := kindOf(kind)
	if err != nil {
		return 0, err
	}
	u, ok := units[strings.TrimSpace(unit)]
	if !ok {
		return 0, Errorf(EINVALID, "unknown unit %q for %s; use one of %s",
			truncate(unit, 20), kind, strings.Join(unitNames[k.dim], ", "))
	}
	if u.dim != k.dim {
		return 0, Errorf(EINVALID, "unit %q is a unit of %s, but %s is a %s; use one of %s",
			unit, u.dim, kind, k.dim, strings.Join(unitNames[k.dim], ", "))
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, Errorf(EINVALID, "%s must be a finite number", kind)
	}
	if value < 0 {
		return 0, Errorf(EINVALID, "%s cannot be negative (got %g %s)", kind, value, unit)
	}
	base := scale(value, u.exp)
	limit := float64(maxCurrentAmp)
	if k.dim == Resistance {
		limit = maxResistanceOhm
	}
	if !(base <= limit) { // also catches an overflow to +Inf
		return 0, Errorf(EINVALID, "%s of %g %s is not a plausible reading", kind, value, unit)
	}
	return base, nil
}

// scale returns v × 10^exp, dividing for negative exponents so that the result is the
// float nearest the exact decimal (300 / 1000 is 0.3; 300 × 0.001 is not).
func scale(v float64, exp int) float64 {
	if exp >= 0 {
		return v * math.Pow10(exp)
	}
	return v / math.Pow10(-exp)
}

// ParseQuantity splits a reading such as "2.5MΩ", "0.12 ohm", "0,3Ω" or "350µA" into its
// value and its unit, as written (the server keeps the unit the inspector used). A
// decimal comma is accepted because German instruments and people write one; thousands
// separators, signs and exponents are not, as no instrument prints them.
func ParseQuantity(s string) (value float64, unit string, err error) {
	orig := s
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return 0, "", Errorf(EINVALID, "quantity %q is too long", truncate(s, 20))
	}
	i, digits, seps := 0, 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if '0' <= c && c <= '9' {
			digits++
		} else if c == '.' || c == ',' {
			seps++
		} else {
			break
		}
	}
	if digits == 0 || seps > 1 {
		if strings.HasPrefix(s, "-") {
			return 0, "", Errorf(EINVALID, "quantity %q: a reading cannot be negative", truncate(orig, 40))
		}
		return 0, "", Errorf(EINVALID, "quantity %q must be a number followed by a unit, e.g. 2.5MΩ or 0,3 ohm", truncate(orig, 40))
	}
	num := strings.Replace(s[:i], ",", ".", 1)
	value, perr := strconv.ParseFloat(num, 64)
	if perr != nil || math.IsInf(value, 0) {
		return 0, "", Errorf(EINVALID, "quantity %q: %q is not a number", truncate(orig, 40), s[:i])
	}
	unit = strings.TrimSpace(s[i:])
	if unit == "" {
		return 0, "", Errorf(EINVALID, "quantity %q has no unit; use one of %s", truncate(orig, 40), strings.Join(Units(), ", "))
	}
	if _, ok := units[unit]; !ok {
		return 0, "", Errorf(EINVALID, "quantity %q: unknown unit %q; use one of %s", truncate(orig, 40), truncate(unit, 20), strings.Join(Units(), ", "))
	}
	return value, unit, nil
}
