package sqldb

import (
	"context"
	"database/sql"

	izy "github.com/izytroniq/izytroniq"
)

const locationCols = "id, customer_id, parent_id, kind, name, version, seq, created_at, updated_at"

func scanLocation(s interface{ Scan(...any) error }, l *izy.Location) error {
	return s.Scan(&l.ID, &l.CustomerID, &l.ParentID, &l.Kind, &l.Name, &l.Version, &l.Seq,
		timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
}

func (t *tx) getLocation(ctx context.Context, id string) (*izy.Location, error) {
	var l izy.Location
	err := scanLocation(t.queryRow(ctx, "SELECT "+locationCols+" FROM locations WHERE id = ?", id), &l)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "location %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get location", err)
	}
	return &l, nil
}

// customerExists returns EINVALID when the customer a new row names does not exist.
func (t *tx) customerExists(ctx context.Context, id string) error {
	var n int
	if err := t.queryRow(ctx, "SELECT count(*) FROM customers WHERE id = ?", id).Scan(&n); err != nil {
		return dbErr("check customer", err)
	}
	if n == 0 {
		return izy.Errorf(izy.EINVALID, "customer_id %s does not exist", id)
	}
	return nil
}

// checkParent checks that l may sit under its parent.
func (t *tx) checkParent(ctx context.Context, l *izy.Location) error {
	if l.ParentID == nil {
		return nil
	}
	if *l.ParentID == l.ID {
		return izy.Errorf(izy.EINVALID, "a location cannot be its own parent")
	}
	parent, err := t.getLocation(ctx, *l.ParentID)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return izy.Errorf(izy.EINVALID, "parent_id %s does not exist", *l.ParentID)
	}
	if err != nil {
		return err
	}
	return l.ValidateParent(parent)
}

// CreateLocation stores a new location after checking its customer and parent.
func (db *DB) CreateLocation(ctx context.Context, l *izy.Location) error {
	return db.write(ctx, func(t *tx) error { return t.createLocation(ctx, l) })
}

func (t *tx) createLocation(ctx context.Context, l *izy.Location) error {
	db := t.db
	if l.ID == "" {
		l.ID = izy.NewID()
	}
	if err := t.customerExists(ctx, l.CustomerID); err != nil {
		return err
	}
	if err := t.checkParent(ctx, l); err != nil {
		return err
	}
	if err := t.checkNotHeld(ctx, "location", l.CustomerID, l.ParentID); err != nil {
		return err
	}
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return err
	}
	at := now()
	_, err = t.exec(ctx, `INSERT INTO locations (`+locationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.CustomerID, l.ParentID, string(l.Kind), l.Name, 1, seq, db.ts(at), db.ts(at))
	if err != nil {
		return constraintErr("create location", err, "", "customer_id or parent_id does not exist")
	}
	l.Version, l.Seq, l.CreatedAt, l.UpdatedAt = 1, seq, at, at
	return t.audit(ctx, "create", "location", l.ID, l)
}

// GetLocation returns a location or ENOTFOUND.
func (db *DB) GetLocation(ctx context.Context, id string) (*izy.Location, error) {
	var l izy.Location
	err := scanLocation(db.queryRow(ctx, "SELECT "+locationCols+" FROM locations WHERE id = ?", id), &l)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "location %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get location", err)
	}
	return &l, nil
}

// UpdateLocation writes parent, kind and name if l.Version is current. The customer of a
// location never changes, and its children must stay deeper than it.
func (db *DB) UpdateLocation(ctx context.Context, l *izy.Location) error {
	return db.write(ctx, func(t *tx) error { return t.updateLocation(ctx, l) })
}

func (t *tx) updateLocation(ctx context.Context, l *izy.Location) error {
	db := t.db
	old, err := t.getLocation(ctx, l.ID)
	if err != nil {
		return err
	}
	if old.Version != l.Version {
		return t.versionErr(ctx, "locations", "location", l.ID, l.Version)
	}
	if l.CustomerID != old.CustomerID {
		return izy.Errorf(izy.EINVALID, "the customer of a location cannot change")
	}
	if err := t.checkParent(ctx, l); err != nil {
		return err
	}
	if err := t.checkNotHeld(ctx, "location", old.CustomerID, &old.ID); err != nil {
		return err
	}
	if err := t.checkNotHeld(ctx, "location", l.CustomerID, l.ParentID); err != nil {
		return err
	}
	if l.Kind != old.Kind {
		rows, err := t.query(ctx, "SELECT kind FROM locations WHERE parent_id = ?", l.ID)
		if err != nil {
			return dbErr("update location", err)
		}
		var kinds []izy.LocationKind
		for rows.Next() {
			var k izy.LocationKind
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return dbErr("update location", err)
			}
			kinds = append(kinds, k)
		}
		rows.Close()
		for _, k := range kinds {
			if k.Rank() <= l.Kind.Rank() {
				return izy.Errorf(izy.EINVALID, "a %s cannot sit under a %s: change the children first", k, l.Kind)
			}
		}
	}
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE locations SET parent_id = ?, kind = ?, name = ?,
		version = version + 1, seq = ?, updated_at = ? WHERE id = ? AND version = ?`,
		l.ParentID, string(l.Kind), l.Name, seq, db.ts(now()), l.ID, l.Version)
	if err != nil {
		return constraintErr("update location", err, "", "parent_id does not exist")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t.versionErr(ctx, "locations", "location", l.ID, l.Version)
	}
	got, err := t.getLocation(ctx, l.ID)
	if err != nil {
		return err
	}
	*l = *got
	return t.audit(ctx, "update", "location", l.ID, l)
}

// DeleteLocation deletes a location without children or devices.
func (db *DB) DeleteLocation(ctx context.Context, id string, version int64) error {
	return db.write(ctx, func(t *tx) error { return t.deleteLocation(ctx, id, version) })
}

func (t *tx) deleteLocation(ctx context.Context, id string, version int64) error {
	l, err := t.getLocation(ctx, id)
	if err != nil {
		return err
	}
	if l.Version != version {
		return t.versionErr(ctx, "locations", "location", id, version)
	}
	if err := t.checkNotHeld(ctx, "location", l.CustomerID, &l.ID); err != nil {
		return err
	}
	var children, devices int64
	if err := t.queryRow(ctx, "SELECT count(*) FROM locations WHERE parent_id = ?", id).Scan(&children); err != nil {
		return dbErr("delete location", err)
	}
	if err := t.queryRow(ctx, "SELECT count(*) FROM devices WHERE location_id = ?", id).Scan(&devices); err != nil {
		return dbErr("delete location", err)
	}
	switch {
	case children > 0:
		return izy.Errorf(izy.ECONFLICT, "location %q still has %d locations below it; delete or move them first", l.Name, children)
	case devices > 0:
		return izy.Errorf(izy.ECONFLICT, "location %q still has %d devices; move them first", l.Name, devices)
	}
	if _, err := t.exec(ctx, "DELETE FROM locations WHERE id = ?", id); err != nil {
		if isForeignKey(err) {
			return izy.Errorf(izy.ECONFLICT, "location %q is still referenced; try again", l.Name)
		}
		return dbErr("delete location", err)
	}
	if err := t.tombstone(ctx, "location", id, l.CustomerID); err != nil {
		return err
	}
	// The parent tells a location-scoped change feed where the deleted location sat.
	if _, err := t.exec(ctx, "UPDATE tombstones SET location_id = ? WHERE entity = 'location' AND id = ?", l.ParentID, id); err != nil {
		return dbErr("delete location: tombstone", err)
	}
	return t.audit(ctx, "delete", "location", id, l)
}

// ListLocations returns a page of locations in ID order.
func (db *DB) ListLocations(ctx context.Context, f izy.LocationFilter) ([]izy.Location, string, error) {
	after, err := pageArgs(&f.Page)
	if err != nil {
		return nil, "", err
	}
	var w where
	if after != "" {
		w.add("id > ?", after)
	}
	if f.GrantedTo != "" {
		w.add(grantedCond, f.GrantedTo)
	}
	if f.CustomerID != "" {
		w.add("customer_id = ?", f.CustomerID)
	}
	if f.ParentID != "" {
		w.add("parent_id = ?", f.ParentID)
	}
	q := "SELECT " + locationCols + " FROM locations" + w.String() + " ORDER BY id LIMIT ?"
	return listPage(ctx, db, "list locations", q, w.args, f.Limit, scanLocation, func(l *izy.Location) string { return l.ID })
}
