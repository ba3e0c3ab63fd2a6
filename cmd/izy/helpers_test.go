package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

const testPassword = "correct horse battery"

// startServer serves a real server on db over loopback HTTP with an admin user.
func startServer(t *testing.T, db *sqldb.DB) *httptest.Server {
	t.Helper()
	cfg := server.Config{
		ProductVersion: "1.2.3", SchemaVersion: sqldb.LatestSchemaVersion(), ProtocolVersions: []int{1, 2},
		PasswordIterations: 1000, TokenTTL: time.Hour,
		Syncer: syncer.New(syncstore.New(db), nil, syncer.Limits{}, slog.New(slog.DiscardHandler)),
	}
	hs := httptest.NewServer(server.New(db, cfg, slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(hs.Close)
	hash, err := password.Hash(testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(context.Background(), &izy.User{Username: "admin", DisplayName: "admin", Role: izy.RoleAdmin}, hash); err != nil {
		t.Fatal(err)
	}
	return hs
}

// izyRun runs izy with --home home and returns stdout; it fails the test on an error.
func izyRun(t *testing.T, home string, args ...string) string {
	t.Helper()
	out, errOut, err := izyTry(home, args...)
	if err != nil {
		t.Fatalf("izy %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func izyTry(home string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"--home", home}, args...), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// izyJSON runs izy with --json and decodes its output into v.
func izyJSON(t *testing.T, home string, v any, args ...string) {
	t.Helper()
	out := izyRun(t, home, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("izy %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// login signs izy in to url as admin from a password file.
func login(t *testing.T, home, url string) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	izyRun(t, home, "login", "--server", url, "--user", "admin", "--password-file", pw)
}

// apiClient returns an admin client of url.
func apiClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), "admin", testPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a customer with a location and devices on the server.
type fixture struct {
	customer *izy.Customer
	location *izy.Location
	devices  []*client.DeviceView
}

func makeFixture(t *testing.T, c *client.Client, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{}
	var err error
	if f.customer, err = c.CreateCustomer(ctx, &izy.Customer{Number: "K-100", Name: "Bäckerei Kunz"}); err != nil {
		t.Fatal(err)
	}
	if f.location, err = c.CreateLocation(ctx, &izy.Location{CustomerID: f.customer.ID, Kind: "property", Name: "Backstube"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		inv := "INV-" + string(rune('A'+i))
		d, err := c.CreateDevice(ctx, &izy.Device{CustomerID: f.customer.ID, LocationID: &f.location.ID, InventoryID: inv,
			Designation: "Bohrmaschine " + inv, SerialNumber: "SN-" + inv, ProtectionClass: izy.ClassI, CableLengthM: 5})
		if err != nil {
			t.Fatal(err)
		}
		f.devices = append(f.devices, d)
	}
	return f
}
