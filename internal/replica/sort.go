package replica

import (
	"cmp"
	"slices"

	izy "github.com/izytroniq/izytroniq"
)

func sortDevices(ds []DeviceRow) {
	slices.SortFunc(ds, func(a, b DeviceRow) int {
		return cmp.Or(cmp.Compare(a.InventoryID, b.InventoryID), cmp.Compare(a.ID, b.ID))
	})
}

func sortTests(ts []izy.Test) {
	slices.SortFunc(ts, func(a, b izy.Test) int {
		return cmp.Or(b.Date.Compare(a.Date), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
}
