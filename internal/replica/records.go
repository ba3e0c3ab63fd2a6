package replica

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// indexed holds the searchable columns of a record, read from its JSON.
type indexed struct {
	customerID, locationID, deviceID, search string
}

// index extracts the columns of a record of entity from its JSON data. It walks only the
// top level of the object (izy.ObjectFields) and decodes just the strings it needs.
func index(entity, id string, data []byte) indexed {
	var ix indexed
	var search [5]string                                     // inventory_id, serial_number, designation, name, number
	_ = izy.ObjectFields(data, func(key, val []byte) error { // a record that does not parse is kept, just not searchable
		var dst *string
		switch string(key) {
		case "customer_id":
			dst = &ix.customerID
		case "location_id":
			dst = &ix.locationID
		case "device_id":
			dst = &ix.deviceID
		case "inventory_id":
			dst = &search[0]
		case "serial_number":
			dst = &search[1]
		case "designation":
			dst = &search[2]
		case "name":
			dst = &search[3]
		case "number":
			dst = &search[4]
		default:
			return nil
		}
		*dst = jsonString(val)
		return nil
	})
	if entity == "customer" {
		ix.customerID = id
	}
	ix.search = strings.ToLower(strings.Join(search[:], "\x1f"))
	return ix
}

// jsonString decodes a JSON string value; "" for anything else (null).
func jsonString(val []byte) string {
	if len(val) < 2 || val[0] != '"' {
		return ""
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return string(val[1 : len(val)-1])
	}
	var s string
	_ = json.Unmarshal(val, &s)
	return s
}

// rowWriter stores server rows in one transaction: upsert prepares applyRowSQL, and
// insert (set during a fresh snapshot) a plain INSERT, tried first.
type rowWriter struct {
	upsert, insert *sql.Stmt
}

// newRowWriter prepares the statements once per page: parsing them again for every row
// took a third of the client's CPU during a large checkout.
func newRowWriter(ctx context.Context, tx *sql.Tx, fresh bool) (*rowWriter, error) {
	w := &rowWriter{}
	var err error
	if w.upsert, err = tx.PrepareContext(ctx, applyRowSQL); err != nil {
		return nil, fmt.Errorf("prepare row upsert: %w", err)
	}
	if fresh {
		if w.insert, err = tx.PrepareContext(ctx, insertRowSQL); err != nil {
			w.upsert.Close()
			return nil, fmt.Errorf("prepare row insert: %w", err)
		}
	}
	return w, nil
}

func (w *rowWriter) Close() {
	w.upsert.Close()
	if w.insert != nil {
		w.insert.Close()
	}
}

// apply stores a server row unless the local copy is as new or newer. A tombstone keeps
// its seq and loses its data. It reports whether the row was applied. In a fresh
// snapshot the plain INSERT cannot meet an existing row, except a shared one (an
// instrument) or a record written meanwhile: then the failed INSERT changed nothing
// and the upsert decides.
func (w *rowWriter) apply(ctx context.Context, row izy.Row) (bool, error) {
	var data any
	ix := indexed{}
	if !row.Deleted {
		data = string(row.Data)
		ix = index(row.Entity, row.ID, row.Data)
	}
	if w.insert != nil {
		if _, err := w.insert.ExecContext(ctx, row.Entity, row.ID, row.Seq, row.Deleted, ix.customerID, ix.locationID, ix.deviceID, ix.search, data); err == nil {
			return true, nil
		}
	}
	res, err := w.upsert.ExecContext(ctx, row.Entity, row.ID, row.Seq, row.Deleted, ix.customerID, ix.locationID, ix.deviceID, ix.search, data)
	if err != nil {
		return false, fmt.Errorf("apply %s %s: %w", row.Entity, row.ID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// applyRowSQL upserts a server row unless the local copy is as new or newer.
const applyRowSQL = `INSERT INTO records (entity, id, seq, deleted, local, customer_id, location_id, device_id, search, data)
		VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
		ON CONFLICT (entity, id) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, local = 0,
			customer_id = CASE WHEN excluded.deleted THEN records.customer_id ELSE excluded.customer_id END,
			location_id = excluded.location_id, device_id = CASE WHEN excluded.deleted THEN records.device_id ELSE excluded.device_id END,
			search = excluded.search, data = excluded.data
		WHERE excluded.seq > records.seq`

// insertRowSQL inserts a row of a fresh snapshot.
const insertRowSQL = `INSERT INTO records (entity, id, seq, deleted, local, customer_id, location_id, device_id, search, data)
		VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`

// putLocal stores a record changed offline: its data changes, its seq stays (so that the
// server's next copy, which is newer, replaces it) and it is marked local.
func putLocal(ctx context.Context, tx *sql.Tx, entity, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ix := index(entity, id, data)
	_, err = tx.ExecContext(ctx, `INSERT INTO records (entity, id, seq, deleted, local, customer_id, location_id, device_id, search, data)
		VALUES (?, ?, 0, 0, 1, ?, ?, ?, ?, ?)
		ON CONFLICT (entity, id) DO UPDATE SET local = 1, deleted = 0, customer_id = excluded.customer_id,
			location_id = excluded.location_id, device_id = excluded.device_id, search = excluded.search, data = excluded.data`,
		entity, id, ix.customerID, ix.locationID, ix.deviceID, ix.search, string(data))
	if err != nil {
		return fmt.Errorf("store %s %s: %w", entity, id, err)
	}
	return nil
}

// Record is a record as the replica holds it.
type Record struct {
	Entity  string          `json:"entity"`
	ID      string          `json:"id"`
	Seq     int64           `json:"seq"`
	Deleted bool            `json:"deleted"`
	Local   bool            `json:"local"` // changed offline, not yet confirmed by the server
	Data    json.RawMessage `json:"data"`
}

// Get returns a record; ENOTFOUND when the replica does not hold it or holds its
// tombstone.
func (r *Replica) Get(ctx context.Context, entity, id string) (*Record, error) {
	rec := Record{Entity: entity, ID: id}
	var data sql.NullString
	err := r.db.QueryRowContext(ctx, `SELECT seq, deleted, local, data FROM records WHERE entity = ? AND id = ?`, entity, id).
		Scan(&rec.Seq, &rec.Deleted, &rec.Local, &data)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && rec.Deleted) {
		return nil, notFound(entity, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", entity, id, err)
	}
	rec.Data = json.RawMessage(data.String)
	return &rec, nil
}

// Device returns the local copy of a device.
func (r *Replica) Device(ctx context.Context, id string) (*izy.Device, error) {
	rec, err := r.Get(ctx, "device", id)
	if err != nil {
		return nil, err
	}
	var d izy.Device
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, fmt.Errorf("decode device %s: %w", id, err)
	}
	return &d, nil
}

// DeviceFilter selects devices from the replica.
type DeviceFilter struct {
	CustomerID string
	LocationID string // exactly this location
	Query      string // substring of inventory ID, serial number or designation, any case
	Colour     izy.Colour
	Today      izy.Date // for colours; zero means today
	Limit      int      // 0: no limit
}

// DeviceRow is a device of the replica with its colour and whether it changed offline.
type DeviceRow struct {
	izy.Device
	Colour izy.Colour `json:"colour"`
	Local  bool       `json:"local"`
}

// Devices lists the devices the replica holds, by inventory ID.
func (r *Replica) Devices(ctx context.Context, f DeviceFilter) ([]DeviceRow, error) {
	q := `SELECT data, local FROM records WHERE entity = 'device' AND deleted = 0`
	var args []any
	if f.CustomerID != "" {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.LocationID != "" {
		q += ` AND location_id = ?`
		args = append(args, f.LocationID)
	}
	if f.Query != "" {
		q += ` AND instr(search, ?) > 0`
		args = append(args, strings.ToLower(f.Query))
	}
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	today := f.Today
	if today.IsZero() {
		today = izy.Today()
	}
	out := []DeviceRow{}
	for rows.Next() {
		var data string
		var dr DeviceRow
		if err := rows.Scan(&data, &dr.Local); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &dr.Device); err != nil {
			return nil, fmt.Errorf("decode device: %w", err)
		}
		dr.Colour = izy.DeviceColour(&dr.Device, today, izy.DefaultWindows)
		if f.Colour != "" && dr.Colour != f.Colour {
			continue
		}
		out = append(out, dr)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortDevices(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Tests returns the tests of a device the replica holds, newest first.
func (r *Replica) Tests(ctx context.Context, deviceID string) ([]izy.Test, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT data FROM records WHERE entity = 'test' AND device_id = ? AND deleted = 0`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []izy.Test{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var t izy.Test
		if err := json.Unmarshal([]byte(data), &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sortTests(out)
	return out, rows.Err()
}

// Counts returns how many live records of each entity the replica holds.
func (r *Replica) Counts(ctx context.Context) (map[string]int64, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT entity, count(*) FROM records WHERE deleted = 0 GROUP BY entity`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var e string
		var n int64
		if err := rows.Scan(&e, &n); err != nil {
			return nil, err
		}
		out[e] = n
	}
	return out, rows.Err()
}
