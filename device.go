package izytroniq

import (
	"math"
	"strings"
	"time"
)

// ProtectionClass is the electrical protection class of a device (IEC 61140).
type ProtectionClass string

// The three protection classes.
const (
	ClassI   ProtectionClass = "I"
	ClassII  ProtectionClass = "II"
	ClassIII ProtectionClass = "III"
)

// Valid reports whether c is I, II or III.
func (c ProtectionClass) Valid() bool { return c == ClassI || c == ClassII || c == ClassIII }

// Device statuses.
const (
	DeviceActive  = "active"
	DeviceRetired = "retired"
)

// Result of a test or a measurement.
const (
	ResultPass = "pass"
	ResultFail = "fail"
)

// Device is a portable object that must be tested periodically.
type Device struct {
	ID              string          `json:"id"`
	CustomerID      string          `json:"customer_id"`
	LocationID      *string         `json:"location_id"`
	InventoryID     string          `json:"inventory_id"`
	Designation     string          `json:"designation"`
	Type            string          `json:"type"`
	Manufacturer    string          `json:"manufacturer"`
	Model           string          `json:"model"`
	SerialNumber    string          `json:"serial_number"`
	ProtectionClass ProtectionClass `json:"protection_class"`
	CableLengthM    float64         `json:"cable_length_m"`
	CableCrossMM2   float64         `json:"cable_cross_section_mm2"`
	HeatingElements bool            `json:"heating_elements"`
	HeatingPowerKW  *float64        `json:"heating_power_kw"`
	CostCentre      string          `json:"cost_centre"`
	Department      string          `json:"department"`
	Standard        string          `json:"standard"`
	IntervalMonths  int             `json:"interval_months"`
	Comment         string          `json:"comment"`
	Status          string          `json:"status"`
	Tag             string          `json:"tag"`
	Medical         *MedicalInfo    `json:"medical"`
	LastTestDate    Date            `json:"last_test_date"`
	LastResult      string          `json:"last_result"`
	NextDue         Date            `json:"next_due"`
	Version         int64           `json:"version"`
	Seq             int64           `json:"seq"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// MedicalInfo holds the extra fields of a medical electrical device (IEC 62353).
type MedicalInfo struct {
	UDI          string `json:"udi"`
	AppliedB     int    `json:"applied_parts_b"`
	AppliedBF    int    `json:"applied_parts_bf"`
	AppliedCF    int    `json:"applied_parts_cf"`
	NetworkAware bool   `json:"network"`
}

// DefaultIntervalMonths is used when a device names no interval.
const DefaultIntervalMonths = 12

// IntervalPresets are the test intervals the DGUV V3 guidance (DGUV Information 203-071,
// table 1B) suggests, offered as presets in forms.
var IntervalPresets = map[string]int{
	"portable":          6,
	"construction_site": 3,
	"office":            24,
	"fixed":             48,
	"default":           DefaultIntervalMonths,
}

// Validate checks and normalises the fields of d on their own, filling defaults.
func (d *Device) Validate() error {
	for _, f := range []*string{&d.InventoryID, &d.Designation, &d.SerialNumber, &d.Type, &d.Manufacturer, &d.Model, &d.Tag} {
		*f = strings.TrimSpace(*f)
	}
	if !ValidID(d.CustomerID) {
		return Errorf(EINVALID, "customer_id must be a valid id")
	}
	if d.LocationID != nil && !ValidID(*d.LocationID) {
		return Errorf(EINVALID, "location_id must be a valid id or null")
	}
	if err := checkText("inventory_id", d.InventoryID, 1, 64); err != nil {
		return err
	}
	if err := checkText("designation", d.Designation, 1, 200); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"type", d.Type}, {"manufacturer", d.Manufacturer}, {"model", d.Model},
		{"serial_number", d.SerialNumber}, {"cost_centre", d.CostCentre},
		{"department", d.Department}, {"tag", d.Tag}, {"standard", d.Standard},
	} {
		if err := checkText(f.name, f.v, 0, 200); err != nil {
			return err
		}
	}
	if err := checkText("comment", d.Comment, 0, 4000); err != nil {
		return err
	}
	if !d.ProtectionClass.Valid() {
		return Errorf(EINVALID, "protection_class must be I, II or III")
	}
	if !finiteIn(d.CableLengthM, 0, 1000) {
		return Errorf(EINVALID, "cable_length_m must be between 0 and 1000")
	}
	if !finiteIn(d.CableCrossMM2, 0, 500) {
		return Errorf(EINVALID, "cable_cross_section_mm2 must be between 0 and 500")
	}
	if d.HeatingPowerKW != nil {
		if !finiteIn(*d.HeatingPowerKW, 0, 1000) {
			return Errorf(EINVALID, "heating_power_kw must be between 0 and 1000")
		}
		if !d.HeatingElements {
			return Errorf(EINVALID, "heating_power_kw is given but heating_elements is false")
		}
	}
	if d.IntervalMonths == 0 {
		d.IntervalMonths = DefaultIntervalMonths
	}
	if d.IntervalMonths < 1 || d.IntervalMonths > 120 {
		return Errorf(EINVALID, "interval_months must be between 1 and 120")
	}
	if d.Status == "" {
		d.Status = DeviceActive
	}
	if d.Status != DeviceActive && d.Status != DeviceRetired {
		return Errorf(EINVALID, "status must be active or retired")
	}
	if d.Standard != "" {
		rs, err := RuleSetFor(d.Standard)
		if err != nil {
			return err
		}
		d.Standard = rs.Standard // store the canonical name, whatever alias was typed
	}
	if m := d.Medical; m != nil {
		if err := checkText("medical.udi", m.UDI, 0, 200); err != nil {
			return err
		}
		for _, n := range []int{m.AppliedB, m.AppliedBF, m.AppliedCF} {
			if n < 0 || n > 100 {
				return Errorf(EINVALID, "applied part counts must be between 0 and 100")
			}
		}
	}
	return nil
}

func finiteIn(v, lo, hi float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi
}

// DeviceFilter selects devices for a list.
type DeviceFilter struct {
	GrantedTo  string // when set, only customers this user holds a grant for
	CustomerID string
	LocationID string // the location and everything below it
	Colour     Colour // "" for any
	Status     string // "" for any
	Query      string // text search on inventory ID, serial number, designation
	Today      Date   // the day colours are computed for
	Windows    EscalationWindows
	Page
}
