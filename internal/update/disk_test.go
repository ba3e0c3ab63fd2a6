package update

import "testing"

// TestEnoughSpace: the disk check wants 2 × (database + package) free.
func TestEnoughSpace(t *testing.T) {
	for _, tc := range []struct {
		avail    uint64
		db, pkg  int64
		wantOK   bool
		wantNeed uint64
	}{
		{avail: 300, db: 100, pkg: 50, wantOK: true, wantNeed: 300},
		{avail: 299, db: 100, pkg: 50, wantOK: false, wantNeed: 300},
		{avail: 0, db: 0, pkg: 0, wantOK: true, wantNeed: 0},
		{avail: 10, db: -5, pkg: 5, wantOK: true, wantNeed: 10}, // a size the database could not report counts as 0
		{avail: 1 << 40, db: 200 << 30, pkg: 100 << 20, wantOK: true, wantNeed: 2 * (200<<30 + 100<<20)},
	} {
		ok, need := enoughSpace(tc.avail, tc.db, tc.pkg)
		if ok != tc.wantOK || need != tc.wantNeed {
			t.Errorf("enoughSpace(%d, %d, %d) = %v, %d; want %v, %d", tc.avail, tc.db, tc.pkg, ok, need, tc.wantOK, tc.wantNeed)
		}
	}
}
