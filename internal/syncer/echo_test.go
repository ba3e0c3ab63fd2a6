package syncer_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// An upload answers the rows it changed with their new seqs, and the change feed of the
// same checkout leaves those rows out (its up_to still passes them); the batch result
// stored for a retry carries the same rows.
func TestUploadAnswersRowsAndFeedSkipsEcho(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, sy, co := fixture(t, db)
		raw, err := os.ReadFile("testdata/batch_v2.json")
		if err != nil {
			t.Fatal(err)
		}
		res, err := sy.Upload(ctx, co.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range res.Rows {
			got[r.Entity+" "+r.ID] = r.Seq
		}
		dev := "01900000-0000-7000-8000-000000000010"
		test := "01900000-0000-7000-8000-000000000021"
		if got["device "+dev] == 0 || got["test "+test] == 0 || got["location 01900000-0000-7000-8000-000000000003"] == 0 {
			t.Fatalf("rows of the answer: %v; want the edited device, the test and the new location", got)
		}
		again, err := sy.Upload(ctx, co.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(res.Rows)
		b, _ := json.Marshal(again.Rows)
		if string(a) != string(b) {
			t.Fatalf("the retry answered other rows:\n%s\nwant\n%s", b, a)
		}

		p, err := sy.Changes(ctx, co.ID, co.SnapshotSeq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rows {
			if !r.Deleted && got[r.Entity+" "+r.ID] == r.Seq {
				t.Errorf("the feed sends %s %s (seq %d) back to the client that uploaded it", r.Entity, r.ID, r.Seq)
			}
		}
		if p.UpTo < res.Seq-1 || p.Count != len(p.Rows) {
			t.Fatalf("feed page up_to %d (batch seq %d), count %d of %d rows", p.UpTo, res.Seq, p.Count, len(p.Rows))
		}

	})
}
