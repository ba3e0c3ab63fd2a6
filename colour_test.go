package izytroniq_test

import (
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func TestDueColour(t *testing.T) {
	narrow := izy.EscalationWindows{FirstDays: 14, SecondDays: 0}
	for _, tt := range []struct {
		name string
		due  izy.Date
		w    izy.EscalationWindows
		want izy.Colour
	}{
		{"never tested", izy.Date{}, izy.DefaultWindows, izy.Red},
		{"overdue since yesterday", today.AddDays(-1), izy.DefaultWindows, izy.Red},
		{"due today", today, izy.DefaultWindows, izy.Orange},
		{"last orange day", today.AddDays(7), izy.DefaultWindows, izy.Orange},
		{"first yellow day", today.AddDays(8), izy.DefaultWindows, izy.Yellow},
		{"last yellow day", today.AddDays(30), izy.DefaultWindows, izy.Yellow},
		{"first green day", today.AddDays(31), izy.DefaultWindows, izy.Green},
		{"far ahead", today.AddDays(3650), izy.DefaultWindows, izy.Green},
		{"no orange window: due today", today, narrow, izy.Orange},
		{"no orange window: tomorrow", today.AddDays(1), narrow, izy.Yellow},
		{"narrow: last yellow", today.AddDays(14), narrow, izy.Yellow},
		{"narrow: green", today.AddDays(15), narrow, izy.Green},
		{"across a year end", izy.Date{Year: 2026, Month: 1, Day: 5}, izy.DefaultWindows, izy.Yellow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := today
			if tt.name == "across a year end" {
				now = izy.Date{Year: 2025, Month: 12, Day: 20}
			}
			if got := izy.DueColour(tt.due, now, tt.w); got != tt.want {
				t.Fatalf("due %s on %s: got %s, want %s", tt.due, now, got, tt.want)
			}
		})
	}
}

func TestDeviceAndInstrumentColour(t *testing.T) {
	far := today.AddDays(100)
	for _, tt := range []struct {
		name string
		d    izy.Device
		want izy.Colour
	}{
		{"never tested", izy.Device{}, izy.Red},
		{"passed, in date", izy.Device{LastResult: izy.ResultPass, NextDue: far}, izy.Green},
		{"failed, even with a date ahead", izy.Device{LastResult: izy.ResultFail, NextDue: far}, izy.Red},
		{"passed, due soon", izy.Device{LastResult: izy.ResultPass, NextDue: today.AddDays(3)}, izy.Orange},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := izy.DeviceColour(&tt.d, today, izy.DefaultWindows); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	i := &izy.Instrument{CalibrationDue: today.AddDays(20)}
	if got, want := izy.InstrumentColour(i, today, izy.DefaultWindows), izy.Yellow; got != want {
		t.Fatalf("instrument: got %s, want %s", got, want)
	}
}

func TestEscalationWindowsValidate(t *testing.T) {
	for _, tt := range []struct {
		w  izy.EscalationWindows
		ok bool
	}{
		{izy.DefaultWindows, true},
		{izy.EscalationWindows{FirstDays: 1, SecondDays: 0}, true},
		{izy.EscalationWindows{FirstDays: 366, SecondDays: 365}, true},
		{izy.EscalationWindows{FirstDays: 7, SecondDays: 7}, false},
		{izy.EscalationWindows{FirstDays: 7, SecondDays: 30}, false},
		{izy.EscalationWindows{FirstDays: 30, SecondDays: -1}, false},
		{izy.EscalationWindows{FirstDays: 367, SecondDays: 7}, false},
	} {
		err := tt.w.Validate()
		if got := err == nil; got != tt.ok {
			t.Errorf("%+v: got err %v, want ok=%v", tt.w, err, tt.ok)
		}
		if err != nil && izy.ErrorCode(err) != izy.EINVALID {
			t.Errorf("%+v: code %q, want %q", tt.w, izy.ErrorCode(err), izy.EINVALID)
		}
	}
}

func TestColourValid(t *testing.T) {
	for _, c := range []izy.Colour{izy.Green, izy.Yellow, izy.Orange, izy.Red} {
		if !c.Valid() {
			t.Errorf("%s: got invalid, want valid", c)
		}
	}
	for _, c := range []izy.Colour{"", "blue", "Red"} {
		if c.Valid() {
			t.Errorf("%q: got valid, want invalid", c)
		}
	}
}
