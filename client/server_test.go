package client_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

const testPassword = "correct horse battery"

// startServer serves a real server on db over loopback HTTP with an admin user.
func startServer(t *testing.T, db *sqldb.DB) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ts, err := transfer.New(filepath.Join(t.TempDir(), "blobs"), transfer.Limits{MaxFragment: 64 << 10}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	cfg := server.Config{
		ProductVersion: "1.2.3", SchemaVersion: sqldb.LatestSchemaVersion(), ProtocolVersions: []int{1, 2},
		PasswordIterations: 1000, TokenTTL: time.Hour, Transfers: ts,
	}
	hs := httptest.NewServer(server.New(db, cfg, log).Handler())
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

// mustLogin returns a signed-in client.
func mustLogin(t *testing.T, url string) *client.Client {
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
