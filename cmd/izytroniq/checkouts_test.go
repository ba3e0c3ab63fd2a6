package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func TestCheckoutsCommand(t *testing.T) {
	path := initDir(t)
	base := serveInProcess(t, nil, "--config", path)
	admin := login(t, base, "admin", adminPassword)
	var cust izy.Customer
	admin.do("POST", "/api/v1/customers", map[string]string{"number": "K9", "name": "Offline GmbH"}, &cust, 201)
	var co izy.Checkout
	admin.do("POST", "/api/v1/checkouts", map[string]any{"client_id": "laptop-7", "client_name": "Laptop 7",
		"customer_id": cust.ID, "mode": "exclusive"}, &co, 201)

	out := mustRun(t, nil, "checkouts", "list", "--config", path)
	for _, want := range []string{co.ID, "admin", "Laptop 7", "customer " + cust.ID, "exclusive", "ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("checkouts list lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, nil, "checkouts", "show", co.ID, "--config", path, "--json")
	var got izy.Checkout
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != co.ID || got.ClientID != "laptop-7" {
		t.Fatalf("checkouts show --json: %v\n%s", err, out)
	}
	if _, _, err := runTest(t, nil, "checkouts", "show", "--config", path); err == nil {
		t.Error("checkouts show without an id succeeded")
	}

	// list pages through every checkout; show explains the state.
	defer func(n int) { checkoutsPage = n }(checkoutsPage)
	checkoutsPage = 2
	var other izy.Customer
	admin.do("POST", "/api/v1/customers", map[string]string{"number": "K10", "name": "Shared AG"}, &other, 201)
	ids := []string{co.ID}
	for i := range 4 {
		var c izy.Checkout
		admin.do("POST", "/api/v1/checkouts", map[string]any{"client_id": fmt.Sprint("pc-", i), "customer_id": other.ID}, &c, 201)
		ids = append(ids, c.ID)
	}
	out = mustRun(t, nil, "checkouts", "list", "--config", path, "--json")
	var all []izy.Checkout
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatal(err)
	}
	var got5 []string
	for _, c := range all {
		got5 = append(got5, c.ID)
	}
	if fmt.Sprint(got5) != fmt.Sprint(ids) {
		t.Errorf("checkouts list in pages of 2: %v, want %v", got5, ids)
	}
	var page izy.SyncPage
	admin.do("GET", "/api/v1/checkouts/"+ids[1]+"/snapshot", nil, &page, 200)
	out = mustRun(t, nil, "checkouts", "show", ids[1], "--config", path)
	if !strings.Contains(out, "state:        applying (the client is storing the end of a download") {
		t.Errorf("checkouts show after the last snapshot page:\n%s", out)
	}
}
