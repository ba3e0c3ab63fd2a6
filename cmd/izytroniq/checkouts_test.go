package main

import (
	"encoding/json"
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
}
