package izytroniq

import (
	"strings"
	"time"
)

// Instrument is a test instrument; it must be calibrated by its due date.
type Instrument struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	Manufacturer   string    `json:"manufacturer"`
	Model          string    `json:"model"`
	SerialNumber   string    `json:"serial_number"`
	CalibrationDue Date      `json:"calibration_due"`
	Status         string    `json:"status"`
	Version        int64     `json:"version"`
	Seq            int64     `json:"seq"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Validate checks the fields of i.
func (i *Instrument) Validate() error {
	i.SerialNumber = strings.TrimSpace(i.SerialNumber)
	i.Type = strings.TrimSpace(i.Type)
	if err := checkText("type", i.Type, 1, 200); err != nil {
		return err
	}
	if err := checkText("serial_number", i.SerialNumber, 1, 200); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"manufacturer", i.Manufacturer}, {"model", i.Model}} {
		if err := checkText(f.name, f.v, 0, 200); err != nil {
			return err
		}
	}
	if i.CalibrationDue.IsZero() {
		return Errorf(EINVALID, "calibration_due is required")
	}
	if i.Status == "" {
		i.Status = DeviceActive
	}
	if i.Status != DeviceActive && i.Status != DeviceRetired {
		return Errorf(EINVALID, "status must be active or retired")
	}
	return nil
}

// InstrumentFilter selects instruments for a list.
type InstrumentFilter struct {
	Colour  Colour
	Today   Date
	Windows EscalationWindows
	Page
}
