// Package updatetest makes signed release packages for tests of the update: small
// hand-made archives whose files are a few bytes, signed the way release.Build signs,
// so a test need not compile the server.
package updatetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/release"
)

// Key returns a fixed key pair; n picks one of several.
func Key(n byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n + 101}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// WritePublicKey writes pub as a public key file in dir and returns its path.
func WritePublicKey(tb testing.TB, dir string, pub ed25519.PublicKey) string {
	tb.Helper()
	p := filepath.Join(dir, "release-"+release.KeyID(pub)+".pub")
	if err := os.WriteFile(p, release.MarshalPublicKey(pub), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Spec describes a package to make.
type Spec struct {
	Version          string
	SchemaVersion    int
	ProtocolVersions []int
	MinUpgradeFrom   string
	Key              ed25519.PrivateKey // nil: unsigned (no manifest.sig)
	// Tamper changes a file's bytes after the manifest was signed.
	Tamper bool
	// Server, when set, is the linux/amd64 server binary (a real build, or a script)
	// instead of a few placeholder bytes: for tests that run the staged binary.
	Server []byte
}

// files is the package's content: small stand-ins for the binaries.
var files = []struct{ path, os, arch, data string }{
	{"linux-amd64/izytroniq", "linux", "amd64", "#!fake linux server\n"},
	{"linux-amd64/izy", "linux", "amd64", "fake linux client"},
	{"windows-amd64/izytroniq.exe", "windows", "amd64", "MZ fake windows server"},
	{"windows-amd64/izy.exe", "windows", "amd64", "MZ fake windows client"},
}

// Write makes the package s describes in dir and returns its path and manifest.
func Write(tb testing.TB, dir string, s Spec) (string, *release.Manifest) {
	tb.Helper()
	m := &release.Manifest{
		Format: release.ManifestFormat, Product: release.Product, Version: s.Version, SchemaVersion: s.SchemaVersion,
		ProtocolVersions: s.ProtocolVersions, MinUpgradeFrom: s.MinUpgradeFrom,
		BuiltAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), GoVersion: "go1.26.0",
	}
	content := func(i int) []byte {
		if s.Server != nil && files[i].path == "linux-amd64/izytroniq" {
			return s.Server
		}
		return []byte(files[i].data)
	}
	for i, f := range files {
		data := content(i)
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, release.File{Path: f.path, OS: f.os, Arch: f.arch, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := m.Validate(); err != nil {
		tb.Fatalf("manifest: %v", err)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	manifest = append(manifest, '\n')

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: m.BuiltAt}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	add(release.ManifestName, manifest)
	if s.Key != nil {
		sig := release.Signature{
			Algorithm: "ed25519",
			KeyID:     release.KeyID(s.Key.Public().(ed25519.PublicKey)),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, manifest)),
		}
		b, err := json.MarshalIndent(sig, "", "  ")
		if err != nil {
			tb.Fatal(err)
		}
		add(release.SignatureName, append(b, '\n'))
	}
	for i, f := range files {
		data := content(i)
		if s.Tamper && i == 0 {
			data = bytes.ToUpper(data) // same size, other bytes
		}
		add(f.path, data)
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, release.FileName(s.Version))
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p, m
}
