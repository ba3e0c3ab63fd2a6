package syncer

import (
	"context"
	"encoding/json"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
)

// Resolve settles an open conflict, as the original product's conflict manager does:
// keep_server drops the client's change (it stays stored with the conflict); take_client
// applies the client's change over the server's; merge writes the given field values;
// create_new stores the client's record as a new entity (new id; inventory ID suffixed
// when taken). The store writes the audit entry.
func (s *Syncer) Resolve(ctx context.Context, id, resolution string, fields map[string]json.RawMessage) (*izy.Conflict, error) {
	switch resolution {
	case izy.ResolveKeepServer, izy.ResolveTakeClient, izy.ResolveCreateNew:
		if len(fields) > 0 {
			return nil, izy.Errorf(izy.EINVALID, "fields are given only with the resolution merge")
		}
	case izy.ResolveMerge:
		if len(fields) == 0 {
			return nil, izy.Errorf(izy.EINVALID, "merge needs fields: the value to keep for each field")
		}
	default:
		return nil, izy.Errorf(izy.EINVALID, "resolution must be keep_server, take_client, merge or create_new")
	}
	return s.store.ResolveConflict(ctx, id, resolution, func(ctx context.Context, tx Tx, c *izy.Conflict) error {
		co, err := s.store.GetCheckout(ctx, c.CheckoutID)
		if err != nil {
			return err
		}
		return s.resolve(ctx, tx, co, c, resolution, fields)
	})
}

func (s *Syncer) resolve(ctx context.Context, tx Tx, co *izy.Checkout, c *izy.Conflict, resolution string, fields map[string]json.RawMessage) error {
	m := c.Mutation
	var r izy.MutationResult
	switch resolution {
	case izy.ResolveKeepServer:
		return nil
	case izy.ResolveCreateNew:
		return s.createNew(ctx, tx, co, c)
	case izy.ResolveMerge:
		if err := checkFields(c.Entity, fields, m.Op == izy.OpCreate); err != nil {
			return err
		}
	}
	if m.Op == izy.OpCreate {
		if m.Fields == nil {
			m.Fields = map[string]json.RawMessage{}
		}
		// A duplicate: create the client's record after all (merge: with the given values).
		for k, v := range fields {
			m.Fields[k] = v
		}
		return s.forceCreate(ctx, tx, co, &m, &r)
	}
	cur, err := load(ctx, tx, c.Entity, c.EntityID)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return izy.Errorf(izy.ECONFLICT, "the %s no longer exists; resolve with create_new or keep_server", c.Entity)
	}
	if err != nil {
		return err
	}
	if m.Op == izy.OpDelete {
		if resolution == izy.ResolveMerge {
			_, err := s.write(ctx, tx, co, cur, fields)
			return err
		}
		return s.remove(ctx, tx, cur, &r)
	}
	apply := m.Fields
	if resolution == izy.ResolveMerge {
		apply = fields
	} else if cur.device != nil && cur.device.Status == izy.DeviceRetired {
		if _, ok := apply["status"]; !ok {
			apply = copyFields(apply)
			apply["status"] = json.RawMessage(`"active"`)
		}
	}
	_, err = s.write(ctx, tx, co, cur, apply)
	return err
}

func copyFields(f map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(f)+1)
	for k, v := range f {
		out[k] = v
	}
	return out
}

// forceCreate creates the device of a create mutation without the duplicate check.
func (s *Syncer) forceCreate(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	if m.Entity != "device" {
		return izy.Errorf(izy.EINVALID, "only devices are created twice")
	}
	d, err := overlay(&izy.Device{}, m.Fields)
	if err != nil {
		return err
	}
	d.ID = m.EntityID
	if d.CustomerID == "" {
		d.CustomerID = co.CustomerID
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if err := inScope(ctx, tx, co, d.CustomerID, d.LocationID); err != nil {
		return err
	}
	return tx.CreateDevice(ctx, d)
}

// createNew stores the client's version of the record as a new entity.
func (s *Syncer) createNew(ctx context.Context, tx Tx, co *izy.Checkout, c *izy.Conflict) error {
	m := c.Mutation
	base := map[string]json.RawMessage{}
	if m.Op != izy.OpCreate {
		cur, err := load(ctx, tx, c.Entity, c.EntityID)
		if err == nil {
			base = cur.fields
		} else if izy.ErrorCode(err) != izy.ENOTFOUND {
			return err
		}
	}
	for k, v := range m.Fields {
		base[k] = v
	}
	newID := izy.NewID()
	switch c.Entity {
	case "device":
		d, err := overlay(&izy.Device{}, base)
		if err != nil {
			return err
		}
		d.ID, d.Version, d.Status = newID, 0, izy.DeviceActive
		d.LastTestDate, d.LastResult, d.NextDue = izy.Date{}, "", izy.Date{}
		if d.CustomerID == "" {
			d.CustomerID = co.CustomerID
		}
		inv := d.InventoryID
		for n := 2; ; n++ {
			taken, err := tx.InventoryTaken(ctx, d.CustomerID, d.InventoryID)
			if err != nil {
				return err
			}
			if !taken {
				break
			}
			if n > 1000 {
				return izy.Errorf(izy.ECONFLICT, "no free inventory ID for %s", inv)
			}
			d.InventoryID = fmt.Sprintf("%s-%d", inv, n)
		}
		if err := d.Validate(); err != nil {
			return err
		}
		if err := inScope(ctx, tx, co, d.CustomerID, d.LocationID); err != nil {
			return err
		}
		return tx.CreateDevice(ctx, d)
	case "location":
		l, err := overlay(&izy.Location{}, base)
		if err != nil {
			return err
		}
		l.ID, l.Version = newID, 0
		if l.CustomerID == "" {
			l.CustomerID = co.CustomerID
		}
		if err := l.Validate(); err != nil {
			return err
		}
		return tx.CreateLocation(ctx, l)
	}
	return izy.Errorf(izy.EINVALID, "cannot create a %s as new", c.Entity)
}
