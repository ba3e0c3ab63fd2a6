package main

import (
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// parseMeasure parses one --measure argument, KIND=VALUEUNIT (e.g.
// "insulation_resistance=2.5MΩ", "protective_conductor_resistance=0,12 ohm"), with the
// domain's own parser; the unit must fit the kind.
func parseMeasure(s string) (izy.Measurement, error) {
	kind, q, ok := strings.Cut(s, "=")
	kind = strings.TrimSpace(kind)
	if !ok || kind == "" {
		return izy.Measurement{}, izy.Errorf(izy.EINVALID, "--measure %q must read KIND=VALUEUNIT, e.g. insulation_resistance=2.5MΩ; kinds: %s",
			truncate(s, 40), strings.Join(izy.MeasurementKinds(), ", "))
	}
	if _, err := izy.DimensionOf(kind); err != nil {
		return izy.Measurement{}, err
	}
	v, unit, err := izy.ParseQuantity(q)
	if err != nil {
		return izy.Measurement{}, err
	}
	if _, err := izy.NormalizeValue(kind, v, unit); err != nil {
		return izy.Measurement{}, err
	}
	return izy.Measurement{Kind: kind, Value: v, Unit: unit}, nil
}

// measureFlags collects repeated --measure flags.
type measureFlags []string

func (m *measureFlags) String() string     { return strings.Join(*m, " ") }
func (m *measureFlags) Set(v string) error { *m = append(*m, v); return nil }

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
