package server_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
)

// The fuzz tests drive each request decoder (decode + validate) directly, without a
// database. Every input must either be refused with an EINVALID *izy.Error, or be
// accepted and then survive a round trip: encoding the accepted value and decoding it
// again gives the same value.

// wantInvalid fails unless err is a domain error with code invalid.
func wantInvalid(t *testing.T, err error) {
	t.Helper()
	var e *izy.Error
	if !errors.As(err, &e) || e.Code != izy.EINVALID || e.Message == "" {
		t.Fatalf("error %v (%T) is not an EINVALID *izy.Error", err, err)
	}
}

// sameJSON fails unless a and b encode to the same JSON.
func sameJSON(t *testing.T, a, b any) {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("marshal: %v %v", err1, err2)
	}
	if string(ja) != string(jb) {
		t.Fatalf("round trip changed the value:\n%s\n%s", ja, jb)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seeds(f *testing.F, bodies ...string) {
	for _, b := range append(bodies, ``, `{}`, `null`, `[]`, `{"a":1}`, `{} x`, "{\"x\":\"\xff\"}", `{"version":1e999}`) {
		f.Add([]byte(b))
	}
}

func FuzzDecodeLogin(f *testing.F) {
	seeds(f, `{"username":"admin","password":"secret"}`, `{"username":" a ","password":"p"}`, `{"username":1}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := server.DecodeLogin(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if l.Username == "" || l.Password == "" {
			t.Fatalf("accepted empty credentials %+v", l)
		}
		again, err := server.DecodeLogin(marshal(t, l))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, l, again)
	})
}

func FuzzDecodePasswordChange(f *testing.F) {
	seeds(f, `{"current_password":"old one","new_password":"a new password"}`, `{"new_password":"x"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := server.DecodePasswordChange(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if err := izy.ValidatePassword(p.NewPassword); err != nil || p.CurrentPassword == "" {
			t.Fatalf("accepted %+v", p)
		}
		again, err := server.DecodePasswordChange(marshal(t, p))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, p, again)
	})
}

func FuzzDecodeHandshake(f *testing.F) {
	seeds(f, `{"client_version":"1.2.3","protocol_version":1,"client_id":"x"}`, `{"client_version":"v1","protocol_version":-1}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := server.DecodeHandshake(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if h.ClientVersion == "" || h.ProtocolVersion < 1 {
			t.Fatalf("accepted %+v", h)
		}
		server.CompareVersions(h.ClientVersion, "1.2.3") // must not panic
		again, err := server.DecodeHandshake(marshal(t, h))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, h, again)
	})
}

func FuzzDecodeCustomer(f *testing.F) {
	seeds(f, `{"number":"K1","name":"Alpha","contacts":[{"name":"Kern","phone":"1"}]}`, `{"number":" ","name":"x"}`, `{"id":"x","number":"1","name":"2"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := server.DecodeCustomer(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if err := c.Validate(); err != nil || c.Version != 0 {
			t.Fatalf("accepted an invalid customer %+v: %v", c, err)
		}
		again, err := server.DecodeCustomer(marshal(t, c))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, c, again)
	})
}

var current = struct {
	customer   izy.Customer
	location   izy.Location
	device     izy.Device
	instrument izy.Instrument
	user       izy.User
}{
	customer: izy.Customer{ID: "0190a4c2-7d1e-7000-8000-000000000001", Number: "K1", Name: "Alpha", Version: 3, Seq: 9, CreatedAt: time.Unix(1e9, 0).UTC()},
	location: izy.Location{ID: "0190a4c2-7d1e-7000-8000-000000000002", CustomerID: "0190a4c2-7d1e-7000-8000-000000000001", Kind: "property", Name: "Werk", Version: 2},
	device: izy.Device{ID: "0190a4c2-7d1e-7000-8000-000000000003", CustomerID: "0190a4c2-7d1e-7000-8000-000000000001", InventoryID: "D1",
		Designation: "Drill", ProtectionClass: "I", CableLengthM: 5, IntervalMonths: 12, Status: "active", Version: 4,
		NextDue: izy.Date{Year: 2026, Month: 1, Day: 1}, LastResult: "pass", Medical: &izy.MedicalInfo{UDI: "u"}},
	instrument: izy.Instrument{ID: "0190a4c2-7d1e-7000-8000-000000000004", Type: "Secutest", SerialNumber: "S1",
		CalibrationDue: izy.Date{Year: 2026, Month: 1, Day: 1}, Status: "active", Version: 1},
	user: izy.User{ID: "0190a4c2-7d1e-7000-8000-000000000005", Username: "ina", Role: "inspector", Version: 2,
		Grants: []izy.Grant{{CustomerID: "0190a4c2-7d1e-7000-8000-000000000001", Access: "write"}}},
}

func FuzzDecodeCustomerUpdate(f *testing.F) {
	for _, b := range []string{`{"version":3,"name":"Beta"}`, `{"version":3,"number":"K1","name":"x","id":"0190a4c2-7d1e-7000-8000-000000000009"}`, `{"name":"x"}`} {
		f.Add([]byte(b), true)
		f.Add([]byte(b), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		cur := current.customer
		c, err := server.DecodeCustomerUpdate(body, &cur, patch)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if c.ID != cur.ID || c.Version < 1 || c.Seq != cur.Seq || c.Validate() != nil {
			t.Fatalf("accepted %+v", c)
		}
		again, err := server.DecodeCustomerUpdate(marshal(t, c), &cur, false)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, c, again)
	})
}

func FuzzDecodeLocation(f *testing.F) {
	seeds(f, `{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","kind":"property","name":"Werk"}`,
		`{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","parent_id":"0190a4c2-7d1e-7000-8000-000000000002","kind":"room","name":"R"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := server.DecodeLocation(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if l.Validate() != nil || l.Version != 0 {
			t.Fatalf("accepted %+v", l)
		}
		again, err := server.DecodeLocation(marshal(t, l))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, l, again)
	})
}

func FuzzDecodeLocationUpdate(f *testing.F) {
	f.Add([]byte(`{"version":2,"name":"Neu"}`), true)
	f.Add([]byte(`{"version":2,"name":"Neu","kind":"building","parent_id":"0190a4c2-7d1e-7000-8000-000000000009"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		cur := current.location
		l, err := server.DecodeLocationUpdate(body, &cur, patch)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if l.ID != cur.ID || l.CustomerID != cur.CustomerID || l.Version < 1 || l.Validate() != nil {
			t.Fatalf("accepted %+v", l)
		}
		again, err := server.DecodeLocationUpdate(marshal(t, l), &cur, false)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, l, again)
	})
}

func FuzzDecodeDevice(f *testing.F) {
	seeds(f, `{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","inventory_id":"D1","designation":"Drill","protection_class":"I","cable_length_m":5}`,
		`{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","inventory_id":"D1","designation":"Heater","protection_class":"I","heating_elements":true,"heating_power_kw":6,"medical":{"udi":"x","applied_parts_bf":2},"colour":"red","next_due":"2030-01-01"}`,
		`{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","inventory_id":"D1","designation":"x","protection_class":"IV"}`,
		`{"cable_length_m":-1}`, `{"heating_power_kw":1e308}`, `{"standard":"VDE 0701-0702:2008"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := server.DecodeDevice(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if d.Validate() != nil || d.Version != 0 || !d.NextDue.IsZero() || d.LastResult != "" {
			t.Fatalf("accepted %+v", d)
		}
		again, err := server.DecodeDevice(marshal(t, d))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, d, again)
	})
}

func FuzzDecodeDeviceUpdate(f *testing.F) {
	f.Add([]byte(`{"version":4,"designation":"Saw"}`), true)
	f.Add([]byte(`{"version":4,"medical":null,"location_id":null}`), true)
	f.Add([]byte(`{"version":4,"customer_id":"0190a4c2-7d1e-7000-8000-000000000009","inventory_id":"x","designation":"x","protection_class":"II"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		cur := current.device
		m := *cur.Medical
		cur.Medical = &m
		d, err := server.DecodeDeviceUpdate(body, &cur, patch)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if d.ID != cur.ID || d.CustomerID != cur.CustomerID || d.NextDue != cur.NextDue || d.LastResult != cur.LastResult || d.Version < 1 || d.Validate() != nil {
			t.Fatalf("accepted %+v", d)
		}
		if cur.Medical.UDI != "u" {
			t.Fatal("PATCH changed the stored device's medical info in place")
		}
		again, err := server.DecodeDeviceUpdate(marshal(t, d), &cur, false)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, d, again)
	})
}

func FuzzDecodeInstrument(f *testing.F) {
	seeds(f, `{"type":"Secutest","serial_number":"S1","calibration_due":"2026-01-31"}`, `{"type":"T","serial_number":"S","calibration_due":"2026-02-30"}`,
		`{"type":"T","serial_number":"S","calibration_due":20260101}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		i, err := server.DecodeInstrument(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if i.Validate() != nil || i.Version != 0 {
			t.Fatalf("accepted %+v", i)
		}
		again, err := server.DecodeInstrument(marshal(t, i))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, i, again)
	})
}

func FuzzDecodeInstrumentUpdate(f *testing.F) {
	f.Add([]byte(`{"version":1,"calibration_due":"2027-01-01"}`), true)
	f.Add([]byte(`{"version":1,"type":"x","serial_number":"y","calibration_due":"2027-01-01","status":"retired"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		cur := current.instrument
		i, err := server.DecodeInstrumentUpdate(body, &cur, patch)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if i.ID != cur.ID || i.Version < 1 || i.Validate() != nil {
			t.Fatalf("accepted %+v", i)
		}
		again, err := server.DecodeInstrumentUpdate(marshal(t, i), &cur, false)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, i, again)
	})
}

func FuzzDecodeUser(f *testing.F) {
	seeds(f, `{"username":"ina","role":"inspector","password":"long enough 1","grants":[{"customer_id":"0190a4c2-7d1e-7000-8000-000000000001","access":"read"}]}`,
		`{"username":"in a","role":"inspector","password":"long enough 1"}`, `{"username":"x","role":"admin","password":"short"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		u, pw, err := server.DecodeUser(body)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if u.Validate() != nil || izy.ValidatePassword(pw) != nil || u.Version != 0 {
			t.Fatalf("accepted %+v", u)
		}
		in := map[string]any{}
		json.Unmarshal(marshal(t, u), &in)
		in["password"] = pw
		again, pw2, err := server.DecodeUser(marshal(t, in))
		if err != nil || pw2 != pw {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, u, again)
	})
}

func FuzzDecodeUserUpdate(f *testing.F) {
	f.Add([]byte(`{"version":2,"role":"clerk"}`), true)
	f.Add([]byte(`{"version":2,"username":"ina","role":"admin","grants":[],"password":"long enough 1"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		cur := current.user
		u, pw, err := server.DecodeUserUpdate(body, &cur, patch)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if u.ID != cur.ID || u.Username != cur.Username || u.Version < 1 || u.Validate() != nil || pw != "" && izy.ValidatePassword(pw) != nil {
			t.Fatalf("accepted %+v", u)
		}
		if len(cur.Grants) != 1 || cur.Grants[0].Access != "write" {
			t.Fatal("PATCH changed the stored user's grants in place")
		}
		again, _, err := server.DecodeUserUpdate(marshal(t, u), &cur, false)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, u, again)
	})
}

// fuzzDevices are the devices a fuzzed test is evaluated against.
var fuzzDevices = []izy.Device{
	{ProtectionClass: "I", CableLengthM: 12.5, IntervalMonths: 12},
	{ProtectionClass: "I", CableLengthM: 3, HeatingElements: true, HeatingPowerKW: ptr(6.0), IntervalMonths: 6},
	{ProtectionClass: "II", IntervalMonths: 24},
	{ProtectionClass: "III", CableCrossMM2: 2.5, CableLengthM: 30, Standard: "DIN EN 50699", IntervalMonths: 12},
}

func FuzzDecodeTest(f *testing.F) {
	seeds(f,
		`{"device_id":"0190a4c2-7d1e-7000-8000-000000000003","date":"2025-06-01","visual_ok":true,"functional_ok":true,"measurements":[{"kind":"protective_conductor_resistance","value":0.2,"unit":"Ω"},{"kind":"insulation_resistance","value":300,"unit":"kohm","parameters":{"test_voltage":"500 V"}}]}`,
		`{"device_id":"0190a4c2-7d1e-7000-8000-000000000003","visual_ok":false,"functional_ok":true,"standard":"EN 50699","instrument_id":"0190a4c2-7d1e-7000-8000-000000000004"}`,
		`{"device_id":"0190a4c2-7d1e-7000-8000-000000000003","visual_ok":true,"functional_ok":true,"measurements":[{"kind":"touch_current","value":1e-300,"unit":"µA"}]}`,
		`{"device_id":"0190a4c2-7d1e-7000-8000-000000000003","visual_ok":true,"functional_ok":true,"measurements":[{"kind":"x","value":1,"unit":"Mohm"}]}`,
		`{"device_id":"0190a4c2-7d1e-7000-8000-000000000003","visual_ok":true,"functional_ok":true,"result":"pass"}`,
	)
	today := izy.Date{Year: 2025, Month: 6, Day: 15}
	f.Fuzz(func(t *testing.T, body []byte) {
		tst, err := server.DecodeTest(body, today)
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if !izy.ValidID(tst.DeviceID) || tst.Date.IsZero() || tst.Date.After(today.AddDays(1)) || tst.Result != "" {
			t.Fatalf("accepted %+v", tst)
		}
		// Round trip through the request shape.
		in := map[string]any{"id": tst.ID, "device_id": tst.DeviceID, "date": tst.Date, "standard": tst.Standard,
			"instrument_id": tst.InstrumentID, "visual_ok": tst.VisualOK, "functional_ok": tst.FunctionalOK, "comment": tst.Comment}
		var ms []map[string]any
		for _, m := range tst.Measurements {
			ms = append(ms, map[string]any{"kind": m.Kind, "value": m.Value, "unit": m.Unit, "parameters": m.Parameters})
		}
		in["measurements"] = ms
		again, err := server.DecodeTest(marshal(t, in), today)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		sameJSON(t, tst, again)
		// Evaluating never panics, and an evaluated test has a verdict everywhere.
		for _, d := range fuzzDevices {
			x := *again
			x.Measurements = append([]izy.Measurement(nil), again.Measurements...)
			rs, err := izy.RuleSetFor(izy.StandardFor(&x, &d))
			if err != nil {
				wantInvalid(t, err)
				continue
			}
			if err := rs.EvaluateAt(&d, &x, today); err != nil {
				wantInvalid(t, err)
				continue
			}
			if x.Result != izy.ResultPass && x.Result != izy.ResultFail || x.NextDue.IsZero() {
				t.Fatalf("evaluated test without verdict: %+v", x)
			}
			for _, m := range x.Measurements {
				if m.Limit == nil || m.Result != izy.ResultPass && m.Result != izy.ResultFail {
					t.Fatalf("measurement without limit or result: %+v", m)
				}
				if m.Result == izy.ResultFail && x.Result != izy.ResultFail {
					t.Fatal("a failed measurement in a passed test")
				}
			}
		}
	})
}

// FuzzDecodeJSON checks the shared decoder on an arbitrary target: it never panics and
// every refusal is an EINVALID error.
func FuzzDecodeJSON(f *testing.F) {
	seeds(f, `{"a":[1,2,{"b":null}]}`, `{"a":"\u0000"}`, `{"a":1}{"a":2}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			A json.RawMessage `json:"a"`
		}
		if err := server.DecodeJSON(body, &v); err != nil {
			wantInvalid(t, err)
		}
	})
}
