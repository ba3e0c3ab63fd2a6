package izytroniq

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The download encoding of protocol 2. A page's "rows" is an array of groups; a group is
// a run of consecutive rows of one entity, live or tombstones:
//
//	[{"t":"location","data":[{…location…},{…}]},{"t":"device","deleted":true,"data":[{"id":"…","seq":7}]}]
//
// A live row's data is the entity's JSON, which carries its "id" and "seq"; a tombstone's
// is {"id","seq"} only. Rows keep their order, so the overhead is the comma between rows
// plus a few bytes per group (one or two groups in a snapshot page).

// AppendRows appends the wire encoding of rows to b. Every live row's Data must be
// compact JSON whose top-level "id" and "seq" equal the row's (the server's entity JSON
// is); tombstones are encoded from ID and Seq.
func AppendRows(b []byte, rows []Row) []byte {
	n := 2
	for i := range rows {
		n += len(rows[i].Data) + len(rows[i].ID) + 32
	}
	b = slices.Grow(b, n)
	b = append(b, '[')
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].Entity == rows[i].Entity && rows[j].Deleted == rows[i].Deleted {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":`...)
		b = AppendJSONString(b, rows[i].Entity)
		if rows[i].Deleted {
			b = append(b, `,"deleted":true`...)
		}
		b = append(b, `,"data":[`...)
		for k := i; k < j; k++ {
			if k > i {
				b = append(b, ',')
			}
			if rows[k].Deleted {
				b = append(b, `{"id":`...)
				b = AppendJSONString(b, rows[k].ID)
				b = append(b, `,"seq":`...)
				b = strconv.AppendInt(b, rows[k].Seq, 10)
				b = append(b, '}')
			} else {
				b = append(b, rows[k].Data...)
			}
		}
		b = append(b, "]}"...)
		i = j
	}
	return append(b, ']')
}

// RowsChecksum is the hex SHA-256 of the rows' wire encoding (AppendRows): exactly the
// bytes of a page's "rows" value as the server sends them. The client hashes the bytes
// it received (SyncPage.ReceivedChecksum), so it never encodes a row again.
func RowsChecksum(rows []Row) string {
	return checksum(AppendRows(nil, rows))
}

func checksum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// syncPageWire is SyncPage with its rows as their raw encoding.
type syncPageWire struct {
	Rows     json.RawMessage  `json:"rows"`
	Count    int              `json:"count"`
	Checksum string           `json:"checksum"`
	Next     string           `json:"next,omitempty"`
	UpTo     int64            `json:"up_to,omitempty"`
	More     bool             `json:"more,omitempty"`
	Totals   map[string]int64 `json:"totals,omitempty"`
}

// Seal encodes the page's rows once, and sets Count and Checksum from that encoding;
// MarshalJSON then sends exactly the bytes that were hashed. Rows must not change after.
func (p *SyncPage) Seal() {
	p.raw = AppendRows(nil, p.Rows)
	p.Count = len(p.Rows)
	p.Checksum = checksum(p.raw)
	p.received = ""
}

// MarshalJSON encodes the page with its rows grouped by entity (see AppendRows).
func (p *SyncPage) MarshalJSON() ([]byte, error) {
	head, rows, tail, err := p.JSONParts()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(rows)+len(tail))
	return append(append(append(out, head...), rows...), tail...), nil
}

// JSONParts returns what MarshalJSON returns in three parts, whose concatenation it is,
// so that a server can write a page of megabytes without copying it once more. rows is
// the page's sealed encoding when it has one; it must not be changed.
func (p *SyncPage) JSONParts() (head, rows, tail []byte, err error) {
	rows = p.raw
	if rows == nil {
		rows = AppendRows(nil, p.Rows)
	}
	rest, err := json.Marshal(syncPageWire{Rows: json.RawMessage("0"), Count: p.Count, Checksum: p.Checksum, Next: p.Next, UpTo: p.UpTo, More: p.More, Totals: p.Totals})
	if err != nil {
		return nil, nil, nil, err
	}
	// rest is {"rows":0,"count":…}: the rows go in place of the 0.
	const head0 = `{"rows":0`
	return []byte(`{"rows":`), rows, rest[len(head0):], nil
}

// UnmarshalJSON decodes a page (see DecodeSyncPage); it keeps a copy of b.
func (p *SyncPage) UnmarshalJSON(b []byte) error {
	q, err := DecodeSyncPage(append([]byte(nil), b...))
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// DecodeSyncPage decodes a page, hashing the rows' bytes as received (ReceivedChecksum)
// and decoding each row once: a row's ID and Seq come from its data, and its Data is a
// slice of b, which must therefore not change afterwards. It walks b once; only the
// small members other than rows go through encoding/json.
func DecodeSyncPage(b []byte) (*SyncPage, error) {
	p := &SyncPage{}
	var raw []byte
	d := scanner{b: b}
	d.ws()
	err := d.members(func(key []byte) error {
		if string(key) == "rows" {
			start := d.i
			rows, err := d.rows()
			if err != nil {
				return err
			}
			raw, p.Rows = d.b[start:d.i:d.i], rows
			return nil
		}
		vs := d.i
		if !d.skip() {
			return errRows
		}
		val := d.b[vs:d.i:d.i]
		var dst any
		switch string(key) {
		case "count":
			dst = &p.Count
		case "checksum":
			dst = &p.Checksum
		case "next":
			dst = &p.Next
		case "up_to":
			dst = &p.UpTo
		case "more":
			dst = &p.More
		case "totals":
			dst = &p.Totals
		default:
			return nil
		}
		if err := json.Unmarshal(val, dst); err != nil {
			return fmt.Errorf("sync page %s: %w", key, err)
		}
		return nil
	})
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("sync page: no rows")
	}
	p.received = checksum(raw)
	return p, nil
}

// ReceivedChecksum is the checksum of the rows as they arrived: the hash of the received
// bytes for a decoded page, else RowsChecksum(Rows).
func (p *SyncPage) ReceivedChecksum() string {
	if p.received != "" {
		return p.received
	}
	return RowsChecksum(p.Rows)
}

var errRows = errors.New("rows are not valid: want [{\"t\":entity,\"deleted\":bool,\"data\":[objects with id and seq]}]")

// DecodeRows decodes the wire encoding of rows (AppendRows). Live rows' Data are slices
// of b, so b must not change while they are in use.
func DecodeRows(b []byte) ([]Row, error) {
	d := scanner{b: b}
	d.ws()
	rows, err := d.rows()
	if err != nil {
		return nil, err
	}
	return rows, d.end()
}

// rows decodes the rows array at the current position and moves past it.
func (d *scanner) rows() ([]Row, error) {
	if d.next() != '[' {
		return nil, errRows
	}
	rows := []Row{}
	d.ws()
	if d.peek() == ']' {
		d.i++
		return rows, nil
	}
	for {
		var err error
		if rows, err = d.group(rows); err != nil {
			return nil, err
		}
		d.ws()
		switch d.next() {
		case ',':
			d.ws()
			continue
		case ']':
			return rows, nil
		}
		return nil, errRows
	}
}

// item is a row of a group as decoded.
type item struct {
	id              string
	seq             int64
	haveID, haveSeq bool
	data            []byte
}

// group decodes one {"t","deleted","data"} object, appending its rows.
func (d *scanner) group(rows []Row) ([]Row, error) {
	var entity string
	var deleted, haveT bool
	var items []item
	err := d.members(func(key []byte) error {
		if string(key) == "data" {
			items = items[:0]
			if d.next() != '[' {
				return errRows
			}
			d.ws()
			if d.peek() == ']' {
				d.i++
				return nil
			}
			for {
				d.ws()
				// One walk over the item finds its end and its id and seq.
				start := d.i
				it := item{}
				err := d.object(func(key, v []byte) error {
					switch string(key) {
					case "id":
						it.id, it.haveID = jsonString(v)
					case "seq":
						n, err := strconv.ParseInt(string(v), 10, 64)
						it.seq, it.haveSeq = n, err == nil
					}
					return nil
				})
				if err != nil || !it.haveID || !it.haveSeq {
					return errRows
				}
				it.data = d.b[start:d.i:d.i]
				items = append(items, it)
				d.ws()
				switch d.next() {
				case ',':
					continue
				case ']':
					return nil
				}
				return errRows
			}
		}
		vs := d.i
		if !d.skip() {
			return errRows
		}
		val := d.b[vs:d.i:d.i]
		switch string(key) {
		case "t":
			s, ok := jsonString(val)
			if !ok || s == "" {
				return errRows
			}
			entity, haveT = s, true
		case "deleted":
			switch string(val) {
			case "true":
				deleted = true
			case "false":
				deleted = false
			default:
				return errRows
			}
		}
		return nil
	})
	if err != nil || !haveT {
		return nil, errRows
	}
	for _, it := range items {
		r := Row{Entity: entity, ID: it.id, Seq: it.seq, Deleted: deleted}
		if !deleted {
			r.Data = it.data
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// ObjectFields calls fn with each top-level key and the raw bytes of its value of the
// JSON object data, without decoding nested values. Keys are given unescaped. It stops at
// fn's first error.
func ObjectFields(data []byte, fn func(key, val []byte) error) error {
	d := scanner{b: data}
	d.ws()
	if err := d.object(fn); err != nil {
		return err
	}
	return d.end()
}

// jsonString decodes a JSON string value.
func jsonString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	for _, c := range val[1 : len(val)-1] {
		// Escapes, and invalid UTF-8 (which encoding/json reads as U+FFFD), take the slow way.
		if c == '\\' || c == '"' || c < 0x20 || (c >= utf8.RuneSelf && !utf8.Valid(val[1:len(val)-1])) {
			var s string
			if json.Unmarshal(val, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(val[1 : len(val)-1]), true
}

// scanner walks JSON text without building values.
type scanner struct {
	b []byte
	i int
}

func (d *scanner) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *scanner) next() byte {
	c := d.peek()
	if d.i < len(d.b) {
		d.i++
	}
	return c
}

func (d *scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *scanner) end() error {
	d.ws()
	if d.i != len(d.b) {
		return errRows
	}
	return nil
}

// object walks an object at the current position, calling fn per member.
func (d *scanner) object(fn func(key, val []byte) error) error {
	return d.members(func(key []byte) error {
		vs := d.i
		if !d.skip() {
			return errRows
		}
		return fn(key, d.b[vs:d.i:d.i])
	})
}

// members walks an object at the current position, calling fn per member with the
// scanner at the member's value, which fn must move past (decoding it, or with skip).
// Decoding a value where it stands, instead of skipping it first and decoding the
// skipped bytes, reads each byte of a page once.
func (d *scanner) members(fn func(key []byte) error) error {
	if d.next() != '{' {
		return errRows
	}
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		ks := d.i
		if d.peek() != '"' || !d.skip() {
			return errRows
		}
		key := d.b[ks+1 : d.i-1]
		for _, c := range key {
			if c == '\\' || c < 0x20 {
				s, ok := jsonString(d.b[ks:d.i])
				if !ok {
					return errRows
				}
				key = []byte(s)
				break
			}
		}
		d.ws()
		if d.next() != ':' {
			return errRows
		}
		d.ws()
		if err := fn(key); err != nil {
			return err
		}
		d.ws()
		switch d.next() {
		case ',':
			continue
		case '}':
			return nil
		}
		return errRows
	}
}

// skip moves past one value; false when the text is not JSON there.
func (d *scanner) skip() bool {
	if d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; c {
	case '"':
		// The closing quote is the first one after the opening quote that is not escaped,
		// that is, not preceded by an odd run of backslashes; IndexByte finds candidates
		// much faster than a loop over each byte.
		start := d.i + 1
		for j := start; ; {
			k := bytes.IndexByte(d.b[j:], '"')
			if k < 0 {
				d.i = len(d.b)
				return false
			}
			q := j + k
			n := 0
			for p := q - 1; p >= start && d.b[p] == '\\'; p-- {
				n++
			}
			if n%2 == 0 {
				d.i = q + 1
				return true
			}
			j = q + 1
		}
	case '{', '[':
		depth := 0
		for ; d.i < len(d.b); d.i++ {
			switch d.b[d.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					d.i++
					return true
				}
			case '"':
				if !d.skip() {
					return false
				}
				d.i--
			}
		}
		return false
	default:
		s := d.i
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '{', '[', '"':
				return d.i > s
			}
			d.i++
		}
		return d.i > s
	}
}
