package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// The sync feed writes the JSON of tests and their measurements itself, straight from
// the rows, instead of scanning into izy.Test and izy.Measurement and calling
// json.Marshal: a checkout sends every test of a customer (416k tests with 1M
// measurements in the benchmark), and decoding each measurement's parameters only to
// encode them again, plus json.Marshal's reflection, took a third of the server's CPU.
// The bytes are exactly what json.Marshal writes for the same values
// (TestFeedJSONMatchesMarshal and FuzzFeedJSON compare them), so a client cannot tell
// the two apart.

// measurementSpans holds the wire JSON of the measurements of several tests in one
// buffer: each test's measurements are one contiguous span ("{…},{…}"), because they are
// read in (test_id, position) order.
type measurementSpans struct {
	buf   []byte
	spans map[string][2]int
}

// feedMeasurementCols are the columns readMeasurementsJSON reads: measurementCols without
// position and base_value, which the wire does not carry (each column read costs time
// on a million rows).
const feedMeasurementCols = "test_id, kind, value, unit, parameters, limit_min, limit_max, limit_unit, result"

// readMeasurementsJSON runs q (selecting feedMeasurementCols in test_id, position order)
// and returns the JSON of each test's measurements.
func (t *tx) readMeasurementsJSON(ctx context.Context, q string, args ...any) (*measurementSpans, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, dbErr("load measurements", err)
	}
	defer rows.Close()
	// A snapshot page of 1,000 tests holds about 2,500 measurements of ~200 bytes.
	ms := &measurementSpans{buf: make([]byte, 0, 512<<10), spans: map[string][2]int{}}
	var (
		testID, kind, unit, params, lunit, result string
		value                                     float64
		lmin, lmax                                sql.NullFloat64
		cur                                       string
		start                                     int
	)
	for rows.Next() {
		if err := rows.Scan(&testID, &kind, &value, &unit, &params, &lmin, &lmax, &lunit, &result); err != nil {
			return nil, dbErr("load measurements", err)
		}
		if testID != cur {
			if cur != "" {
				ms.spans[cur] = [2]int{start, len(ms.buf)}
			}
			cur, start = testID, len(ms.buf)
		} else {
			ms.buf = append(ms.buf, ',')
		}
		ms.buf, err = appendMeasurementJSON(ms.buf, kind, value, unit, params, lmin, lmax, lunit, result)
		if err != nil {
			return nil, dbErr("load measurements", fmt.Errorf("a measurement of test %s: %w", testID, err))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("load measurements", err)
	}
	if cur != "" {
		ms.spans[cur] = [2]int{start, len(ms.buf)}
	}
	return ms, nil
}

// of returns the JSON of test id's measurements without the brackets ("" for none).
func (ms *measurementSpans) of(id string) []byte {
	sp, ok := ms.spans[id]
	if !ok {
		return nil
	}
	return ms.buf[sp[0]:sp[1]]
}

// appendMeasurementJSON appends json.Marshal(izy.Measurement{…}) of one measurement row.
// params is the stored JSON object of the parameters ("{}" when there are none), which
// is written by json.Marshal of a map and so is already in its canonical form.
func appendMeasurementJSON(b []byte, kind string, value float64, unit, params string, lmin, lmax sql.NullFloat64, lunit, result string) ([]byte, error) {
	var err error
	b = append(b, `{"kind":`...)
	b = izy.AppendJSONString(b, kind)
	b = append(b, `,"value":`...)
	if b, err = izy.AppendJSONFloat(b, value); err != nil {
		return b, err
	}
	b = append(b, `,"unit":`...)
	b = izy.AppendJSONString(b, unit)
	if params != "" && params != "{}" && params != "null" {
		if params[0] != '{' || !json.Valid([]byte(params)) {
			return b, fmt.Errorf("parameters are not a JSON object: %.40q", params)
		}
		b = append(b, `,"parameters":`...)
		b = append(b, params...)
	}
	b = append(b, `,"limit":`...)
	if lmin.Valid || lmax.Valid || lunit != "" {
		b = append(b, '{')
		if lmin.Valid {
			b = append(b, `"min":`...)
			if b, err = izy.AppendJSONFloat(b, lmin.Float64); err != nil {
				return b, err
			}
			b = append(b, ',')
		}
		if lmax.Valid {
			b = append(b, `"max":`...)
			if b, err = izy.AppendJSONFloat(b, lmax.Float64); err != nil {
				return b, err
			}
			b = append(b, ',')
		}
		b = append(b, `"unit":`...)
		b = izy.AppendJSONString(b, lunit)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"result":`...)
	b = izy.AppendJSONString(b, result)
	return append(b, '}'), nil
}

// appendTestJSON appends json.Marshal(x) with the measurements' JSON meas (without
// brackets) in place of x.Measurements.
func appendTestJSON(b []byte, x *izy.Test, meas []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = izy.AppendJSONString(b, x.ID)
	b = append(b, `,"device_id":`...)
	b = izy.AppendJSONString(b, x.DeviceID)
	b = append(b, `,"customer_id":`...)
	b = izy.AppendJSONString(b, x.CustomerID)
	b = append(b, `,"date":`...)
	b = x.Date.AppendJSON(b)
	b = append(b, `,"inspector_id":`...)
	b = izy.AppendJSONString(b, x.InspectorID)
	b = append(b, `,"instrument_id":`...)
	if x.InstrumentID == nil {
		b = append(b, "null"...)
	} else {
		b = izy.AppendJSONString(b, *x.InstrumentID)
	}
	b = append(b, `,"standard":`...)
	b = izy.AppendJSONString(b, x.Standard)
	b = append(b, `,"visual_ok":`...)
	b = strconv.AppendBool(b, x.VisualOK)
	b = append(b, `,"functional_ok":`...)
	b = strconv.AppendBool(b, x.FunctionalOK)
	b = append(b, `,"measurements":[`...)
	b = append(b, meas...)
	b = append(b, `],"result":`...)
	b = izy.AppendJSONString(b, x.Result)
	b = append(b, `,"comment":`...)
	b = izy.AppendJSONString(b, x.Comment)
	b = append(b, `,"next_due":`...)
	b = x.NextDue.AppendJSON(b)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, x.Seq, 10)
	b = append(b, `,"created_at":`...)
	b, err := appendJSONTime(b, x.CreatedAt)
	return append(b, '}'), err
}

// appendJSONTime appends json.Marshal(t): RFC 3339 with nanoseconds, for years 0–9999.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// testRowsJSON sets the Data of rows (tests, in the order of tests) from their
// measurements ms; the rows' JSON shares one buffer.
func testRowsJSON(rows []izy.Row, tests []*izy.Test, ms *measurementSpans) error {
	size := len(ms.buf)
	for range tests {
		size += 400
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(tests))
	var err error
	for i, x := range tests {
		if buf, err = appendTestJSON(buf, x, ms.of(x.ID)); err != nil {
			return fmt.Errorf("encode test %s: %w", x.ID, err)
		}
		ends[i] = len(buf)
	}
	start := 0
	for i := range tests {
		rows[i].Data = json.RawMessage(buf[start:ends[i]:ends[i]])
		start = ends[i]
	}
	return nil
}
