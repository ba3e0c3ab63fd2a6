package sqldb

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// feedJSONWant is what the feed sent before it wrote JSON itself: the row scanned into
// izy.Test / izy.Measurement as scanMeasurement does, then json.Marshal.
func feedJSONWant(t *testing.T, x izy.Test, rows []measRow) ([]byte, error) {
	t.Helper()
	x.Measurements = []izy.Measurement{}
	for _, r := range rows {
		m := izy.Measurement{Kind: r.kind, Value: r.value, Unit: r.unit, Result: r.result}
		if r.params != "" {
			if err := json.Unmarshal([]byte(r.params), &m.Parameters); err != nil {
				return nil, err
			}
		}
		if len(m.Parameters) == 0 {
			m.Parameters = nil
		}
		if r.lmin.Valid || r.lmax.Valid || r.lunit != "" {
			m.Limit = &izy.Limit{Unit: r.lunit}
			if r.lmin.Valid {
				m.Limit.Min = &r.lmin.Float64
			}
			if r.lmax.Valid {
				m.Limit.Max = &r.lmax.Float64
			}
		}
		x.Measurements = append(x.Measurements, m)
	}
	return json.Marshal(x)
}

type measRow struct {
	kind, unit, params, lunit, result string
	value                             float64
	lmin, lmax                        sql.NullFloat64
}

func feedJSONGot(x izy.Test, rows []measRow) ([]byte, error) {
	var meas []byte
	var err error
	for i, r := range rows {
		if i > 0 {
			meas = append(meas, ',')
		}
		meas, err = appendMeasurementJSON(meas, r.kind, r.value, r.unit, r.params, r.lmin, r.lmax, r.lunit, r.result)
		if err != nil {
			return nil, err
		}
	}
	return appendTestJSON(nil, &x, meas)
}

func checkFeedJSON(t *testing.T, x izy.Test, rows []measRow) {
	t.Helper()
	want, werr := feedJSONWant(t, x, rows)
	got, gerr := feedJSONGot(x, rows)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors differ: json.Marshal %v, feed %v (test %+v, rows %+v)", werr, gerr, x, rows)
	}
	if werr != nil || bytes.Equal(got, want) {
		return
	}
	// Stored parameters go out as stored. They are json.Marshal's own output, so the bytes
	// are the same, except where a key or value held invalid UTF-8: stored as \ufffd, which
	// json.Marshal writes as the character itself. The value must still be the same.
	canonical := true
	for _, r := range rows {
		var p map[string]string
		if r.params != "" && json.Unmarshal([]byte(r.params), &p) == nil && len(p) > 0 && mustJSON(p) != r.params {
			canonical = false
		}
	}
	var g, w any
	if canonical || json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
		t.Fatalf("feed JSON differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

var feedStrings = []string{"", "a", "Gehäuse", `quo"te`, `back\slash`, "<b>&amp;</b>", "tab\tnew\nline\r",
	"\x00\x01\x1f\x7f", "\b\f", "line\u2028sep\u2029", "bad\xffutf8\xc3", "emoji 😀", "Ω", "µA", "日本"}

var feedFloats = []float64{0, 1, -1, 0.1, 0.076, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, -2.5e-9,
	math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 1.0 / 3, math.Copysign(0, -1)}

func randomFeedTest(r *rand.Rand) (izy.Test, []measRow) {
	str := func() string { return feedStrings[r.IntN(len(feedStrings))] }
	flt := func() float64 { return feedFloats[r.IntN(len(feedFloats))] }
	nf := func() sql.NullFloat64 {
		if r.IntN(2) == 0 {
			return sql.NullFloat64{}
		}
		return sql.NullFloat64{Float64: flt(), Valid: true}
	}
	date := func() izy.Date {
		if r.IntN(4) == 0 {
			return izy.Date{}
		}
		return izy.Date{Year: 1990 + r.IntN(60), Month: time.Month(1 + r.IntN(12)), Day: 1 + r.IntN(28)}
	}
	x := izy.Test{ID: izy.NewID(), DeviceID: str(), CustomerID: str(), Date: date(), InspectorID: str(),
		Standard: str(), VisualOK: r.IntN(2) == 0, FunctionalOK: r.IntN(2) == 0, Result: str(), Comment: str(),
		NextDue: date(), Seq: r.Int64N(1 << 62), CreatedAt: time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).UTC()}
	if r.IntN(2) == 0 {
		s := str()
		x.InstrumentID = &s
	}
	var rows []measRow
	for range r.IntN(5) {
		m := measRow{kind: str(), unit: str(), lunit: str(), result: str(), value: flt(), lmin: nf(), lmax: nf()}
		if r.IntN(3) == 0 {
			m.lunit = ""
		}
		switch r.IntN(4) {
		case 0:
			m.params = "{}"
		case 1:
			m.params = ""
		default:
			p := map[string]string{}
			for range 1 + r.IntN(3) {
				p[str()] = str()
			}
			m.params = mustJSON(p)
		}
		rows = append(rows, m)
	}
	return x, rows
}

func TestFeedJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		x, rows := randomFeedTest(r)
		checkFeedJSON(t, x, rows)
	}
	// Values json.Marshal refuses are refused here too.
	x, _ := randomFeedTest(r)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkFeedJSON(t, x, []measRow{{kind: "k", value: bad}})
		checkFeedJSON(t, x, []measRow{{kind: "k", lmax: sql.NullFloat64{Float64: bad, Valid: true}}})
	}
	x.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	checkFeedJSON(t, x, nil)
	// Stored parameters that are not a JSON object fail the page rather than go out.
	x, _ = randomFeedTest(r)
	for _, p := range []string{`{"a":`, `[1]`, `"s"`, `{"a":"b"}x`} {
		if _, err := feedJSONGot(x, []measRow{{kind: "k", params: p}}); err == nil {
			t.Errorf("parameters %q: no error", p)
		}
	}
}

func FuzzFeedJSON(f *testing.F) {
	f.Add("Gehäuse", 0.076, "Ω", `<&>`, 1e-7, int64(12676))
	f.Add("\xff\u2028", 1e21, "", "\x00", -0.0, int64(0))
	f.Fuzz(func(t *testing.T, s1 string, v float64, s2, s3 string, lim float64, seq int64) {
		x := izy.Test{ID: s1, DeviceID: s2, CustomerID: s3, Standard: s1 + s2, Comment: s3, Seq: seq,
			Date: izy.Date{Year: 2026, Month: 11, Day: 24}, CreatedAt: time.Unix(seq%4e9, 0).UTC()}
		params := mustJSON(map[string]string{s1: s2, s3: s1})
		rows := []measRow{{kind: s1, value: v, unit: s2, params: params, lunit: s3, result: s1,
			lmax: sql.NullFloat64{Float64: lim, Valid: true}}}
		checkFeedJSON(t, x, rows)
	})
}
