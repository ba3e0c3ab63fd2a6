package sqldb

import (
	"context"
	"database/sql"
	"sort"

	izy "github.com/izytroniq/izytroniq"
)

// devicesPerStmt bounds the ids of one SELECT … WHERE id IN (…) of devices.
const devicesPerStmt = 500

// Devices returns the devices of ids that exist, read with a few queries instead of one
// per device; ids not found are absent from the map.
func (s *SyncTx) Devices(ctx context.Context, ids []string) (map[string]*izy.Device, error) {
	return s.t.devicesByID(ctx, ids)
}

func (x *tx) devicesByID(ctx context.Context, ids []string) (map[string]*izy.Device, error) {
	out := make(map[string]*izy.Device, len(ids))
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	sort.Strings(uniq)
	for start := 0; start < len(uniq); start += devicesPerStmt {
		chunk := uniq[start:min(start+devicesPerStmt, len(uniq))]
		rows, err := x.query(ctx, "SELECT "+deviceCols+" FROM devices WHERE id IN ("+placeholders(len(chunk))+")", anys(chunk)...)
		if err != nil {
			return nil, dbErr("get devices", err)
		}
		for rows.Next() {
			d := &izy.Device{}
			if err := scanDevice(rows, d); err != nil {
				rows.Close()
				return nil, dbErr("get devices", err)
			}
			out[d.ID] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr("get devices", err)
		}
	}
	return out, nil
}

// UpdateDevices writes devices as UpdateDevice would each, in order (a change seq and an
// audit entry each, in the order of ds; each d is set to the stored device), with the
// checks read once for all: every device must exist at d.Version, keep its customer, and
// its old and new place must be free of others' exclusive checkouts. The ids must differ.
// When anything fails, the error is returned and ds are left as they were; what was
// written is for a savepoint around the call to undo (the caller then writes the devices
// one by one to learn each outcome, see syncer's apply).
func (s *SyncTx) UpdateDevices(ctx context.Context, ds []*izy.Device) error {
	return s.t.updateDevices(ctx, ds)
}

func (x *tx) updateDevices(ctx context.Context, ds []*izy.Device) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	seen := make(map[string]bool, len(ds))
	for i, d := range ds {
		if seen[d.ID] {
			return izy.Errorf(izy.EINVALID, "device %s appears twice in one bulk update", d.ID)
		}
		seen[d.ID] = true
		ids[i] = d.ID
	}
	olds, err := x.devicesByID(ctx, ids)
	if err != nil {
		return err
	}
	locCustomer := map[string]string{}
	noHolds := map[string]bool{}
	for _, d := range ds {
		old := olds[d.ID]
		if old == nil {
			return izy.Errorf(izy.ENOTFOUND, "device %s not found", d.ID)
		}
		if old.Version != d.Version {
			return x.versionErr(ctx, "devices", "device", d.ID, d.Version)
		}
		if d.CustomerID != old.CustomerID {
			return izy.Errorf(izy.EINVALID, "the customer of a device cannot change")
		}
		if d.LocationID != nil {
			cust, ok := locCustomer[*d.LocationID]
			if !ok {
				err := x.queryRow(ctx, "SELECT customer_id FROM locations WHERE id = ?", *d.LocationID).Scan(&cust)
				if err == sql.ErrNoRows {
					return izy.Errorf(izy.EINVALID, "location_id %s does not exist", *d.LocationID)
				}
				if err != nil {
					return dbErr("check location", err)
				}
				locCustomer[*d.LocationID] = cust
			}
			if cust != d.CustomerID {
				return izy.Errorf(izy.EINVALID, "location %s belongs to another customer", *d.LocationID)
			}
		}
		if err := x.checkNotHeldCached(ctx, noHolds, old.CustomerID, old.LocationID); err != nil {
			return err
		}
		if err := x.checkNotHeldCached(ctx, noHolds, d.CustomerID, d.LocationID); err != nil {
			return err
		}
	}
	seqs, err := x.nextSeqs(ctx, len(ds))
	if err != nil {
		return err
	}
	at := x.db.ts(now())
	for i, d := range ds {
		status := d.Status
		if status == "" {
			status = izy.DeviceActive
		}
		res, err := x.exec(ctx, updateDeviceSQL, updateDeviceArgs(d, status, seqs[i], at)...)
		if err != nil {
			return constraintErr("update device", err, inventoryTaken(d.InventoryID), "location_id does not exist")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return x.versionErr(ctx, "devices", "device", d.ID, d.Version)
		}
	}
	got, err := x.devicesByID(ctx, ids)
	if err != nil {
		return err
	}
	user := izy.UserIDFromContext(ctx)
	for start := 0; start < len(ds); start += auditPerStmt {
		chunk := ds[start:min(start+auditPerStmt, len(ds))]
		args := make([]any, 0, 6*len(chunk))
		for _, d := range chunk {
			g := got[d.ID]
			if g == nil {
				return izy.Errorf(izy.EINTERNAL, "device %s vanished while it was updated", d.ID)
			}
			args = append(args, at, user, "update", "device", d.ID, mustJSON(g))
		}
		if _, err := x.exec(ctx, `INSERT INTO audit_log (at, user_id, action, entity, entity_id, detail) VALUES `+rowsValues(len(chunk), 6), args...); err != nil {
			return dbErr("write audit entry", err)
		}
	}
	for _, d := range ds {
		*d = *got[d.ID]
	}
	return nil
}
