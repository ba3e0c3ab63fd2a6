package update_test

import (
	"context"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/izytroniq/izytroniq/internal/update"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate valid until notAfter and its key.
func writeCert(t *testing.T, dir string, notAfter time.Time) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "izytroniq.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, DNSNames: []string{"izytroniq.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// TestCertificateValid: a certificate with more than 14 days left passes.
func TestCertificateValid(t *testing.T) {
	in := newInstallation(t, "sqlite")
	o := in.opts
	o.PackagePath = in.pkg(t, key(0))
	o.TLSCert, o.TLSKey = writeCert(t, in.dir, time.Now().Add(90*24*time.Hour))
	res, err := update.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, report(res))
	}
	if c := check(t, res, "TLS certificate"); c.Status != "pass" {
		t.Fatalf("%+v", c)
	}
}
