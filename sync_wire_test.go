package izytroniq_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func wireRows() []izy.Row {
	dev := func(id string, seq int64) izy.Row {
		b, _ := json.Marshal(izy.Device{ID: id, Seq: seq, InventoryID: "INV <1> & \"x\"", Designation: "Bohrmaschine"})
		return izy.Row{Entity: "device", ID: id, Seq: seq, Data: b}
	}
	test := func(id string, seq int64) izy.Row {
		b, _ := json.Marshal(izy.Test{ID: id, Seq: seq, Measurements: []izy.Measurement{{Kind: "insulation_resistance"}}})
		return izy.Row{Entity: "test", ID: id, Seq: seq, Data: b}
	}
	return []izy.Row{dev(izy.NewID(), 3), dev(izy.NewID(), 9), {Entity: "device", ID: izy.NewID(), Seq: 10, Deleted: true},
		test(izy.NewID(), 4), {Entity: "test", ID: izy.NewID(), Seq: 11, Deleted: true}, dev(izy.NewID(), 12)}
}

func TestSyncPageWireRoundTrip(t *testing.T) {
	for _, rows := range [][]izy.Row{{}, wireRows()} {
		p := &izy.SyncPage{Rows: rows, Next: "abc", UpTo: 7, More: true, Totals: map[string]int64{"device": 3}}
		p.Seal()
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("not JSON: %s", b)
		}
		var got izy.SyncPage
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		if got.Count != len(rows) || got.Checksum != p.Checksum || got.ReceivedChecksum() != p.Checksum || got.Next != "abc" || got.UpTo != 7 || !got.More || got.Totals["device"] != 3 {
			t.Fatalf("page = %+v, want %+v", got, p)
		}
		if !reflect.DeepEqual(got.Rows, rows) {
			t.Fatalf("rows = %+v\nwant %+v", got.Rows, rows)
		}
		if izy.RowsChecksum(got.Rows) != p.Checksum {
			t.Fatal("RowsChecksum of the decoded rows differs")
		}
	}
}

// The envelope costs a few bytes per group, not per row.
func TestSyncPageWireOverhead(t *testing.T) {
	var rows []izy.Row
	data := 0
	for i := range 1000 {
		b, _ := json.Marshal(izy.Device{ID: izy.NewID(), Seq: int64(i + 1)})
		rows = append(rows, izy.Row{Entity: "device", ID: "x", Seq: int64(i + 1), Data: b})
		data += len(b)
	}
	enc := izy.AppendRows(nil, rows)
	if over := len(enc) - data; over > 1100 {
		t.Fatalf("overhead %d bytes for 1000 rows", over)
	}
}

// A page changed on the way is rejected by its checksum, computed over the received bytes.
func TestSyncPageTamperedChecksum(t *testing.T) {
	p := &izy.SyncPage{Rows: wireRows()}
	p.Seal()
	b, _ := json.Marshal(p)
	bad := bytes.Replace(b, []byte("Bohrmaschine"), []byte("Bohrmaschinf"), 1)
	var got izy.SyncPage
	if err := json.Unmarshal(bad, &got); err != nil {
		t.Fatal(err)
	}
	if got.ReceivedChecksum() == got.Checksum {
		t.Fatal("a tampered page passes its checksum")
	}
	// Whitespace inside the rows counts too: the checksum covers the exact bytes.
	spaced := bytes.Replace(b, []byte(`"rows":[`), []byte(`"rows":[ `), 1)
	if err := json.Unmarshal(spaced, &got); err != nil {
		t.Fatal(err)
	}
	if got.ReceivedChecksum() == got.Checksum {
		t.Fatal("changed bytes pass the checksum")
	}
}

func TestDecodeRowsRejects(t *testing.T) {
	for _, in := range []string{``, `{}`, `[{}]`, `[{"t":"device","data":[{"seq":1}]}]`, `[{"t":"device","data":[{"id":"a"}]}]`,
		`[{"t":"device","data":[{"id":"a","seq":"1"}]}]`, `[{"t":"device","data":[1]}]`, `[{"t":"device","deleted":1,"data":[]}]`,
		`[{"t":"device","data":[{"id":"a","seq":1}]}`, `[{"t":"device","data":[{"id":"a","seq":1}]}] x`} {
		if _, err := izy.DecodeRows([]byte(in)); err == nil {
			t.Errorf("DecodeRows(%s) accepted", in)
		}
	}
	rows, err := izy.DecodeRows([]byte(` [ {"data" : [ {"seq":2, "x":{"id":"no"}, "id":"a\u0062"} ], "t":"device", "more":[1,{"}":"]"}]} ] `))
	if err != nil || len(rows) != 1 || rows[0].ID != "ab" || rows[0].Seq != 2 || rows[0].Entity != "device" {
		t.Fatalf("rows = %+v, %v", rows, err)
	}
}

func TestObjectFields(t *testing.T) {
	got := map[string]string{}
	err := izy.ObjectFields([]byte(`{"a":"x\"}","b\u0063":{"a":[1,"]"]},"d":null, "e" : -1.5e3 }`), func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	})
	want := map[string]string{"a": `"x\"}"`, "bc": `{"a":[1,"]"]}`, "d": "null", "e": "-1.5e3"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

// FuzzDecodeRows: the decoder never panics, and whatever it accepts encodes back to rows
// that decode the same.
func FuzzDecodeRows(f *testing.F) {
	f.Add(izy.AppendRows(nil, wireRows()))
	f.Add([]byte(`[{"t":"device","deleted":true,"data":[{"id":"a","seq":1}]}]`))
	f.Add([]byte(`[{"t":"x","data":[{"id":"\u00e9","seq":1,"n":[{"}":"\\"}]}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := izy.DecodeRows(b)
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Entity == "" || (r.Deleted && r.Data != nil) || (!r.Deleted && len(r.Data) == 0) {
				t.Fatalf("bad row %+v", r)
			}
		}
		if !json.Valid(b) {
			return // lax on numbers and literals it does not read
		}
		for _, r := range rows {
			if !r.Deleted && !json.Valid(r.Data) {
				t.Fatalf("row data %q is not JSON", r.Data)
			}
		}
		enc := izy.AppendRows(nil, rows)
		again, err := izy.DecodeRows(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if len(again) != len(rows) {
			t.Fatalf("%d rows, then %d", len(rows), len(again))
		}
		for i := range rows {
			if again[i].ID != rows[i].ID || again[i].Seq != rows[i].Seq || again[i].Entity != rows[i].Entity || again[i].Deleted != rows[i].Deleted ||
				(!rows[i].Deleted && !strings.EqualFold(string(again[i].Data), string(rows[i].Data))) {
				t.Fatalf("row %d: %+v, then %+v", i, rows[i], again[i])
			}
		}
	})
}

// FuzzDecodeSyncPage: the page decoder, which decodes the rows where they stand in the
// page, never panics and gives the rows DecodeRows gives for the same bytes.
func FuzzDecodeSyncPage(f *testing.F) {
	rows := izy.AppendRows(nil, wireRows())
	f.Add(append(append([]byte(`{"count":2,"rows":`), rows...), `,"next":"x","totals":{"device":2}}`...))
	f.Add([]byte(`{"rows":[],"up_to":3,"more":true}`))
	f.Add([]byte(` { "rows" : [ {"t":"x","deleted":false,"data":[ {"id":"a","seq":1} ]} ] } `))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := izy.DecodeSyncPage(b)
		if err != nil {
			return
		}
		var raw []byte
		if err := izy.ObjectFields(b, func(k, v []byte) error {
			if string(k) == "rows" {
				raw = v
			}
			return nil
		}); err != nil {
			t.Fatalf("page accepted, but its members are not: %v", err)
		}
		want, err := izy.DecodeRows(raw)
		if err != nil || len(want) != len(p.Rows) {
			t.Fatalf("rows %q: page gave %d rows, DecodeRows %d (%v)", raw, len(p.Rows), len(want), err)
		}
		for i := range want {
			if !reflect.DeepEqual(want[i], p.Rows[i]) {
				t.Fatalf("row %d: %+v vs %+v", i, p.Rows[i], want[i])
			}
		}
	})
}
