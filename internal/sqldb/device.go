package sqldb

import (
	"context"
	"database/sql"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

const deviceCols = `id, customer_id, location_id, inventory_id, designation, type, manufacturer, model,
	serial_number, protection_class, cable_length_m, cable_cross_section_mm2, heating_elements,
	heating_power_kw, cost_centre, department, standard, interval_months, comment, status, tag,
	medical, medical_udi, applied_parts_b, applied_parts_bf, applied_parts_cf, medical_network,
	last_test_date, last_result, next_due, version, seq, created_at, updated_at`

// deviceColCount is the number of columns in deviceCols.
const deviceColCount = 34

func scanDevice(s interface{ Scan(...any) error }, d *izy.Device) error {
	// Plain int64 and string targets avoid database/sql's reflection; this runs for every
	// row of every device list.
	var medical bool
	var m izy.MedicalInfo
	var class string
	var interval, appB, appBF, appCF int64
	err := s.Scan(&d.ID, &d.CustomerID, strPtrCol{&d.LocationID}, &d.InventoryID, &d.Designation, &d.Type,
		&d.Manufacturer, &d.Model, &d.SerialNumber, &class, &d.CableLengthM,
		&d.CableCrossMM2, &d.HeatingElements, floatPtrCol{&d.HeatingPowerKW}, &d.CostCentre, &d.Department,
		&d.Standard, &interval, &d.Comment, &d.Status, &d.Tag,
		&medical, &m.UDI, &appB, &appBF, &appCF, &m.NetworkAware,
		dateCol{&d.LastTestDate}, &d.LastResult, dateCol{&d.NextDue}, &d.Version, &d.Seq,
		timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	if err != nil {
		return err
	}
	d.ProtectionClass = izy.ProtectionClass(class)
	d.IntervalMonths = int(interval)
	d.Medical = nil
	if medical {
		m.AppliedB, m.AppliedBF, m.AppliedCF = int(appB), int(appBF), int(appCF)
		d.Medical = &m
	}
	return nil
}

// deviceArgs returns the values of deviceCols for d.
func (db *DB) deviceArgs(d *izy.Device) []any {
	var m izy.MedicalInfo
	if d.Medical != nil {
		m = *d.Medical
	}
	return []any{d.ID, d.CustomerID, d.LocationID, d.InventoryID, d.Designation, d.Type,
		d.Manufacturer, d.Model, d.SerialNumber, string(d.ProtectionClass), d.CableLengthM,
		d.CableCrossMM2, d.HeatingElements, d.HeatingPowerKW, d.CostCentre, d.Department,
		d.Standard, d.IntervalMonths, d.Comment, d.Status, d.Tag,
		d.Medical != nil, m.UDI, m.AppliedB, m.AppliedBF, m.AppliedCF, m.NetworkAware,
		d.LastTestDate, d.LastResult, d.NextDue, d.Version, d.Seq,
		db.ts(d.CreatedAt), db.ts(d.UpdatedAt)}
}

func inventoryTaken(inv string) string {
	return "inventory ID " + inv + " already exists for this customer"
}

// checkDeviceLocation checks that the location of d exists and belongs to d's customer.
func (t *tx) checkDeviceLocation(ctx context.Context, d *izy.Device) error {
	if d.LocationID == nil {
		return nil
	}
	var cust string
	err := t.queryRow(ctx, "SELECT customer_id FROM locations WHERE id = ?", *d.LocationID).Scan(&cust)
	if err == sql.ErrNoRows {
		return izy.Errorf(izy.EINVALID, "location_id %s does not exist", *d.LocationID)
	}
	if err != nil {
		return dbErr("check location", err)
	}
	if cust != d.CustomerID {
		return izy.Errorf(izy.EINVALID, "location %s belongs to another customer", *d.LocationID)
	}
	return nil
}

// CreateDevice stores a new device after checking its customer and location.
func (db *DB) CreateDevice(ctx context.Context, d *izy.Device) error {
	return db.write(ctx, func(t *tx) error { return t.createDevice(ctx, d) })
}

func (t *tx) createDevice(ctx context.Context, d *izy.Device) error {
	if d.ID == "" {
		d.ID = izy.NewID()
	}
	if d.Status == "" {
		d.Status = izy.DeviceActive
	}
	if err := t.customerExists(ctx, d.CustomerID); err != nil {
		return err
	}
	if err := t.checkDeviceLocation(ctx, d); err != nil {
		return err
	}
	if err := t.checkNotHeld(ctx, "device", d.CustomerID, d.LocationID); err != nil {
		return err
	}
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return err
	}
	at := now()
	d.Version, d.Seq, d.CreatedAt, d.UpdatedAt = 1, seq, at, at
	_, err = t.exec(ctx, "INSERT INTO devices ("+deviceCols+") VALUES ("+placeholders(deviceColCount)+")", t.db.deviceArgs(d)...)
	if err != nil {
		d.Version, d.Seq = 0, 0
		return constraintErr("create device", err, inventoryTaken(d.InventoryID), "customer_id or location_id does not exist")
	}
	return t.audit(ctx, "create", "device", d.ID, d)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

const getDeviceSQL = "SELECT " + deviceCols + " FROM devices WHERE id = ?"

// GetDevice returns a device or ENOTFOUND.
func (db *DB) GetDevice(ctx context.Context, id string) (*izy.Device, error) {
	var d izy.Device
	err := scanDevice(db.queryRow(ctx, getDeviceSQL, id), &d)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "device %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get device", err)
	}
	return &d, nil
}

func (t *tx) getDevice(ctx context.Context, id string) (*izy.Device, error) {
	var d izy.Device
	err := scanDevice(t.queryRow(ctx, getDeviceSQL, id), &d)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "device %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get device", err)
	}
	return &d, nil
}

// UpdateDevice writes the fields a person edits if d.Version is current; the customer and
// the last-test fields (set by tests) stay as stored.
func (db *DB) UpdateDevice(ctx context.Context, d *izy.Device) error {
	return db.write(ctx, func(t *tx) error { return t.updateDevice(ctx, d) })
}

func (t *tx) updateDevice(ctx context.Context, d *izy.Device) error {
	db := t.db
	if d.Status == "" {
		d.Status = izy.DeviceActive
	}
	old, err := t.getDevice(ctx, d.ID)
	if err != nil {
		return err
	}
	if old.Version != d.Version {
		return t.versionErr(ctx, "devices", "device", d.ID, d.Version)
	}
	if d.CustomerID != old.CustomerID {
		return izy.Errorf(izy.EINVALID, "the customer of a device cannot change")
	}
	if err := t.checkDeviceLocation(ctx, d); err != nil {
		return err
	}
	// Both the old and the new place of the device must be free of others' exclusive checkouts.
	if err := t.checkNotHeld(ctx, "device", old.CustomerID, old.LocationID); err != nil {
		return err
	}
	if err := t.checkNotHeld(ctx, "device", d.CustomerID, d.LocationID); err != nil {
		return err
	}
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, updateDeviceSQL, updateDeviceArgs(d, d.Status, seq, db.ts(now()))...)
	if err != nil {
		return constraintErr("update device", err, inventoryTaken(d.InventoryID), "location_id does not exist")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t.versionErr(ctx, "devices", "device", d.ID, d.Version)
	}
	got, err := t.getDevice(ctx, d.ID)
	if err != nil {
		return err
	}
	*d = *got
	return t.audit(ctx, "update", "device", d.ID, d)
}

// ListDevices returns a page of devices in ID order.
func (db *DB) ListDevices(ctx context.Context, f izy.DeviceFilter) ([]izy.Device, string, error) {
	after, err := pageArgs(&f.Page)
	if err != nil {
		return nil, "", err
	}
	var w where
	prefix := ""
	var prefixArgs []any
	if f.LocationID != "" {
		// The location and everything below it.
		prefix = `WITH RECURSIVE subtree (id) AS (
			SELECT id FROM locations WHERE id = ?
			UNION ALL
			SELECT l.id FROM locations l JOIN subtree s ON l.parent_id = s.id
		) `
		prefixArgs = []any{f.LocationID}
		w.add("location_id IN (SELECT id FROM subtree)")
	}
	if after != "" {
		w.add("id > ?", after)
	}
	if f.GrantedTo != "" {
		w.add(grantedCond, f.GrantedTo)
	}
	if f.CustomerID != "" {
		w.add("customer_id = ?", f.CustomerID)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if f.Colour != "" {
		if !f.Colour.Valid() {
			return nil, "", izy.Errorf(izy.EINVALID, "colour must be green, yellow, orange or red")
		}
		today, win := f.Today, f.Windows
		if today.IsZero() {
			today = izy.Today()
		}
		if win == (izy.EscalationWindows{}) {
			win = izy.DefaultWindows
		}
		cond, args := colourCond(f.Colour, "next_due", "last_result", today, win)
		w.add(cond, args...)
	}
	if f.Query != "" {
		p := likePattern(f.Query)
		w.add("("+db.like("inventory_id")+" OR "+db.like("serial_number")+" OR "+db.like("designation")+")", p, p, p)
	}
	q := prefix + "SELECT " + deviceCols + " FROM devices" + w.String() + " ORDER BY id LIMIT ?"
	args := append(prefixArgs, w.args...)
	return listPage(ctx, db, "list devices", q, args, f.Limit, scanDevice, func(d *izy.Device) string { return d.ID })
}

// updateDeviceSQL writes every editable column of a device whose version is still the
// one the caller read, bumping the version and taking a change seq. The one-by-one path
// (updateDevice) and the sync upload's bulk path (UpdateDevices) share it, so a new
// column is written by both.
const updateDeviceSQL = `UPDATE devices SET location_id = ?, inventory_id = ?, designation = ?,
	type = ?, manufacturer = ?, model = ?, serial_number = ?, protection_class = ?,
	cable_length_m = ?, cable_cross_section_mm2 = ?, heating_elements = ?, heating_power_kw = ?,
	cost_centre = ?, department = ?, standard = ?, interval_months = ?, comment = ?, status = ?,
	tag = ?, medical = ?, medical_udi = ?, applied_parts_b = ?, applied_parts_bf = ?,
	applied_parts_cf = ?, medical_network = ?,
	version = version + 1, seq = ?, updated_at = ?
	WHERE id = ? AND version = ?`

// updateDeviceArgs are updateDeviceSQL's arguments for d.
func updateDeviceArgs(d *izy.Device, status string, seq int64, at any) []any {
	var m izy.MedicalInfo
	if d.Medical != nil {
		m = *d.Medical
	}
	return []any{d.LocationID, d.InventoryID, d.Designation, d.Type, d.Manufacturer, d.Model, d.SerialNumber,
		string(d.ProtectionClass), d.CableLengthM, d.CableCrossMM2, d.HeatingElements, d.HeatingPowerKW,
		d.CostCentre, d.Department, d.Standard, d.IntervalMonths, d.Comment, status, d.Tag,
		d.Medical != nil, m.UDI, m.AppliedB, m.AppliedBF, m.AppliedCF, m.NetworkAware,
		seq, at, d.ID, d.Version}
}
