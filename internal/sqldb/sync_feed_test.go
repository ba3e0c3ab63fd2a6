package sqldb_test

import (
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// The change feed of a customer's checkout seeks by seq within the customer (migration
// 0005's indexes) rather than walking the customer's rows or every recent change.
func TestChangeFeedUsesCustomerSeqIndex(t *testing.T) {
	db := sqldbtest.MustOpen(t, "sqlite")
	ctx := testCtx()
	co := &izy.Checkout{ID: izy.NewID(), CustomerID: izy.NewID()}
	for entity, index := range map[string]string{"location": "locations_customer_seq", "device": "devices_customer_seq",
		"test": "tests_customer_seq", "tombstone": "tombstones_customer_seq"} {
		plan, err := db.ChangeFeedPlan(ctx, co, entity)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "INDEX "+index+" (customer_id=? AND seq>?)") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %q does not seek %s", entity, plan, index)
		}
	}
}
