package izytroniq

// NextDue returns when a device is due again after a test on testDate with result: a
// passed test makes it due the device's interval later (DefaultIntervalMonths when it
// names none), clamped to the month's last day (AddMonths); any other result makes it due
// at once, on the test date itself, so that it shows red until a passing retest.
func NextDue(d *Device, testDate Date, result string) Date {
	if result != ResultPass {
		return testDate
	}
	months := DefaultIntervalMonths
	if d != nil && d.IntervalMonths > 0 {
		months = d.IntervalMonths
	}
	return testDate.AddMonths(months)
}

// ApplyTest records an evaluated test as the device's latest and reports whether it did.
// A test applies unless it is dated before the device's last test: an older test entered
// late (e.g. checked in from an offline laptop) joins the history but must not move the
// due date back. A test on the same date as the last one applies, because a correction
// is a new test and the later entry is the one that counts. The store applies the same
// rule in SQL (last_test_date IS NULL OR last_test_date <= test date).
func ApplyTest(d *Device, t *Test) bool {
	if !d.LastTestDate.IsZero() && t.Date.Before(d.LastTestDate) {
		return false
	}
	d.LastTestDate = t.Date
	d.LastResult = t.Result
	d.NextDue = t.NextDue
	if d.NextDue.IsZero() {
		d.NextDue = NextDue(d, t.Date, t.Result)
	}
	return true
}
