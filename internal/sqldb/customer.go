package sqldb

import (
	"context"
	"database/sql"

	izy "github.com/izytroniq/izytroniq"
)

const customerCols = "id, number, name, address, contacts, version, seq, created_at, updated_at"

func scanCustomer(s interface{ Scan(...any) error }, c *izy.Customer) error {
	return s.Scan(&c.ID, &c.Number, &c.Name, &c.Address, jsonCol{&c.Contacts}, &c.Version, &c.Seq,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
}

func customerNumberTaken(number string) string {
	return "customer number " + number + " already exists"
}

// CreateCustomer stores a new customer.
func (db *DB) CreateCustomer(ctx context.Context, c *izy.Customer) error {
	if c.ID == "" {
		c.ID = izy.NewID()
	}
	if c.Contacts == nil {
		c.Contacts = []izy.Contact{}
	}
	return db.write(ctx, func(t *tx) error {
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		at := now()
		_, err = t.exec(ctx, `INSERT INTO customers (`+customerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Number, c.Name, c.Address, mustJSON(c.Contacts), 1, seq, db.ts(at), db.ts(at))
		if err != nil {
			return constraintErr("create customer", err, customerNumberTaken(c.Number), "")
		}
		c.Version, c.Seq, c.CreatedAt, c.UpdatedAt = 1, seq, at, at
		return t.audit(ctx, "create", "customer", c.ID, c)
	})
}

// GetCustomer returns a customer or ENOTFOUND.
func (db *DB) GetCustomer(ctx context.Context, id string) (*izy.Customer, error) {
	var c izy.Customer
	err := scanCustomer(db.queryRow(ctx, "SELECT "+customerCols+" FROM customers WHERE id = ?", id), &c)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "customer %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get customer", err)
	}
	return &c, nil
}

func (t *tx) getCustomer(ctx context.Context, id string) (*izy.Customer, error) {
	var c izy.Customer
	err := scanCustomer(t.queryRow(ctx, "SELECT "+customerCols+" FROM customers WHERE id = ?", id), &c)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "customer %s not found", id)
	}
	if err != nil {
		return nil, dbErr("get customer", err)
	}
	return &c, nil
}

// UpdateCustomer writes number, name, address and contacts if c.Version is current.
func (db *DB) UpdateCustomer(ctx context.Context, c *izy.Customer) error {
	if c.Contacts == nil {
		c.Contacts = []izy.Contact{}
	}
	return db.write(ctx, func(t *tx) error {
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		at := now()
		res, err := t.exec(ctx, `UPDATE customers SET number = ?, name = ?, address = ?, contacts = ?,
			version = version + 1, seq = ?, updated_at = ? WHERE id = ? AND version = ?`,
			c.Number, c.Name, c.Address, mustJSON(c.Contacts), seq, db.ts(at), c.ID, c.Version)
		if err != nil {
			return constraintErr("update customer", err, customerNumberTaken(c.Number), "")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return t.versionErr(ctx, "customers", "customer", c.ID, c.Version)
		}
		got, err := t.getCustomer(ctx, c.ID)
		if err != nil {
			return err
		}
		*c = *got
		return t.audit(ctx, "update", "customer", c.ID, c)
	})
}

// DeleteCustomer deletes a customer that has no locations, devices or tests.
func (db *DB) DeleteCustomer(ctx context.Context, id string, version int64) error {
	return db.write(ctx, func(t *tx) error {
		c, err := t.getCustomer(ctx, id)
		if err != nil {
			return err
		}
		if c.Version != version {
			return t.versionErr(ctx, "customers", "customer", id, version)
		}
		for _, dep := range []struct{ table, what string }{
			{"devices", "devices"}, {"locations", "locations"}, {"tests", "tests"},
		} {
			var n int64
			if err := t.queryRow(ctx, "SELECT count(*) FROM "+dep.table+" WHERE customer_id = ?", id).Scan(&n); err != nil {
				return dbErr("delete customer", err)
			}
			if n > 0 {
				return izy.Errorf(izy.ECONFLICT, "customer %s still has %d %s; delete or move them first", c.Number, n, dep.what)
			}
		}
		if _, err := t.exec(ctx, "DELETE FROM customers WHERE id = ? AND version = ?", id, version); err != nil {
			if isForeignKey(err) {
				return izy.Errorf(izy.ECONFLICT, "customer %s is still referenced; try again", c.Number)
			}
			return dbErr("delete customer", err)
		}
		if err := t.tombstone(ctx, "customer", id, id); err != nil {
			return err
		}
		return t.audit(ctx, "delete", "customer", id, c)
	})
}

// ListCustomers returns a page of customers in ID order.
func (db *DB) ListCustomers(ctx context.Context, f izy.CustomerFilter) ([]izy.Customer, string, error) {
	after, err := pageArgs(&f.Page)
	if err != nil {
		return nil, "", err
	}
	var w where
	if after != "" {
		w.add("id > ?", after)
	}
	if f.GrantedTo != "" {
		w.add("id IN (SELECT customer_id FROM grants WHERE user_id = ?)", f.GrantedTo)
	}
	if f.Query != "" {
		p := likePattern(f.Query)
		w.add("("+db.like("number")+" OR "+db.like("name")+")", p, p)
	}
	q := "SELECT " + customerCols + " FROM customers" + w.String() + " ORDER BY id LIMIT ?"
	return listPage(ctx, db, "list customers", q, w.args, f.Limit, scanCustomer, func(c *izy.Customer) string { return c.ID })
}
