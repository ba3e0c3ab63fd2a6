package izytroniq

import "time"

// Test is one safety test of a device. A saved test is never edited: a correction is a
// new test, so the history stays an audit trail.
type Test struct {
	ID           string        `json:"id"`
	DeviceID     string        `json:"device_id"`
	CustomerID   string        `json:"customer_id"`
	Date         Date          `json:"date"`
	InspectorID  string        `json:"inspector_id"`
	InstrumentID *string       `json:"instrument_id"`
	Standard     string        `json:"standard"`
	VisualOK     bool          `json:"visual_ok"`
	FunctionalOK bool          `json:"functional_ok"`
	Measurements []Measurement `json:"measurements"`
	Result       string        `json:"result"`
	Comment      string        `json:"comment"`
	NextDue      Date          `json:"next_due"`
	Seq          int64         `json:"seq"`
	CreatedAt    time.Time     `json:"created_at"`
}

// Measurement is one measured value of a test, with the limit that applied and the result,
// both evaluated by the server (or the field client) from the rule set, never by the caller.
type Measurement struct {
	Kind       string            `json:"kind"`
	Value      float64           `json:"value"`
	Unit       string            `json:"unit"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Limit      *Limit            `json:"limit"`
	Result     string            `json:"result"`
}

// Limit is the bound a measurement was held against, in a unit people read.
type Limit struct {
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
	Unit string   `json:"unit"`
}

// TestFilter selects tests for a list.
type TestFilter struct {
	GrantedTo  string // when set, only customers this user holds a grant for
	DeviceID   string
	CustomerID string
	Result     string
	Page
}

// MaxMeasurements bounds the measurements of one test.
const MaxMeasurements = 50
