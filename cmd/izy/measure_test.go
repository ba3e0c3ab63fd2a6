package main

import (
	"testing"
	"unicode/utf8"

	izy "github.com/izytroniq/izytroniq"
)

func TestParseMeasure(t *testing.T) {
	for _, tc := range []struct {
		in    string
		kind  string
		value float64
		unit  string
		err   bool
	}{
		{"insulation_resistance=2.5MΩ", "insulation_resistance", 2.5, "MΩ", false},
		{"protective_conductor_resistance=0,12 ohm", "protective_conductor_resistance", 0.12, "ohm", false},
		{" touch_current = 0.1mA", "touch_current", 0.1, "mA", false},
		{"equivalent_leakage_current=350µA", "equivalent_leakage_current", 350, "µA", false},
		{"insulation_resistance=2.5mA", "", 0, "", true}, // wrong dimension
		{"insulation_resistance=2.5", "", 0, "", true},   // no unit
		{"insulation_resistance=-1MΩ", "", 0, "", true},
		{"voltage=230V", "", 0, "", true},
		{"=1Ω", "", 0, "", true},
		{"insulation_resistance", "", 0, "", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := parseMeasure(tc.in)
			if tc.err {
				if err == nil || izy.ErrorCode(err) != izy.EINVALID {
					t.Fatalf("parseMeasure(%q) = %+v, %v; want an invalid error", tc.in, m, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != tc.kind || m.Value != tc.value || m.Unit != tc.unit {
				t.Fatalf("parseMeasure(%q) = %+v, want %s %g %s", tc.in, m, tc.kind, tc.value, tc.unit)
			}
		})
	}
}

func FuzzParseMeasure(f *testing.F) {
	for _, s := range []string{"insulation_resistance=2.5MΩ", "touch_current=0,1 mA", "x=", "=", "a=b=c", "protective_conductor_resistance=1e3ohm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMeasure(s)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID {
				t.Fatalf("parseMeasure(%q): error code %q, want invalid", s, izy.ErrorCode(err))
			}
			if !utf8.ValidString(izy.ErrorMessage(err)) && utf8.ValidString(s) {
				t.Fatalf("parseMeasure(%q): message is not UTF-8", s)
			}
			return
		}
		// Whatever parses must be a reading the server accepts as well.
		if _, err := izy.NormalizeValue(m.Kind, m.Value, m.Unit); err != nil {
			t.Fatalf("parseMeasure(%q) = %+v, which the domain refuses: %v", s, m, err)
		}
		if m.Value < 0 {
			t.Fatalf("parseMeasure(%q) = negative %g", s, m.Value)
		}
	})
}
