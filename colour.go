package izytroniq

// Colour is a dashboard colour of a device or an instrument.
type Colour string

// The four dashboard colours.
const (
	Green  Colour = "green"  // in date, last test passed
	Yellow Colour = "yellow" // due within the first escalation window
	Orange Colour = "orange" // due within the second escalation window
	Red    Colour = "red"    // overdue, never tested, or last test failed
)

// Valid reports whether c is one of the four colours.
func (c Colour) Valid() bool { return c == Green || c == Yellow || c == Orange || c == Red }

// EscalationWindows are the days before a due date at which a device turns yellow
// (FirstDays) and orange (SecondDays). FirstDays > SecondDays >= 0.
type EscalationWindows struct {
	FirstDays  int `json:"first_days" toml:"first_days"`
	SecondDays int `json:"second_days" toml:"second_days"`
}

// DefaultWindows are the windows used when none are configured.
var DefaultWindows = EscalationWindows{FirstDays: 30, SecondDays: 7}

// Validate checks that the windows are ordered and sensible.
func (w EscalationWindows) Validate() error {
	if w.SecondDays < 0 || w.FirstDays <= w.SecondDays || w.FirstDays > 366 {
		return Errorf(EINVALID, "escalation windows must satisfy 0 <= second_days < first_days <= 366")
	}
	return nil
}

// Bounds returns the last due date that is orange and the last that is yellow on today:
// a due date d is red when d < today, orange when today <= d <= orangeUntil, yellow when
// orangeUntil < d <= yellowUntil, and green after. The store uses the same bounds in SQL.
func (w EscalationWindows) Bounds(today Date) (orangeUntil, yellowUntil Date) {
	return today.AddDays(w.SecondDays), today.AddDays(w.FirstDays)
}

// DueColour colours a due date on today. A zero due date (never tested) is red.
func DueColour(due, today Date, w EscalationWindows) Colour {
	if due.IsZero() || due.Before(today) {
		return Red
	}
	orange, yellow := w.Bounds(today)
	switch {
	case !due.After(orange):
		return Orange
	case !due.After(yellow):
		return Yellow
	}
	return Green
}

// DeviceColour colours a device: red when never tested, last failed, or overdue.
func DeviceColour(d *Device, today Date, w EscalationWindows) Colour {
	if d.LastResult == ResultFail {
		return Red
	}
	return DueColour(d.NextDue, today, w)
}

// InstrumentColour colours an instrument by its calibration due date.
func InstrumentColour(i *Instrument, today Date, w EscalationWindows) Colour {
	return DueColour(i.CalibrationDue, today, w)
}

// ColourCounts counts things per dashboard colour.
type ColourCounts struct {
	Green  int64 `json:"green"`
	Yellow int64 `json:"yellow"`
	Orange int64 `json:"orange"`
	Red    int64 `json:"red"`
}

// Dashboard is the answer of GET /api/v1/dashboard.
type Dashboard struct {
	Devices     ColourCounts `json:"devices"`
	Instruments ColourCounts `json:"instruments"`
	Today       Date         `json:"today"`
}
