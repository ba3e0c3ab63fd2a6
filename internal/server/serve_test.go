package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func TestMetrics(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		cust := e.customer("A", "Alpha")
		dev := e.device(cust, nil, "D1")
		e.do("GET", "/api/v1/devices/"+dev, e.admin, nil).want(t, 200)
		e.do("GET", "/api/v1/devices/"+dev, e.admin, nil).want(t, 200)
		e.do("GET", "/wp-admin/install.php", "", nil).want(t, 404)
		r := e.do("GET", "/metrics", "", nil).want(t, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Fatalf("Content-Type %q", ct)
		}
		text := string(r.body)
		for _, want := range []string{
			`http_requests_total{method="GET",route="GET /api/v1/devices/{id}",code="200"} 2`,
			`http_requests_total{method="POST",route="POST /api/v1/login",code="200"} 1`,
			`http_requests_total{method="GET",route="unmatched",code="404"} 1`,
			`http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/devices/{id}",le="+Inf"} 2`,
			`http_request_duration_seconds_count{method="GET",route="GET /api/v1/devices/{id}"} 2`,
			`http_request_duration_seconds_sum{method="GET",route="GET /api/v1/devices/{id}"}`,
			"# TYPE http_request_duration_seconds histogram",
			"http_requests_in_flight 1",
			"izytroniq_db_open_connections ",
			"izytroniq_db_in_use_connections ",
			"izytroniq_db_wait_count_total ",
			"go_goroutines ",
			"process_start_time_seconds ",
			`izytroniq_build_info{version="1.2.3",`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(text, dev) || strings.Contains(text, "wp-admin") {
			t.Error("metrics carry raw paths")
		}
		// Every line is a comment or "name{labels} value".
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
				continue
			}
			if i := strings.LastIndexByte(line, ' '); i < 1 || strings.ContainsAny(line[i+1:], `{}"`) {
				t.Errorf("malformed metrics line %q", line)
			}
		}
	})
}

// slowPing holds /readyz in its database check until released.
type slowPing struct {
	*sqldb.DB
	entered chan struct{}
	release chan struct{}
}

func (s slowPing) Ping(ctx context.Context) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.DB.Ping(ctx)
}

// TestGracefulShutdown cancels Serve's context while a request is in flight: the request
// completes, new connections are refused, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := slowPing{db, make(chan struct{}, 1), make(chan struct{})}
		s := server.New(store, testConfig(newClock()), testLogger(t))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln, "", "") }()

		type result struct {
			status int
			err    error
		}
		inflight := make(chan result, 1)
		go func() {
			res, err := http.Get(url + "/readyz")
			if err != nil {
				inflight <- result{err: err}
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			inflight <- result{status: res.StatusCode}
		}()
		select {
		case <-store.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the store")
		}
		cancel()
		// New connections are refused once the listener is closed.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("still accepting connections after shutdown began")
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case err := <-served:
			t.Fatalf("Serve returned %v before the in-flight request finished", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(store.release)
		if r := <-inflight; r.err != nil || r.status != 200 {
			t.Fatalf("in-flight request: status %d, err %v", r.status, r.err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after the drain")
		}
	})
}

func TestServeTLS(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		certFile, keyFile, pool := selfSigned(t)
		s := server.New(db, testConfig(newClock()), testLogger(t))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln, certFile, keyFile) }()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		res, err := client.Get("https://" + ln.Addr().String() + "/livez")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Strict-Transport-Security") == "" {
			t.Fatalf("TLS /livez: %d, HSTS %q", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	})
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "izytroniq test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
