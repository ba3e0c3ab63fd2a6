package syncer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// Fields a client may write, per entity; the rest (seq, version, dates set by tests,
// timestamps) belong to the server.
var editable = map[string]map[string]bool{
	"device": set("location_id", "inventory_id", "designation", "type", "manufacturer", "model", "serial_number",
		"protection_class", "cable_length_m", "cable_cross_section_mm2", "heating_elements", "heating_power_kw",
		"cost_centre", "department", "standard", "interval_months", "comment", "status", "tag", "medical"),
	"location": set("parent_id", "kind", "name"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkFields rejects fields a client may not write.
func checkFields(entity string, fields map[string]json.RawMessage, create bool) error {
	allowed := editable[entity]
	var bad []string
	for f := range fields {
		if !allowed[f] && !(create && (f == "id" || f == "customer_id")) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return izy.Errorf(izy.EINVALID, "%s fields %s cannot be written", entity, strings.Join(bad, ", "))
	}
	return nil
}

// Upload stores an upload body raw, then applies its mutations in one transaction and
// answers the result; a batch seen before answers its stored result and applies nothing.
func (s *Syncer) Upload(ctx context.Context, checkoutID string, raw []byte) (*izy.BatchResult, error) {
	if int64(len(raw)) > s.limits.MaxBatchBytes {
		return nil, izy.Errorf(izy.ETOOLARGE, "a batch has at most %d bytes; split it", s.limits.MaxBatchBytes)
	}
	b, err := ParseBatch(raw, s.limits.MaxMutations)
	if err != nil {
		return nil, err
	}
	co, err := s.openCheckout(ctx, checkoutID)
	if err != nil {
		return nil, err
	}
	stored, err := s.store.StoreBatch(ctx, co.ID, b.ID, izy.ProtocolVersion, raw)
	if err != nil || stored != nil {
		return stored, err
	}
	if err := s.store.SetCheckoutState(ctx, co.ID, izy.SyncMerging); err != nil {
		return nil, err
	}
	res, err := s.store.ApplyBatch(ctx, co.ID, b, func(ctx context.Context, tx Tx) (*izy.BatchResult, error) {
		return s.apply(ctx, tx, co, b)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("upload", "checkout", co.ID, "batch", b.ID, "mutations", len(b.Mutations))
	return res, nil
}

// BulkTx is what a Tx may offer to apply a batch's runs of tests with multi-row
// statements (sqldb's SyncTx does); apply falls back to one test at a time otherwise.
type BulkTx interface {
	// CreateTests stores validated, evaluated tests as CreateTest would each; when it
	// fails, it has written nothing that a savepoint around it cannot undo.
	CreateTests(ctx context.Context, tests []*izy.Test) error
}

// DeviceReader is what a Tx may offer to read many devices with one query (sqldb's
// SyncTx does); apply then reads the devices a batch touches once, up front.
type DeviceReader interface {
	// Devices returns the devices of ids that exist; the others are absent.
	Devices(ctx context.Context, ids []string) (map[string]*izy.Device, error)
}

// BulkEditTx is what a Tx may offer to write a run of device edits at once (sqldb's
// SyncTx does); apply falls back to one edit at a time otherwise.
type BulkEditTx interface {
	// UpdateDevices writes devices (distinct ids) as UpdateDevice would each, in order;
	// when it fails, it has written nothing that a savepoint around it cannot undo.
	UpdateDevices(ctx context.Context, ds []*izy.Device) error
}

// apply applies the mutations of b in order inside tx. Consecutive test mutations are
// validated one by one (reads only) and then stored together when tx is a BulkTx; should
// that fail, they are stored one by one, each in its own savepoint, so that each
// mutation still ends with its exact outcome. Consecutive device edits that merge
// cleanly are written together in the same way when tx is a BulkEditTx.
func (s *Syncer) apply(ctx context.Context, tx Tx, co *izy.Checkout, b *izy.Batch) (*izy.BatchResult, error) {
	res := &izy.BatchResult{BatchID: b.ID, Results: make([]izy.MutationResult, len(b.Mutations))}
	seen := map[string]int{} // mutation ID → index of its first occurrence
	bulk, _ := tx.(BulkTx)
	edits, _ := tx.(BulkEditTx)
	if r, ok := tx.(DeviceReader); ok {
		ct, err := preload(ctx, tx, r, b)
		if err != nil {
			return nil, err
		}
		tx = ct
	}
	for i := 0; i < len(b.Mutations); {
		m := &b.Mutations[i]
		if first, ok := seen[m.ID]; ok {
			res.Results[i] = res.Results[first]
			i++
			continue
		}
		prev, err := tx.MutationResult(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			res.Results[i] = *prev
			seen[m.ID] = i
			i++
			continue
		}
		if bulk != nil && m.Op == izy.OpTest && m.Entity == "test" {
			n, err := s.applyTests(ctx, tx, bulk, co, b, i, res, seen)
			if err != nil {
				return nil, err
			}
			i += n
			continue
		}
		if edits != nil && m.Op == izy.OpUpdate && m.Entity == "device" {
			n, err := s.applyEdits(ctx, tx, edits, co, b, i, res, seen)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				i += n
				continue
			}
		}
		r, err := s.applySingle(ctx, tx, co, m)
		if err != nil {
			return nil, err
		}
		res.Results[i] = r
		seen[m.ID] = i
		i++
	}
	return res, nil
}

// applySingle applies m in its own savepoint and returns its outcome; only a fatal error
// is returned.
func (s *Syncer) applySingle(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation) (izy.MutationResult, error) {
	r := izy.MutationResult{MutationID: m.ID, Entity: m.Entity, EntityID: m.EntityID}
	if err := tx.Savepoint(ctx, func() error { return s.applyOne(ctx, tx, co, m, &r) }); err != nil {
		if fatal(err) {
			return r, err
		}
		reject(&r, err)
	}
	return r, nil
}

// cachedTx keeps the devices a batch touches, read up front with one query (or a few),
// so that checking tests and edits reads no device again; every write through it that
// may change a device drops that device, and a savepoint that fails after such a write
// drops them all.
type cachedTx struct {
	Tx
	devs  map[string]*izy.Device
	wrote bool
}

// preload reads the devices that the device edits and tests of b name.
func preload(ctx context.Context, tx Tx, r DeviceReader, b *izy.Batch) (*cachedTx, error) {
	var ids []string
	for i := range b.Mutations {
		m := &b.Mutations[i]
		switch {
		case m.Entity == "device" && (m.Op == izy.OpUpdate || m.Op == izy.OpDelete):
			if izy.ValidID(m.EntityID) {
				ids = append(ids, m.EntityID)
			}
		case m.Op == izy.OpTest && m.Entity == "test":
			var id string
			if json.Unmarshal(m.Fields["device_id"], &id) == nil && izy.ValidID(id) {
				ids = append(ids, id)
			}
		}
	}
	c := &cachedTx{Tx: tx, devs: map[string]*izy.Device{}}
	if len(ids) == 0 {
		return c, nil
	}
	devs, err := r.Devices(ctx, ids)
	if err != nil {
		return nil, err
	}
	c.devs = devs
	return c, nil
}

func copyDevice(d *izy.Device) *izy.Device {
	cp := *d
	if d.LocationID != nil {
		l := *d.LocationID
		cp.LocationID = &l
	}
	if d.HeatingPowerKW != nil {
		h := *d.HeatingPowerKW
		cp.HeatingPowerKW = &h
	}
	if d.Medical != nil {
		m := *d.Medical
		cp.Medical = &m
	}
	return &cp
}

// forget drops devices from tx's cache, if it has one.
func forget(tx Tx, ids ...string) {
	if c, ok := tx.(*cachedTx); ok {
		for _, id := range ids {
			delete(c.devs, id)
		}
	}
}

func (c *cachedTx) Device(ctx context.Context, id string) (*izy.Device, error) {
	if d, ok := c.devs[id]; ok {
		return copyDevice(d), nil
	}
	d, err := c.Tx.Device(ctx, id)
	if err == nil {
		c.devs[id] = copyDevice(d)
	}
	return d, err
}

func (c *cachedTx) UpdateDevice(ctx context.Context, d *izy.Device) error {
	delete(c.devs, d.ID)
	c.wrote = true
	return c.Tx.UpdateDevice(ctx, d)
}

func (c *cachedTx) CreateDevice(ctx context.Context, d *izy.Device) error {
	delete(c.devs, d.ID)
	c.wrote = true
	return c.Tx.CreateDevice(ctx, d)
}

func (c *cachedTx) CreateTest(ctx context.Context, t *izy.Test) error {
	delete(c.devs, t.DeviceID)
	c.wrote = true
	return c.Tx.CreateTest(ctx, t)
}

func (c *cachedTx) Savepoint(ctx context.Context, fn func() error) error {
	outer := c.wrote
	c.wrote = false
	err := c.Tx.Savepoint(ctx, fn)
	if err != nil && c.wrote {
		clear(c.devs)
	}
	c.wrote = c.wrote || outer
	return err
}

// applyEdits applies the run of device edits of b that starts at from and merge cleanly
// (no conflict, nothing rejected, each device once; mutations seen before in the batch
// or applied in an earlier one end the run) and returns its length; 0 when the mutation
// at from does not merge cleanly, for apply to apply it alone. The edits are merged
// first (reads only) and written with one UpdateDevices in a savepoint, or, when that
// fails, one by one as apply would.
func (s *Syncer) applyEdits(ctx context.Context, tx Tx, edits BulkEditTx, co *izy.Checkout, b *izy.Batch, from int, res *izy.BatchResult, seen map[string]int) (int, error) {
	var ds []*izy.Device
	var at []int
	var merged []bool
	touched := map[string]bool{}
	for i := from; i < len(b.Mutations); i++ {
		m := &b.Mutations[i]
		if m.Op != izy.OpUpdate || m.Entity != "device" || touched[m.EntityID] {
			break
		}
		if ok, err := unseen(ctx, tx, seen, m.ID, i > from); err != nil {
			return 0, err
		} else if !ok {
			break
		}
		d, mg, err := s.prepareEdit(ctx, tx, co, m)
		if err != nil {
			return 0, err
		}
		if d == nil {
			break
		}
		touched[m.EntityID] = true
		seen[m.ID] = i
		ds, at, merged = append(ds, d), append(at, i), append(merged, mg)
	}
	if len(ds) == 0 {
		return 0, nil
	}
	forget(tx, keys(touched)...)
	err := tx.Savepoint(ctx, func() error { return edits.UpdateDevices(ctx, ds) })
	if err == nil {
		c, _ := tx.(*cachedTx)
		for k, i := range at {
			m := &b.Mutations[i]
			r := izy.MutationResult{MutationID: m.ID, Entity: m.Entity, EntityID: m.EntityID, Status: izy.MutationApplied, Version: ds[k].Version}
			if merged[k] {
				r.Status = izy.MutationMerged
			}
			res.Results[i] = r
			if c != nil {
				c.devs[ds[k].ID] = copyDevice(ds[k])
			}
		}
		return len(at), nil
	}
	if fatal(err) {
		return 0, err
	}
	s.log.Debug("bulk device update failed; writing the edits one by one", "batch", b.ID, "err", err)
	for _, i := range at {
		r, err := s.applySingle(ctx, tx, co, &b.Mutations[i])
		if err != nil {
			return 0, err
		}
		res.Results[i] = r
	}
	return len(at), nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// prepareEdit merges a device edit as update would, reading only, and returns the
// device to write and whether the merge combined both sides; a nil device when the edit
// does not merge cleanly (a conflict, a rejection, nothing to write), for apply to apply
// it alone. Only a fatal error is returned.
func (s *Syncer) prepareEdit(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation) (*izy.Device, bool, error) {
	unclean := func(err error) (*izy.Device, bool, error) {
		if err != nil && fatal(err) {
			return nil, false, err
		}
		return nil, false, nil
	}
	if !izy.ValidID(m.EntityID) || len(m.Fields) == 0 {
		return nil, false, nil
	}
	if err := checkFields("device", m.Fields, false); err != nil {
		return unclean(err)
	}
	cur, err := load(ctx, tx, "device", m.EntityID)
	if err != nil {
		return unclean(err)
	}
	if err := inScope(ctx, tx, co, cur.customerID, cur.location); err != nil {
		return unclean(err)
	}
	moved := cur.version != m.BaseVersion
	if moved && cur.device.Status == izy.DeviceRetired {
		return nil, false, nil // perhaps a delete_edit conflict: update decides
	}
	mg := MergeFields(m.Base, cur.fields, m.Fields, moved)
	if len(mg.Conflicts) > 0 || len(mg.Apply) == 0 {
		return nil, false, nil
	}
	d, err := overlay(cur.device, mg.Apply)
	if err != nil {
		return unclean(err)
	}
	if err := d.Validate(); err != nil {
		return unclean(err)
	}
	if err := inScope(ctx, tx, co, d.CustomerID, d.LocationID); err != nil {
		return unclean(err)
	}
	return d, mg.Merged, nil
}

func fatal(err error) bool {
	return izy.ErrorCode(err) == izy.EINTERNAL || izy.ErrorCode(err) == izy.EUNAVAILABLE
}

// unseen reports whether mutation id may join a bulk run: not seen before in this batch
// and, unless it is the run's first (which apply has already looked up), not applied in
// an earlier batch.
func unseen(ctx context.Context, tx Tx, seen map[string]int, id string, lookUp bool) (bool, error) {
	if _, ok := seen[id]; ok {
		return false, nil
	}
	if !lookUp {
		return true, nil
	}
	prev, err := tx.MutationResult(ctx, id)
	if err != nil {
		return false, err
	}
	return prev == nil, nil
}

func reject(r *izy.MutationResult, err error) {
	r.Status, r.Message, r.Version, r.ConflictID = izy.MutationRejected, izy.ErrorMessage(err), 0, ""
}

// applyTests applies the run of test mutations of b that starts at from (mutations seen
// before in the batch or applied in an earlier one end the run) and returns its length.
// Each test is validated and evaluated first; those that pass are stored with one
// CreateTests in a savepoint, or, when that fails, one by one as apply would.
func (s *Syncer) applyTests(ctx context.Context, tx Tx, bulk BulkTx, co *izy.Checkout, b *izy.Batch, from int, res *izy.BatchResult, seen map[string]int) (int, error) {
	var tests []*izy.Test
	var at []int                 // index in b of each of tests
	pending := map[string]bool{} // test IDs of tests, created by this run
	i := from
	for ; i < len(b.Mutations); i++ {
		m := &b.Mutations[i]
		if m.Op != izy.OpTest || m.Entity != "test" {
			break
		}
		if ok, err := unseen(ctx, tx, seen, m.ID, i > from); err != nil {
			return 0, err
		} else if !ok {
			break
		}
		seen[m.ID] = i
		r := izy.MutationResult{MutationID: m.ID, Entity: m.Entity, EntityID: m.EntityID}
		var t *izy.Test
		err := func() error {
			if !izy.ValidID(m.EntityID) {
				return izy.Errorf(izy.EINVALID, "id must be a valid id")
			}
			if pending[m.EntityID] {
				// the same test twice: the second finds it stored, as one at a time would
				r.Status = izy.MutationApplied
				return nil
			}
			var err error
			t, err = s.prepareTest(ctx, tx, co, m, &r)
			return err
		}()
		if err != nil {
			if fatal(err) {
				return 0, err
			}
			reject(&r, err)
		}
		res.Results[i] = r
		if t != nil {
			tests, at = append(tests, t), append(at, i)
			pending[t.ID] = true
		}
	}
	if len(tests) == 0 {
		return i - from, nil
	}
	for _, t := range tests {
		forget(tx, t.DeviceID) // the tests move their devices' last test
	}
	err := tx.Savepoint(ctx, func() error { return bulk.CreateTests(ctx, tests) })
	if err == nil {
		for k, t := range tests {
			r := &res.Results[at[k]]
			r.Status, r.EntityID = izy.MutationApplied, t.ID
		}
		return i - from, nil
	}
	if fatal(err) {
		return 0, err
	}
	s.log.Debug("bulk test insert failed; storing the tests one by one", "batch", b.ID, "err", err)
	for k, t := range tests {
		r := &res.Results[at[k]]
		if err := tx.Savepoint(ctx, func() error { return tx.CreateTest(ctx, t) }); err != nil {
			if fatal(err) {
				return 0, err
			}
			reject(r, err)
			continue
		}
		r.Status, r.EntityID = izy.MutationApplied, t.ID
	}
	return i - from, nil
}

// applyOne applies one mutation and fills r; an *izy.Error rejects it.
func (s *Syncer) applyOne(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	if !izy.ValidID(m.EntityID) {
		return izy.Errorf(izy.EINVALID, "id must be a valid id")
	}
	switch {
	case m.Op == izy.OpTest && m.Entity == "test":
		t, err := s.prepareTest(ctx, tx, co, m, r)
		if err != nil || t == nil {
			return err
		}
		if err := tx.CreateTest(ctx, t); err != nil {
			return err
		}
		r.Status, r.EntityID = izy.MutationApplied, t.ID
		return nil
	case m.Op == izy.OpCreate && m.Entity == "device":
		return s.createDevice(ctx, tx, co, m, r)
	case m.Op == izy.OpCreate && m.Entity == "location":
		return s.createLocation(ctx, tx, co, m, r)
	case m.Op == izy.OpUpdate && (m.Entity == "device" || m.Entity == "location"):
		return s.update(ctx, tx, co, m, r)
	case m.Op == izy.OpDelete && (m.Entity == "device" || m.Entity == "location"):
		return s.delete(ctx, tx, co, m, r)
	case m.Op != izy.OpCreate && m.Op != izy.OpUpdate && m.Op != izy.OpDelete && m.Op != izy.OpTest:
		return izy.Errorf(izy.EINVALID, "unknown op %q; want create, update, delete or test", m.Op)
	}
	return izy.Errorf(izy.EINVALID, "op %q does not apply to entity %q", m.Op, m.Entity)
}

// inScope refuses an entity of customerID at locationID outside the checkout's scope.
func inScope(ctx context.Context, tx Tx, co *izy.Checkout, customerID string, locationID *string) error {
	if customerID != co.CustomerID {
		return izy.Errorf(izy.EINVALID, "the record lies outside the checkout's scope (another customer)")
	}
	if co.LocationID == nil {
		return nil
	}
	if locationID == nil {
		return izy.Errorf(izy.EINVALID, "the record lies outside the checkout's location subtree")
	}
	in, err := tx.LocationWithin(ctx, *locationID, *co.LocationID)
	if err != nil {
		return err
	}
	if !in {
		return izy.Errorf(izy.EINVALID, "the record lies outside the checkout's location subtree")
	}
	return nil
}

// locationScope is the location whose subtree membership decides a location's scope: a
// location is in a subtree when it lies within it.
func locationScopeOf(l *izy.Location) *string { return &l.ID }

func (s *Syncer) conflict(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, kind string, fields []izy.FieldConflict, r *izy.MutationResult, msg string) error {
	c := &izy.Conflict{MutationID: m.ID, Kind: kind, Entity: m.Entity, EntityID: m.EntityID, Fields: fields, Mutation: *m}
	if err := tx.AddConflict(ctx, co.CustomerID, c); err != nil {
		return err
	}
	r.Status, r.ConflictID, r.Message = izy.MutationConflict, c.ID, msg
	return nil
}

func (s *Syncer) createDevice(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	if err := checkFields("device", m.Fields, true); err != nil {
		return err
	}
	d, err := overlay(&izy.Device{}, m.Fields)
	if err != nil {
		return err
	}
	if d.ID != "" && d.ID != m.EntityID {
		return izy.Errorf(izy.EINVALID, "id in fields differs from the mutation's id")
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
	if _, err := tx.Device(ctx, d.ID); err == nil {
		return izy.Errorf(izy.EINVALID, "a device with id %s exists already", d.ID)
	}
	if d.SerialNumber != "" {
		other, err := tx.DeviceBySerial(ctx, d.CustomerID, d.SerialNumber, d.ID)
		if err != nil {
			return err
		}
		if other != nil {
			sn, _ := json.Marshal(d.SerialNumber)
			return s.conflict(ctx, tx, co, m, izy.ConflictDuplicate,
				[]izy.FieldConflict{{Field: "serial_number", Base: json.RawMessage("null"), Server: sn, Client: sn}}, r,
				fmt.Sprintf("serial number %s already belongs to device %s (%s)", d.SerialNumber, other.InventoryID, other.ID))
		}
	}
	if err := tx.CreateDevice(ctx, d); err != nil {
		return err
	}
	r.Status, r.Version = izy.MutationApplied, d.Version
	return nil
}

func (s *Syncer) createLocation(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	if err := checkFields("location", m.Fields, true); err != nil {
		return err
	}
	l, err := overlay(&izy.Location{}, m.Fields)
	if err != nil {
		return err
	}
	if l.ID != "" && l.ID != m.EntityID {
		return izy.Errorf(izy.EINVALID, "id in fields differs from the mutation's id")
	}
	l.ID = m.EntityID
	if l.CustomerID == "" {
		l.CustomerID = co.CustomerID
	}
	if err := l.Validate(); err != nil {
		return err
	}
	if err := inScope(ctx, tx, co, l.CustomerID, l.ParentID); err != nil {
		return err
	}
	if _, err := tx.Location(ctx, l.ID); err == nil {
		return izy.Errorf(izy.EINVALID, "a location with id %s exists already", l.ID)
	}
	if err := tx.CreateLocation(ctx, l); err != nil {
		return err
	}
	r.Status, r.Version = izy.MutationApplied, l.Version
	return nil
}

// current loads the server's copy of the entity of m with its customer, location (for the
// scope check), version and JSON fields; ok is false when it does not exist.
type current struct {
	customerID string
	location   *string
	version    int64
	fields     map[string]json.RawMessage
	device     *izy.Device
	loc        *izy.Location
}

func load(ctx context.Context, tx Tx, entity, id string) (*current, error) {
	switch entity {
	case "device":
		d, err := tx.Device(ctx, id)
		if err != nil {
			return nil, err
		}
		return &current{customerID: d.CustomerID, location: d.LocationID, version: d.Version, fields: fieldsOf(d), device: d}, nil
	default:
		l, err := tx.Location(ctx, id)
		if err != nil {
			return nil, err
		}
		return &current{customerID: l.CustomerID, location: locationScopeOf(l), version: l.Version, fields: fieldsOf(l), loc: l}, nil
	}
}

// missing decides a mutation against an entity that does not exist: deleted on the
// server (a delete_edit conflict), or never known here (rejected).
func (s *Syncer) missing(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	gone, err := tx.Deleted(ctx, m.Entity, m.EntityID)
	if err != nil {
		return err
	}
	if !gone {
		return izy.Errorf(izy.EINVALID, "%s %s does not exist", m.Entity, m.EntityID)
	}
	if m.Op == izy.OpDelete {
		r.Status = izy.MutationApplied // deleted on both sides
		return nil
	}
	return s.conflict(ctx, tx, co, m, izy.ConflictDeleteEdit, nil, r, fmt.Sprintf("the %s was deleted on the server", m.Entity))
}

func (s *Syncer) update(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	if err := checkFields(m.Entity, m.Fields, false); err != nil {
		return err
	}
	if len(m.Fields) == 0 {
		return izy.Errorf(izy.EINVALID, "an update needs fields")
	}
	cur, err := load(ctx, tx, m.Entity, m.EntityID)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return s.missing(ctx, tx, co, m, r)
	}
	if err != nil {
		return err
	}
	if err := inScope(ctx, tx, co, cur.customerID, cur.location); err != nil {
		return err
	}
	moved := cur.version != m.BaseVersion
	if cur.device != nil && moved && cur.device.Status == izy.DeviceRetired {
		if _, setsStatus := m.Fields["status"]; !setsStatus && !JSONEqual(m.Base["status"], json.RawMessage(`"retired"`)) {
			return s.conflict(ctx, tx, co, m, izy.ConflictDeleteEdit, nil, r, "the device was retired on the server")
		}
	}
	mg := MergeFields(m.Base, cur.fields, m.Fields, moved)
	if len(mg.Conflicts) > 0 {
		names := make([]string, len(mg.Conflicts))
		for i, c := range mg.Conflicts {
			names[i] = c.Field
		}
		return s.conflict(ctx, tx, co, m, izy.ConflictField, mg.Conflicts, r, "changed on both sides: "+strings.Join(names, ", "))
	}
	version, err := s.write(ctx, tx, co, cur, mg.Apply)
	if err != nil {
		return err
	}
	r.Status, r.Version = izy.MutationApplied, version
	if mg.Merged {
		r.Status = izy.MutationMerged
	}
	return nil
}

// write sets fields on the current entity and returns its new version.
func (s *Syncer) write(ctx context.Context, tx Tx, co *izy.Checkout, cur *current, fields map[string]json.RawMessage) (int64, error) {
	if len(fields) == 0 {
		return cur.version, nil
	}
	if cur.device != nil {
		d, err := overlay(cur.device, fields)
		if err != nil {
			return 0, err
		}
		if err := d.Validate(); err != nil {
			return 0, err
		}
		if err := inScope(ctx, tx, co, d.CustomerID, d.LocationID); err != nil {
			return 0, err
		}
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return 0, err
		}
		return d.Version, nil
	}
	l, err := overlay(cur.loc, fields)
	if err != nil {
		return 0, err
	}
	if err := l.Validate(); err != nil {
		return 0, err
	}
	if l.ParentID != nil {
		if err := inScope(ctx, tx, co, l.CustomerID, l.ParentID); err != nil && co.LocationID != nil && *co.LocationID != l.ID {
			return 0, err
		}
	}
	if err := tx.UpdateLocation(ctx, l); err != nil {
		return 0, err
	}
	return l.Version, nil
}

func (s *Syncer) delete(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) error {
	cur, err := load(ctx, tx, m.Entity, m.EntityID)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return s.missing(ctx, tx, co, m, r)
	}
	if err != nil {
		return err
	}
	if err := inScope(ctx, tx, co, cur.customerID, cur.location); err != nil {
		return err
	}
	if m.BaseVersion != 0 && cur.version != m.BaseVersion {
		if cur.device == nil || cur.device.Status != izy.DeviceRetired {
			return s.conflict(ctx, tx, co, m, izy.ConflictDeleteEdit, nil, r,
				fmt.Sprintf("the %s was changed on the server since version %d (now %d)", m.Entity, m.BaseVersion, cur.version))
		}
	}
	return s.remove(ctx, tx, cur, r)
}

// remove retires a device or deletes a location.
func (s *Syncer) remove(ctx context.Context, tx Tx, cur *current, r *izy.MutationResult) error {
	if cur.device != nil {
		d := cur.device
		if d.Status != izy.DeviceRetired {
			d.Status = izy.DeviceRetired
			if err := tx.UpdateDevice(ctx, d); err != nil {
				return err
			}
		}
		r.Status, r.Version = izy.MutationApplied, d.Version
		return nil
	}
	if err := tx.DeleteLocation(ctx, cur.loc.ID, cur.loc.Version); err != nil {
		return err
	}
	r.Status = izy.MutationApplied
	return nil
}

// testFields is the body of a test mutation: the body of POST /api/v1/tests.
type testFields struct {
	ID           string   `json:"id"`
	DeviceID     string   `json:"device_id"`
	Date         izy.Date `json:"date"`
	Standard     string   `json:"standard"`
	InstrumentID *string  `json:"instrument_id"`
	VisualOK     *bool    `json:"visual_ok"`
	FunctionalOK *bool    `json:"functional_ok"`
	Comment      string   `json:"comment"`
	Measurements []struct {
		Kind       string            `json:"kind"`
		Value      *float64          `json:"value"`
		Unit       string            `json:"unit"`
		Parameters map[string]string `json:"parameters"`
	} `json:"measurements"`
}

// prepareTest validates and evaluates a test mutation as POST /api/v1/tests would, with
// the same rule set, and returns the test to store; it writes nothing. Tests are
// append-only and never conflict: a test id stored before sets r applied and returns nil.
func (s *Syncer) prepareTest(ctx context.Context, tx Tx, co *izy.Checkout, m *izy.Mutation, r *izy.MutationResult) (*izy.Test, error) {
	b, _ := json.Marshal(m.Fields)
	var in testFields
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, izy.Errorf(izy.EINVALID, "test: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	switch {
	case in.ID != "" && in.ID != m.EntityID:
		return nil, izy.Errorf(izy.EINVALID, "id in fields differs from the mutation's id")
	case !izy.ValidID(in.DeviceID):
		return nil, izy.Errorf(izy.EINVALID, "device_id must be a valid id")
	case in.VisualOK == nil || in.FunctionalOK == nil:
		return nil, izy.Errorf(izy.EINVALID, "visual_ok and functional_ok are required")
	case len(in.Measurements) > izy.MaxMeasurements:
		return nil, izy.Errorf(izy.EINVALID, "a test has at most %d measurements", izy.MaxMeasurements)
	case in.InstrumentID != nil && !izy.ValidID(*in.InstrumentID):
		return nil, izy.Errorf(izy.EINVALID, "instrument_id must be a valid id or null")
	}
	exists, err := tx.TestExists(ctx, m.EntityID)
	if err != nil {
		return nil, err
	}
	if exists {
		r.Status = izy.MutationApplied
		return nil, nil
	}
	d, err := tx.Device(ctx, in.DeviceID)
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return nil, izy.Errorf(izy.EINVALID, "device %s does not exist", in.DeviceID)
	}
	if err != nil {
		return nil, err
	}
	if err := inScope(ctx, tx, co, d.CustomerID, d.LocationID); err != nil {
		return nil, err
	}
	if in.InstrumentID != nil {
		if _, err := tx.Instrument(ctx, *in.InstrumentID); err != nil {
			return nil, izy.Errorf(izy.EINVALID, "instrument_id names no known instrument")
		}
	}
	t := &izy.Test{ID: m.EntityID, DeviceID: d.ID, Date: in.Date, Standard: strings.TrimSpace(in.Standard),
		InstrumentID: in.InstrumentID, VisualOK: *in.VisualOK, FunctionalOK: *in.FunctionalOK, Comment: in.Comment,
		Measurements: make([]izy.Measurement, len(in.Measurements))}
	today := izy.DateOf(s.now())
	if t.Date.IsZero() {
		t.Date = izy.DateOf(m.CreatedAt)
		if m.CreatedAt.IsZero() {
			t.Date = today
		}
	}
	for i, x := range in.Measurements {
		if x.Value == nil {
			return nil, izy.Errorf(izy.EINVALID, "measurement %d: value is required", i+1)
		}
		t.Measurements[i] = izy.Measurement{Kind: x.Kind, Value: *x.Value, Unit: x.Unit, Parameters: x.Parameters}
	}
	rs, err := izy.RuleSetFor(izy.StandardFor(t, d))
	if err != nil {
		return nil, err
	}
	if err := rs.EvaluateAt(d, t, today); err != nil {
		return nil, err
	}
	t.CustomerID, t.InspectorID = d.CustomerID, co.UserID
	return t, nil
}
