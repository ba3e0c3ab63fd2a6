package doctor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MustCert writes a self-signed certificate valid until notAfter and its key into dir.
func MustCert(tb testing.TB, dir string, notAfter time.Time) (cert, key string) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "izytroniq.test"},
		DNSNames: []string{"izytroniq.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		tb.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func TestCheckTLS(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name string
		left time.Duration
		want string
	}{
		{"expired", -24 * time.Hour, StatusFail},
		{"5 days", 5 * 24 * time.Hour, StatusFail},
		{"20 days", 20 * 24 * time.Hour, StatusWarn},
		{"90 days", 90 * 24 * time.Hour, StatusPass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert, key := MustCert(t, t.TempDir(), now.Add(tt.left))
			if got := CheckTLS(cert, key, now); got.Status != tt.want {
				t.Fatalf("CheckTLS = %+v, want status %s", got, tt.want)
			}
		})
	}
	if got := CheckTLS("", "", now); got.Status != StatusPass {
		t.Fatalf("no TLS: %+v, want pass", got)
	}
	if got := CheckTLS("/nonexistent/cert.pem", "/nonexistent/key.pem", now); got.Status != StatusFail {
		t.Fatalf("missing cert: %+v, want fail", got)
	}
}

func TestCheckLog(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, log, want string
	}{
		{"error before the last start", `{"level":"ERROR","msg":"old"}
{"level":"INFO","msg":"starting"}
{"level":"INFO","msg":"serving"}
`, StatusPass},
		{"error after the last start", `{"level":"INFO","msg":"starting"}
{"level":"ERROR","msg":"open database","err":"boom"}
`, StatusFail},
		{"no start, no error", `{"level":"INFO","msg":"x"}` + "\n", StatusPass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := CheckLog(p); got.Status != tt.want {
				t.Fatalf("CheckLog = %+v, want %s", got, tt.want)
			}
		})
	}
	if got := CheckLog(filepath.Join(dir, "none")); got.Status != StatusWarn {
		t.Fatalf("missing log: %+v, want warn", got)
	}
}

func TestClassifyConnectError(t *testing.T) {
	for _, tt := range []struct {
		msg, dsn, kind, identity string
	}{
		{`failed to connect to user=no_such_role database=test: server error: FATAL: role "no_such_role" does not exist (SQLSTATE 28000)`,
			"postgres://no_such_role@127.0.0.1:5432/test", ConnectLoginRefused, `"no_such_role"`},
		{`FATAL: password authentication failed for user "izy" (SQLSTATE 28P01)`, "postgres://izy:pw@db/x", ConnectLoginRefused, `"izy"`},
		{`FATAL: no pg_hba.conf entry for host "10.0.0.1", user "izy" (SQLSTATE 28000)`, "postgres://izy@db/x", ConnectLoginRefused, `"izy"`},
		{`dial tcp 127.0.0.1:5432: connect: connection refused`, "postgres://izy@127.0.0.1/x", ConnectUnreachable, ""},
		{`FATAL: database "x" does not exist (SQLSTATE 3D000)`, "postgres://izy@db/x", ConnectNoDatabase, ""},
		{`FATAL: role "root" does not exist (SQLSTATE 28000)`, "postgres://db/x", ConnectLoginRefused, "operating-system account"},
	} {
		f := ClassifyConnectError(errors.New(tt.msg), tt.dsn)
		if f.Kind != tt.kind || !strings.Contains(f.Explanation+f.Identity, tt.identity) {
			t.Errorf("ClassifyConnectError(%q) = %+v, want kind %s naming %s", tt.msg, f, tt.kind, tt.identity)
		}
	}
}

func TestReplaceDatabaseSection(t *testing.T) {
	cur := "listen = \"x\"\n\n[database]\ndsn = \"\"\n# dsn_file = \"f\"\n\n# TLS\n[tls]\ncert = \"c\"\n"
	bak := "listen = \"y\"\n[database]\ndsn = \"postgres://u:secret@h/db\"\n\n[tls]\n"
	got, err := ReplaceDatabaseSection([]byte(cur), []byte(bak))
	if err != nil {
		t.Fatal(err)
	}
	want := "listen = \"x\"\n\n[database]\ndsn = \"postgres://u:secret@h/db\"\n# dsn_file = \"f\"\n\n# TLS\n[tls]\ncert = \"c\"\n"
	if string(got) != want {
		t.Fatalf("ReplaceDatabaseSection =\n%s\nwant\n%s", got, want)
	}
	diff := strings.Join(SectionDiff([]byte(cur), got), "\n")
	if !strings.Contains(diff, `+ dsn = "postgres://u:xxxxx@h/db"`) || strings.Contains(diff, "secret") {
		t.Fatalf("diff = %s, want the new DSN with its password hidden", diff)
	}
	// Without a [database] table the backup's is appended.
	got, err = ReplaceDatabaseSection([]byte("listen = \"x\"\n"), []byte(bak))
	if err != nil || !strings.HasPrefix(string(got), "listen = \"x\"\n\n[database]\ndsn =") {
		t.Fatalf("append: %q, %v", got, err)
	}
}
