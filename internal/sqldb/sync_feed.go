package sqldb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// Entities of the sync feed in snapshot order (their rank is the index).
var feedEntities = []string{"customer", "location", "device", "instrument", "test"}

// feedScope builds the SQL that restricts each entity's rows to a checkout's scope: a
// customer, or a location subtree (its devices, its locations and their ancestors, the
// tests of its devices). Instruments are shared by all customers and always in scope.
type feedScope struct {
	prefix     string // WITH RECURSIVE … for a location scope
	prefixArgs []any
	customerID string
	location   bool
}

func newFeedScope(co *izy.Checkout) feedScope {
	s := feedScope{customerID: co.CustomerID}
	if co.LocationID != nil {
		s.location = true
		s.prefix = `WITH RECURSIVE sub (id) AS (
			SELECT id FROM locations WHERE id = ?
			UNION ALL
			SELECT l.id FROM locations l JOIN sub s ON l.parent_id = s.id
		), anc (id, parent_id) AS (
			SELECT id, parent_id FROM locations WHERE id = ?
			UNION ALL
			SELECT l.id, l.parent_id FROM locations l JOIN anc a ON l.id = a.parent_id
		) `
		s.prefixArgs = []any{*co.LocationID, *co.LocationID}
	}
	return s
}

// cond returns the scope condition of entity and its arguments.
func (s feedScope) cond(entity string) (string, []any) {
	switch entity {
	case "customer":
		return "id = ?", []any{s.customerID}
	case "location":
		if s.location {
			return "(id IN (SELECT id FROM sub) OR id IN (SELECT id FROM anc))", nil
		}
		return "customer_id = ?", []any{s.customerID}
	case "device":
		if s.location {
			return "location_id IN (SELECT id FROM sub)", nil
		}
		return "customer_id = ?", []any{s.customerID}
	case "test":
		if s.location {
			return "device_id IN (SELECT id FROM devices WHERE location_id IN (SELECT id FROM sub))", nil
		}
		return "customer_id = ?", []any{s.customerID}
	case "tombstone":
		// A location scope gets every tombstone of the customer: a client deletes only
		// what it holds, and a deleted location's old place cannot be walked any more.
		return "customer_id = ?", []any{s.customerID}
	}
	return "1 = 1", nil
}

func feedTable(entity string) string {
	if entity == "test" {
		return "tests"
	}
	return entity + "s"
}

func feedCols(entity string) string {
	switch entity {
	case "customer":
		return customerCols
	case "location":
		return locationCols
	case "device":
		return deviceCols
	case "instrument":
		return instrumentCols
	}
	return testCols
}

// feedRows reads rows of entity matching the scope and extra (a condition with args),
// ordered by order, at most limit, as wire rows.
// feedQuery is the query of feedRows. For the change feed of a customer scope (extra
// "seq > ?", order "seq") it seeks the (customer_id, seq) index of migration 0005.
func feedQuery(s feedScope, entity, extra string, extraArgs []any, order string, limit int) (string, []any) {
	cond, cargs := s.cond(entity)
	q := s.prefix + "SELECT " + feedCols(entity) + " FROM " + feedTable(entity) + " WHERE " + cond
	args := append(append([]any{}, s.prefixArgs...), cargs...)
	if extra != "" {
		q += " AND " + extra
		args = append(args, extraArgs...)
	}
	q += " ORDER BY " + order + " LIMIT ?"
	args = append(args, limit)
	return q, args
}

func (t *tx) feedRows(ctx context.Context, s feedScope, entity, extra string, extraArgs []any, order string, limit int) ([]izy.Row, error) {
	q, args := feedQuery(s, entity, extra, extraArgs, order, limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, dbErr("read "+entity+" rows", err)
	}
	var out []izy.Row
	var vals []any
	var tests []*izy.Test
	for rows.Next() {
		var r izy.Row
		var v any
		switch entity {
		case "customer":
			c := &izy.Customer{}
			err = scanCustomer(rows, c)
			v, r.ID, r.Seq = c, c.ID, c.Seq
		case "location":
			l := &izy.Location{}
			err = scanLocation(rows, l)
			v, r.ID, r.Seq = l, l.ID, l.Seq
		case "device":
			d := &izy.Device{}
			err = scanDevice(rows, d)
			v, r.ID, r.Seq = d, d.ID, d.Seq
		case "instrument":
			in := &izy.Instrument{}
			err = scanInstrument(rows, in)
			v, r.ID, r.Seq = in, in.ID, in.Seq
		default:
			x := &izy.Test{}
			err = scanTest(rows, x)
			v, r.ID, r.Seq = x, x.ID, x.Seq
			tests = append(tests, x)
		}
		if err != nil {
			rows.Close()
			return nil, dbErr("read "+entity+" rows", err)
		}
		r.Entity = entity
		out = append(out, r)
		vals = append(vals, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr("read "+entity+" rows", err)
	}
	if len(tests) > 0 {
		// Tests are written as JSON straight from their rows (feed_json.go).
		var q string
		var qargs []any
		if order == "id" {
			// A snapshot page: its tests are a range of ids within the scope, so their
			// measurements come with a subquery rather than a list of up to 5,000 ids.
			cond, cargs := s.cond("test")
			q = s.prefix + "SELECT " + feedMeasurementCols + " FROM measurements WHERE test_id IN (SELECT id FROM tests WHERE " + cond +
				" AND id >= ? AND id <= ?) ORDER BY test_id, position"
			qargs = append(append(append([]any{}, s.prefixArgs...), cargs...), tests[0].ID, tests[len(tests)-1].ID)
		} else {
			q = "SELECT " + feedMeasurementCols + " FROM measurements WHERE test_id IN (" + placeholders(len(tests)) + ") ORDER BY test_id, position"
			for _, x := range tests {
				qargs = append(qargs, x.ID)
			}
		}
		ms, err := t.readMeasurementsJSON(ctx, q, qargs...)
		if err != nil {
			return nil, err
		}
		if err := testRowsJSON(out, tests, ms); err != nil {
			return nil, dbErr("read test rows", err)
		}
		return out, nil
	}
	for i, v := range vals {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[i].Data = b
	}
	return out, nil
}

// tombstoneRows reads tombstones of the scope with seq > since in seq order.
func (t *tx) tombstoneRows(ctx context.Context, s feedScope, since int64, limit int) ([]izy.Row, error) {
	cond, args := s.cond("tombstone")
	rows, err := t.query(ctx, "SELECT entity, id, seq FROM tombstones WHERE "+cond+" AND seq > ? ORDER BY seq LIMIT ?",
		append(args, since, limit)...)
	if err != nil {
		return nil, dbErr("read tombstones", err)
	}
	defer rows.Close()
	var out []izy.Row
	for rows.Next() {
		r := izy.Row{Deleted: true}
		if err := rows.Scan(&r.Entity, &r.ID, &r.Seq); err != nil {
			return nil, dbErr("read tombstones", err)
		}
		out = append(out, r)
	}
	return out, dbErr("read tombstones", rows.Err())
}

// snapshotCursor is the opaque position after (rank, id).
func snapshotCursor(rank int, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(rank) + ":" + id))
}

func parseSnapshotCursor(c string) (int, string, error) {
	if c == "" {
		return 0, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		r, id, ok := strings.Cut(string(b), ":")
		rank, err := strconv.Atoi(r)
		if ok && err == nil && rank >= 0 && rank < len(feedEntities) && izy.ValidID(id) {
			return rank, id, nil
		}
	}
	return 0, "", izy.Errorf(izy.EINVALID, "cursor is not valid")
}

// SnapshotPage returns the page of co's snapshot that follows cursor ("" for the first):
// at most limit rows in key order (entity rank, then id), with count and checksum, and on
// the last page (Next "") the totals per entity of the whole scope. Reading one page is
// one read transaction; pages may come from different moments, which the change feed
// that follows repairs.
func (db *DB) SnapshotPage(ctx context.Context, co *izy.Checkout, cursor string, limit int) (*izy.SyncPage, error) {
	rank, after, err := parseSnapshotCursor(cursor)
	if err != nil {
		return nil, err
	}
	s := newFeedScope(co)
	page := &izy.SyncPage{Rows: []izy.Row{}}
	err = db.read(ctx, func(t *tx) error {
		for ; rank < len(feedEntities); rank, after = rank+1, "" {
			entity := feedEntities[rank]
			need := limit - len(page.Rows)
			extra, eargs := "", []any(nil)
			if after != "" {
				extra, eargs = "id > ?", []any{after}
			}
			rows, err := t.feedRows(ctx, s, entity, extra, eargs, "id", need+1)
			if err != nil {
				return err
			}
			if len(rows) > need {
				page.Rows = append(page.Rows, rows[:need]...)
				last := page.Rows[len(page.Rows)-1]
				page.Next = snapshotCursor(rankOf(last.Entity), last.ID)
				return nil
			}
			page.Rows = append(page.Rows, rows...)
		}
		page.Totals = map[string]int64{}
		for _, entity := range feedEntities {
			cond, cargs := s.cond(entity)
			var n int64
			if err := t.queryRow(ctx, s.prefix+"SELECT count(*) FROM "+feedTable(entity)+" WHERE "+cond,
				append(append([]any{}, s.prefixArgs...), cargs...)...).Scan(&n); err != nil {
				return dbErr("count snapshot", err)
			}
			page.Totals[entity] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page.Seal()
	return page, nil
}

func rankOf(entity string) int {
	for i, e := range feedEntities {
		if e == entity {
			return i
		}
	}
	return len(feedEntities)
}

// Changes returns at most limit rows of co's scope with seq > since in seq order,
// tombstones included; UpTo is the seq to ask from next and More says whether more rows
// are ready.
//
// On PostgreSQL seq numbers are taken before commit, so a slow transaction may commit a
// lower seq after a faster one; a client that re-reads from a slightly older seq loses
// nothing because it applies a row only when it is newer than its copy.
func (db *DB) Changes(ctx context.Context, co *izy.Checkout, since int64, limit int) (*izy.SyncPage, error) {
	s := newFeedScope(co)
	var all []izy.Row
	var echoMax int64
	more := false
	err := db.read(ctx, func(t *tx) error {
		// Rows the client got with its own upload's answer stay out, in the query: reading
		// and encoding them only to drop them cost as much as an upload's feed.
		cond := "seq > ? AND seq NOT IN (SELECT seq FROM sync_echo WHERE checkout_id = ? AND seq > ?)"
		for _, entity := range feedEntities {
			rows, err := t.feedRows(ctx, s, entity, cond, []any{since, co.ID, since}, "seq", limit+1)
			if err != nil {
				return err
			}
			all = append(all, rows...)
		}
		rows, err := t.tombstoneRows(ctx, s, since, limit+1)
		if err != nil {
			return err
		}
		all = append(all, rows...)
		err = t.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM sync_echo WHERE checkout_id = ? AND seq > ?", co.ID, since).Scan(&echoMax)
		return dbErr("read echo", err)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	page := &izy.SyncPage{UpTo: since, More: more, Rows: all}
	if page.Rows == nil {
		page.Rows = []izy.Row{}
	}
	if n := len(all); n > 0 {
		page.UpTo = all[n-1].Seq
	}
	// up_to passes the echoed rows too. With more pages to come, the echoed rows after
	// up_to are passed by a later page; on the last page every row after since not echoed
	// is here, and an echoed row changed again since has a later seq than its echo entry,
	// so up_to may move to the last echo entry.
	if !more && echoMax > page.UpTo {
		page.UpTo = echoMax
	}
	page.Seal()
	return page, nil
}
