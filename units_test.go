package izytroniq_test

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

// near reports whether a and b agree to float precision.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b)) }

func TestNormalizeValue(t *testing.T) {
	const (
		pe  = izy.KindProtectiveConductorResistance
		ins = izy.KindInsulationResistance
		tc  = izy.KindTouchCurrent
	)
	for _, tt := range []struct {
		kind  string
		value float64
		unit  string
		want  float64
	}{
		{pe, 0.3, "Ω", 0.3},
		{pe, 0.3, "\u2126", 0.3}, // OHM SIGN
		{pe, 0.3, "ohm", 0.3},
		{pe, 0.3, "Ohm", 0.3},
		{pe, 300, "mΩ", 0.3},
		{pe, 300, "mohm", 0.3},
		{pe, 300, "mOhm", 0.3},
		{pe, 0, "Ω", 0},
		{ins, 2.5, "MΩ", 2.5e6},
		{ins, 2.5, "Mohm", 2.5e6},
		{ins, 2.5, "M\u2126", 2.5e6},
		{ins, 250, "kΩ", 2.5e5},
		{ins, 250, "kohm", 2.5e5},
		{ins, 1.2, "GΩ", 1.2e9},
		{ins, 1e12, "Ω", 1e12}, // the largest plausible reading
		{tc, 0.5, "mA", 5e-4},
		{tc, 350, "µA", 3.5e-4},
		{tc, 350, "\u03bcA", 3.5e-4}, // Greek mu
		{tc, 350, "uA", 3.5e-4},
		{tc, 0.002, "A", 0.002},
		{tc, 1000, "A", 1000},
		{tc, 0.5, " mA ", 5e-4},
	} {
		t.Run(tt.kind+"/"+strconv.FormatFloat(tt.value, 'g', -1, 64)+tt.unit, func(t *testing.T) {
			got, err := izy.NormalizeValue(tt.kind, tt.value, tt.unit)
			if err != nil {
				t.Fatalf("NormalizeValue: %v", err)
			}
			if !near(got, tt.want) {
				t.Fatalf("got %g, want %g", got, tt.want)
			}
		})
	}
}

func TestNormalizeValueMilliIsNotMega(t *testing.T) {
	milli, _ := izy.NormalizeValue(izy.KindInsulationResistance, 1, "mohm")
	mega, _ := izy.NormalizeValue(izy.KindInsulationResistance, 1, "Mohm")
	if got, want := mega/milli, 1e9; !near(got, want) {
		t.Fatalf("Mohm/mohm: got %g, want %g", got, want)
	}
}

func TestNormalizeValueErrors(t *testing.T) {
	for _, tt := range []struct {
		name, kind string
		value      float64
		unit       string
		mention    string // the error message must help: name what is accepted
	}{
		{"unknown kind", "earth_resistance", 1, "Ω", "known: protective_conductor_resistance"},
		{"empty kind", "", 1, "Ω", "unknown measurement kind"},
		{"unknown unit", izy.KindInsulationResistance, 1, "MOHM", "MΩ"},
		{"empty unit", izy.KindInsulationResistance, 1, "", "unknown unit"},
		{"current unit for resistance", izy.KindInsulationResistance, 1, "mA", "Ω, mΩ"},
		{"resistance unit for current", izy.KindTouchCurrent, 1, "Ω", "mA"},
		{"wrong case milli", izy.KindTouchCurrent, 1, "MA", "mA"},
		{"NaN", izy.KindTouchCurrent, math.NaN(), "mA", "finite"},
		{"+Inf", izy.KindTouchCurrent, math.Inf(1), "mA", "finite"},
		{"-Inf", izy.KindTouchCurrent, math.Inf(-1), "mA", "finite"},
		{"negative", izy.KindTouchCurrent, -0.1, "mA", "negative"},
		{"absurd resistance", izy.KindInsulationResistance, 1.1e6, "MΩ", "plausible"},
		{"absurd current", izy.KindTouchCurrent, 1000.1, "A", "plausible"},
		{"overflow to Inf", izy.KindInsulationResistance, math.MaxFloat64, "GΩ", "plausible"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := izy.NormalizeValue(tt.kind, tt.value, tt.unit)
			if got, want := izy.ErrorCode(err), izy.EINVALID; got != want {
				t.Fatalf("code: got %q, want %q (err %v)", got, want, err)
			}
			if msg := izy.ErrorMessage(err); !strings.Contains(msg, tt.mention) {
				t.Fatalf("message %q: want it to mention %q", msg, tt.mention)
			}
		})
	}
}

func TestParseQuantity(t *testing.T) {
	for _, tt := range []struct {
		in    string
		value float64
		unit  string
	}{
		{"2.5MΩ", 2.5, "MΩ"},
		{"0.12 ohm", 0.12, "ohm"},
		{"0,3Ω", 0.3, "Ω"},
		{"350µA", 350, "µA"},
		{"350μA", 350, "μA"},
		{"  1 mA  ", 1, "mA"},
		{"300mohm", 300, "mohm"},
		{"300\u00a0mΩ", 300, "mΩ"}, // no-break space, as spreadsheets write it
		{".5mA", 0.5, "mA"},
		{"5.MΩ", 5, "MΩ"},
		{"0A", 0, "A"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			v, u, err := izy.ParseQuantity(tt.in)
			if err != nil {
				t.Fatalf("ParseQuantity: %v", err)
			}
			if v != tt.value || u != tt.unit {
				t.Fatalf("got %g %q, want %g %q", v, u, tt.value, tt.unit)
			}
		})
	}
}

func TestParseQuantityErrors(t *testing.T) {
	for _, in := range []string{
		"", "MΩ", "2.5", "2.5 ", "-1mA", "+1mA", "1,000.5Ω", "1.2.3Ω", "2.5 parsecs",
		"1e3mA", "NaNmA", "InfΩ", "0x10mA", "1_000Ω", ",Ω", strings.Repeat("9", 70) + "Ω",
	} {
		t.Run(in, func(t *testing.T) {
			v, u, err := izy.ParseQuantity(in)
			if got, want := izy.ErrorCode(err), izy.EINVALID; got != want {
				t.Fatalf("got %g %q, code %q; want code %q", v, u, got, want)
			}
		})
	}
}

func TestKindsAndUnits(t *testing.T) {
	kinds := izy.MeasurementKinds()
	want := []string{"protective_conductor_resistance", "insulation_resistance",
		"protective_conductor_current", "touch_current", "equivalent_leakage_current"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("MeasurementKinds: got %q, want %q", kinds, want)
	}
	kinds[0] = "changed"
	if izy.MeasurementKinds()[0] == "changed" {
		t.Fatal("MeasurementKinds returns shared storage")
	}
	for _, u := range []string{"Ω", "mΩ", "kΩ", "MΩ", "A", "mA", "µA", "ohm", "mohm", "kohm", "Mohm", "uA"} {
		if !slices.Contains(izy.Units(), u) {
			t.Errorf("Units lacks SPEC unit %q", u)
		}
	}
	// Every listed unit is accepted for exactly one dimension.
	for _, u := range izy.Units() {
		_, errR := izy.NormalizeValue(izy.KindInsulationResistance, 1, u)
		_, errC := izy.NormalizeValue(izy.KindTouchCurrent, 1, u)
		if (errR == nil) == (errC == nil) {
			t.Errorf("unit %q: resistance err %v, current err %v; want exactly one to succeed", u, errR, errC)
		}
	}
	for kind, want := range map[string]izy.Dimension{
		izy.KindProtectiveConductorResistance: izy.Resistance,
		izy.KindInsulationResistance:          izy.Resistance,
		izy.KindProtectiveConductorCurrent:    izy.Current,
		izy.KindTouchCurrent:                  izy.Current,
		izy.KindEquivalentLeakageCurrent:      izy.Current,
	} {
		if got, err := izy.DimensionOf(kind); got != want || err != nil {
			t.Errorf("DimensionOf(%s): got %q, %v; want %q", kind, got, err, want)
		}
	}
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"2.5MΩ", "0.12 ohm", "0,3Ω", "350µA", "1e3mA", "-1A", "", "9.MΩ", ".,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, u, err := izy.ParseQuantity(s)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID {
				t.Fatalf("ParseQuantity(%q): code %q, want %q", s, izy.ErrorCode(err), izy.EINVALID)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("ParseQuantity(%q) = %g: want a finite, non-negative value", s, v)
		}
		if !slices.Contains(izy.Units(), u) && !acceptedAnyDimension(u) {
			t.Fatalf("ParseQuantity(%q) unit %q is not accepted by NormalizeValue", s, u)
		}
		// What ParseQuantity returns, printed back, parses to the same (when the printed
		// form fits the length limit: 1e63 prints with 64 digits).
		back := strconv.FormatFloat(v, 'f', -1, 64) + u
		if len(back) > 64 {
			return
		}
		v2, u2, err := izy.ParseQuantity(back)
		if err != nil || v2 != v || u2 != u {
			t.Fatalf("round trip of %q (%g %q): got %g %q, %v", s, v, u, v2, u2, err)
		}
	})
}

func acceptedAnyDimension(u string) bool {
	_, errR := izy.NormalizeValue(izy.KindInsulationResistance, 1, u)
	_, errC := izy.NormalizeValue(izy.KindTouchCurrent, 1, u)
	return errR == nil || errC == nil
}

func FuzzNormalizeValue(f *testing.F) {
	f.Add(izy.KindInsulationResistance, 2.5, "MΩ")
	f.Add(izy.KindTouchCurrent, 350.0, "µA")
	f.Add("bogus", 1.0, "Ω")
	f.Add(izy.KindProtectiveConductorResistance, math.NaN(), "Ω")
	f.Add(izy.KindProtectiveConductorCurrent, 1e300, "A")
	f.Fuzz(func(t *testing.T, kind string, value float64, unit string) {
		base, err := izy.NormalizeValue(kind, value, unit)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID {
				t.Fatalf("code %q, want %q", izy.ErrorCode(err), izy.EINVALID)
			}
			return
		}
		if math.IsNaN(base) || math.IsInf(base, 0) || base < 0 || base > 1e12 {
			t.Fatalf("NormalizeValue(%q, %g, %q) = %g: want finite in [0, 1e12]", kind, value, unit, base)
		}
		if dim, _ := izy.DimensionOf(kind); dim == izy.Current && base > 1000 {
			t.Fatalf("NormalizeValue(%q, %g, %q) = %g A: want at most 1000 A", kind, value, unit, base)
		}
	})
}
