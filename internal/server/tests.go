package server

import (
	"net/http"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// Tests are append-only: there is no update and no delete. A correction is a new test.

// testInput is the body of POST /api/v1/tests. It holds only what an inspector records;
// limits and results are the server's to decide, so a body naming them is refused.
type testInput struct {
	ID           string             `json:"id"`
	DeviceID     string             `json:"device_id"`
	Date         izy.Date           `json:"date"`
	Standard     string             `json:"standard"`
	InstrumentID *string            `json:"instrument_id"`
	VisualOK     *bool              `json:"visual_ok"`
	FunctionalOK *bool              `json:"functional_ok"`
	Comment      string             `json:"comment"`
	Measurements []measurementInput `json:"measurements"`
}

type measurementInput struct {
	Kind       string            `json:"kind"`
	Value      *float64          `json:"value"`
	Unit       string            `json:"unit"`
	Parameters map[string]string `json:"parameters"`
}

// decodeTest decodes the body of POST /api/v1/tests and checks what can be checked
// without the device; the rule set checks the rest when it evaluates. A missing date
// means today.
func decodeTest(body []byte, today izy.Date) (*izy.Test, error) {
	var in testInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.ID != "" && !izy.ValidID(in.ID):
		return nil, izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	case in.DeviceID == "":
		return nil, izy.Errorf(izy.EINVALID, "device_id is required")
	case !izy.ValidID(in.DeviceID):
		return nil, izy.Errorf(izy.EINVALID, "device_id must be a valid id")
	case in.InstrumentID != nil && !izy.ValidID(*in.InstrumentID):
		return nil, izy.Errorf(izy.EINVALID, "instrument_id must be a valid id or null")
	case in.VisualOK == nil:
		return nil, izy.Errorf(izy.EINVALID, "visual_ok is required (true or false)")
	case in.FunctionalOK == nil:
		return nil, izy.Errorf(izy.EINVALID, "functional_ok is required (true or false)")
	case len(in.Standard) > 100:
		return nil, izy.Errorf(izy.EINVALID, "standard must have at most 100 characters")
	case len(in.Measurements) > izy.MaxMeasurements:
		return nil, izy.Errorf(izy.EINVALID, "a test has at most %d measurements (got %d)", izy.MaxMeasurements, len(in.Measurements))
	}
	t := &izy.Test{
		ID: in.ID, DeviceID: in.DeviceID, Date: in.Date, Standard: strings.TrimSpace(in.Standard),
		InstrumentID: in.InstrumentID, VisualOK: *in.VisualOK, FunctionalOK: *in.FunctionalOK,
		Comment: in.Comment, Measurements: make([]izy.Measurement, len(in.Measurements)),
	}
	if t.Date.IsZero() {
		t.Date = today
	}
	if t.Date.After(today.AddDays(1)) {
		return nil, izy.Errorf(izy.EINVALID, "date %s lies in the future", t.Date)
	}
	for i, m := range in.Measurements {
		if m.Kind == "" {
			return nil, izy.Errorf(izy.EINVALID, "measurement %d: kind is required (one of %s)", i+1, strings.Join(izy.MeasurementKinds(), ", "))
		}
		if m.Value == nil {
			return nil, izy.Errorf(izy.EINVALID, "measurement %d: value is required", i+1)
		}
		if m.Unit == "" {
			return nil, izy.Errorf(izy.EINVALID, "measurement %d: unit is required (one of %s)", i+1, strings.Join(izy.Units(), " "))
		}
		if len(m.Kind) > 64 || len(m.Unit) > 16 {
			return nil, izy.Errorf(izy.EINVALID, "measurement %d: kind or unit is too long", i+1)
		}
		t.Measurements[i] = izy.Measurement{Kind: m.Kind, Value: *m.Value, Unit: m.Unit, Parameters: m.Parameters}
	}
	return t, nil
}

func (s *Server) createTest(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	today := s.today()
	t, err := decodeTest(body, today)
	if err != nil {
		return err
	}
	ctx := r.Context()
	d, err := s.store.GetDevice(ctx, t.DeviceID)
	if err != nil {
		return hide(err, "device")
	}
	if err := mayWrite(ctx, d.CustomerID, "device"); err != nil {
		return err
	}
	if d.Status == izy.DeviceRetired {
		return izy.Errorf(izy.ECONFLICT, "the device is retired; set its status to active before testing it")
	}
	if t.InstrumentID != nil {
		if err := s.checkInstrument(r, *t.InstrumentID); err != nil {
			return err
		}
	}
	rs, err := izy.RuleSetFor(izy.StandardFor(t, d))
	if err != nil {
		return err
	}
	if err := rs.EvaluateAt(d, t, today); err != nil {
		return err
	}
	t.CustomerID = d.CustomerID
	t.InspectorID = caller(ctx).ID
	if err := s.store.CreateTest(ctx, t); err != nil {
		return err
	}
	created(w, "/api/v1/tests/"+t.ID, t)
	return nil
}

// checkInstrument refuses a test taken with an unknown or retired instrument.
func (s *Server) checkInstrument(r *http.Request, id string) error {
	inst, err := s.store.GetInstrument(r.Context(), id)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return izy.Errorf(izy.EINVALID, "instrument_id names no known instrument")
	}
	if err != nil {
		return err
	}
	if inst.Status == izy.DeviceRetired {
		return izy.Errorf(izy.EINVALID, "instrument %s (%s) is retired", inst.SerialNumber, inst.Type)
	}
	return nil
}

func (s *Server) listTests(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "device_id", "customer_id", "result")
	f := izy.TestFilter{
		GrantedTo:  grantFilter(r.Context()),
		DeviceID:   q.id("device_id"),
		CustomerID: q.id("customer_id"),
		Result:     q.oneOf("result", izy.ResultPass, izy.ResultFail),
		Page:       q.page(),
	}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListTests(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) getTest(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	t, err := s.store.GetTest(r.Context(), id)
	if err != nil {
		return hide(err, "test")
	}
	if err := mayRead(r.Context(), t.CustomerID, "test"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
