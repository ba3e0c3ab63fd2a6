package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestLoginAndErrors(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		hs := startServer(t, db)
		c, err := client.New(hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Login(ctx, "admin", "wrong")
		var ie *izy.Error
		if !errors.As(err, &ie) || ie.Code != izy.EUNAUTHORIZED || ie.Message == "" {
			t.Fatalf("login with a wrong password: %v, want an *izy.Error unauthorized", err)
		}
		if _, err := c.Customers(ctx, nil); izy.ErrorCode(err) != izy.EUNAUTHORIZED {
			t.Fatalf("list without token: %v, want unauthorized", err)
		}
		if _, err := c.Login(ctx, "admin", testPassword); err != nil {
			t.Fatal(err)
		}
		h, err := c.Handshake(ctx, client.HandshakeRequest{ClientVersion: "1.0.0", ProtocolVersion: izy.ProtocolVersion, ClientID: izy.NewID()})
		if err != nil {
			t.Fatal(err)
		}
		if !h.ProtocolSupported || h.ServerVersion != "1.2.3" {
			t.Fatalf("handshake = %+v", h)
		}
		if _, err := c.Device(ctx, izy.NewID()); izy.ErrorCode(err) != izy.ENOTFOUND {
			t.Fatalf("unknown device: %v, want not_found", err)
		}
		if _, err := client.New("ftp://x"); izy.ErrorCode(err) != izy.EINVALID {
			t.Fatalf("ftp URL: %v, want invalid", err)
		}
		// A server that is gone is a network error, not an answer.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		gone, _ := client.New("http://" + addr)
		if _, err := gone.Login(ctx, "a", "b"); !client.IsNetError(err) {
			t.Fatalf("login to a closed port: %v, want a network error", err)
		}
	})
}

func TestDevicesAndTests(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := mustLogin(t, startServer(t, db).URL)
		cu, err := c.CreateCustomer(ctx, &izy.Customer{Number: "K-1", Name: "Bäckerei Kunz"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.CreateDevice(ctx, &izy.Device{CustomerID: cu.ID, InventoryID: "INV-1", Designation: "Drill", SerialNumber: "SN1", ProtectionClass: izy.ClassI, CableLengthM: 5})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.PatchDevice(ctx, d.ID, map[string]any{"version": d.Version, "designation": "Drill 2"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Designation, "Drill 2"; got != want {
			t.Fatalf("designation = %q, want %q", got, want)
		}
		if _, err := c.PatchDevice(ctx, d.ID, map[string]any{"version": d.Version, "designation": "stale"}); izy.ErrorCode(err) != izy.ECONFLICT {
			t.Fatalf("stale patch: %v, want conflict", err)
		}
		l, err := c.Devices(ctx, url.Values{"customer_id": {cu.ID}, "q": {"drill"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.Items[0].ID != d.ID || l.NextCursor != nil {
			t.Fatalf("devices = %+v", l)
		}
		today := izy.Today()
		tr, err := c.CreateTest(ctx, &client.TestInput{ID: izy.NewID(), DeviceID: d.ID, Date: today, VisualOK: true, FunctionalOK: true,
			Measurements: []client.MeasurementInput{{Kind: "protective_conductor_resistance", Value: 0.12, Unit: "ohm"}, {Kind: "insulation_resistance", Value: 2.5, Unit: "MΩ"}}})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Result != izy.ResultPass || tr.NextDue != today.AddMonths(12) || *tr.Measurements[0].Limit.Max != 0.3 {
			t.Fatalf("test = %+v", tr)
		}
		ts, err := c.Tests(ctx, url.Values{"device_id": {d.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.Items) != 1 || ts.Items[0].ID != tr.ID {
			t.Fatalf("tests = %+v", ts)
		}
		_, err = c.CreateTest(ctx, &client.TestInput{DeviceID: d.ID, Measurements: []client.MeasurementInput{{Kind: "voltage", Value: 1, Unit: "V"}}})
		if izy.ErrorCode(err) != izy.EINVALID {
			t.Fatalf("bad test: %v, want invalid", err)
		}
	})
}

// cutTransport fails every n-th request after sending it, as a connection cut after
// the request left but before the answer came back.
type cutTransport struct {
	n     int64
	count atomic.Int64
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == "PUT" && c.count.Add(1)%c.n == 0 {
		res.Body.Close()
		return nil, errors.New("connection cut")
	}
	return res, err
}

func TestBitsResumableUploadAndRangedDownload(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		hs := startServer(t, db)
		data := make([]byte, 300<<10+123)
		rand.Read(data)
		sum := sha256.Sum256(data)
		hexsum := hex.EncodeToString(sum[:])

		admin := mustLogin(t, hs.URL)
		c, _ := client.New(hs.URL, client.WithToken(admin.Token()), client.WithHTTPClient(&http.Client{Transport: &cutTransport{n: 3}}))
		var session string
		info, err := c.UploadBlob(ctx, bytes.NewReader(data), int64(len(data)), "", client.UploadOptions{FragmentSize: 32 << 10, Retries: 10, OnSession: func(id string) { session = id }})
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != hexsum || info.Size != int64(len(data)) || session == "" {
			t.Fatalf("upload = %+v (session %q)", info, session)
		}
		// Again: the blob exists, nothing is sent.
		if info, err = admin.UploadBlob(ctx, bytes.NewReader(data), int64(len(data)), hexsum, client.UploadOptions{}); err != nil || !info.Deduplicated {
			t.Fatalf("second upload = %+v, %v; want deduplicated", info, err)
		}
		if n, err := admin.BlobSize(ctx, hexsum); err != nil || n != int64(len(data)) {
			t.Fatalf("blob size = %d, %v", n, err)
		}
		var buf bytes.Buffer
		if _, err := admin.DownloadBlob(ctx, hexsum, 1000, &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data[1000:]) {
			t.Fatalf("ranged download differs")
		}
		// A file with the first bytes already there is completed, then verified.
		path := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(path, data[:5000], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := admin.DownloadBlobFile(ctx, hexsum, path, 3); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, data) {
			t.Fatal("resumed download differs")
		}
		// Resume a session a crashed upload left behind.
		other := make([]byte, 100<<10)
		rand.Read(other)
		osum := sha256.Sum256(other)
		st, err := admin.CreateUpload(ctx, int64(len(other)), hex.EncodeToString(osum[:]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutFragment(ctx, st.ID, 0, int64(len(other)), other[:40<<10]); err != nil {
			t.Fatal(err)
		}
		info, err = admin.UploadBlob(ctx, bytes.NewReader(other), int64(len(other)), "", client.UploadOptions{SessionID: st.ID, FragmentSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if _, err := admin.DownloadBlob(ctx, info.SHA256, 0, &buf); err != nil || !bytes.Equal(buf.Bytes(), other) {
			t.Fatalf("download after resumed upload: %v", err)
		}
		if _, err := admin.DownloadBlob(ctx, hex.EncodeToString(make([]byte, 32)), 0, io.Discard); izy.ErrorCode(err) != izy.ENOTFOUND {
			t.Fatalf("unknown blob: %v, want not_found", err)
		}
	})
}
