package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/clientrel"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/sqldb/syncstore"
	"github.com/izytroniq/izytroniq/internal/syncer"
)

// TestBelowMinimumUploadsButDoesNotDownload: an izy below the server's minimum client
// version uploads its outbox (offline work is never stranded), then stops before
// downloading and says so; the server refuses its downloads and a new checkout.
func TestBelowMinimumUploadsButDoesNotDownload(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		relDir := t.TempDir()
		cfg := server.Config{
			ProductVersion: "1.2.3", SchemaVersion: sqldb.LatestSchemaVersion(), ProtocolVersions: []int{1, 2},
			PasswordIterations: 1000, TokenTTL: time.Hour,
			Syncer:         syncer.New(syncstore.New(db), nil, syncer.Limits{}, slog.New(slog.DiscardHandler)),
			ClientReleases: clientrel.Open(relDir),
		}
		hs := httptest.NewServer(server.New(db, cfg, slog.New(slog.DiscardHandler)).Handler())
		t.Cleanup(hs.Close)
		hash, err := password.Hash(testPassword, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, &izy.User{Username: "admin", DisplayName: "admin", Role: izy.RoleAdmin}, hash); err != nil {
			t.Fatal(err)
		}
		api := apiClient(t, hs.URL)
		f := makeFixture(t, api, 2)
		other, err := api.CreateCustomer(ctx, &izy.Customer{Number: "K-200", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		home := t.TempDir()
		login(t, home, hs.URL)
		izyRun(t, home, "checkout", "--customer", f.customer.ID)
		var tr testResult
		izyJSON(t, home, &tr, "test", f.devices[0].ID, "--measure", "protective_conductor_resistance=0.12ohm", "--measure", "insulation_resistance=2.5MΩ")

		// Publish a build above this izy (version 0.1.0-dev) as the minimum.
		_, key, err := release.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := clientrel.Publish(relDir, clientrel.PublishOptions{Binary: []byte("izy 1.0.0"), Version: "1.0.0",
			Platform: clientrel.Platform{OS: "linux", Arch: "amd64"}, Key: key, Minimum: true}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			h, err := api.Handshake(ctx, client.HandshakeRequest{ClientVersion: version, ProtocolVersion: izy.ProtocolVersion, ClientID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if h.UpdateRequired {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the handshake does not require an update after the publish: %+v", h)
			}
			time.Sleep(100 * time.Millisecond)
		}

		out, errOut, err := izyTry(home, "sync")
		if err == nil || !strings.Contains(err.Error(), "below the server's minimum client version 1.0.0") || !strings.Contains(err.Error(), "outbox was uploaded") {
			t.Fatalf("izy sync below the minimum: err = %v\nstdout: %s\nstderr: %s", err, out, errOut)
		}
		if !strings.Contains(out, "1 applied") || !strings.Contains(out, "downloaded 0 changes") {
			t.Errorf("izy sync output does not show the upload:\n%s", out)
		}
		tests, err := api.Tests(ctx, url.Values{"device_id": {f.devices[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(tests.Items) != 1 || tests.Items[0].ID != tr.ID {
			t.Fatalf("tests on the server = %+v, want the offline test %s", tests.Items, tr.ID)
		}
		var st statusResult
		izyJSON(t, home, &st, "status")
		if st.Pending != 0 {
			t.Errorf("outbox after the upload-only sync: %d pending", st.Pending)
		}

		// The server itself refuses this izy a new checkout (a download).
		_, _, err = izyTry(home, "checkout", "--customer", other.ID)
		if err == nil || !strings.Contains(err.Error(), "izy "+version+" is below the minimum 1.0.0") {
			t.Fatalf("izy checkout below the minimum: err = %v", err)
		}
	})
}
