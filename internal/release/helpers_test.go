package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var tmpRoot string // removed after all tests

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "release-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testKey returns a fixed key pair; n picks one of several.
func testKey(n byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n + 1}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

const realVersion = "1.2.3"

var (
	realOnce sync.Once
	realPath string
	realMan  *Manifest
	realLog  bytes.Buffer
	realErr  error
)

// realPackage builds a package from this source tree once per test binary, for
// linux/amd64 only to keep the tests fast.
func realPackage(tb testing.TB) (string, *Manifest) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds the server; skipped with -short")
	}
	realOnce.Do(func() {
		_, priv := testKey(0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		realPath, realMan, realErr = Build(ctx, BuildOptions{
			SourceDir:  filepath.Join("..", ".."),
			Version:    realVersion,
			OutDir:     filepath.Join(tmpRoot, "real"),
			Platforms:  []Platform{{"linux", "amd64"}},
			SigningKey: priv,
			Progress:   &realLog,
		})
	})
	if realErr != nil {
		tb.Fatalf("Build: %v\n%s", realErr, realLog.String())
	}
	return realPath, realMan
}

// entry is one tar entry of a hand-made archive.
type entry struct {
	name     string
	typeflag byte
	data     []byte
	linkname string
	size     int64 // header size when it differs from len(data); the data is then not written
}

// packBytes returns a tar.gz of entries; an entry with a size of its own gets only its
// header, as an attacker's archive would claim a size it never delivers.
func packBytes(tb testing.TB, entries []entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typeflag, Linkname: e.linkname, Mode: 0o644, Size: int64(len(e.data)), ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				tb.Fatal(err)
			}
			tw.Flush() // reports the missing data; the header is out already
			break
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatalf("header %q: %v", e.name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				tb.Fatal(err)
			}
		}
	}
	tw.Close()
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// writePackage writes packBytes(entries) to a new file and returns its path.
func writePackage(tb testing.TB, entries []entry) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "pkg.tar.gz")
	if err := os.WriteFile(p, packBytes(tb, entries), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// fakeFiles is a package's content for hand-made packages, windows included.
var fakeFiles = []struct {
	path, os, arch string
	data           []byte
}{
	{"linux-amd64/izytroniq", "linux", "amd64", []byte("#!fake linux server\n")},
	{"linux-amd64/izy", "linux", "amd64", []byte("fake linux client")},
	{"windows-amd64/izytroniq.exe", "windows", "amd64", []byte("MZ fake windows server")},
	{"windows-amd64/izy.exe", "windows", "amd64", []byte("MZ fake windows client")},
}

// fakeManifest describes fakeFiles.
func fakeManifest() *Manifest {
	m := &Manifest{
		Format: ManifestFormat, Product: Product, Version: "2.0.0", SchemaVersion: 3,
		ProtocolVersions: []int{1, 2}, BuiltAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), GoVersion: "go1.26.0",
	}
	for _, f := range fakeFiles {
		sum := sha256.Sum256(f.data)
		m.Files = append(m.Files, File{Path: f.path, OS: f.os, Arch: f.arch, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	return m
}

// signedEntries returns manifest.json and manifest.sig for m, signed by key.
func signedEntries(tb testing.TB, m *Manifest, key ed25519.PrivateKey) (manifest, sig entry) {
	tb.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := sign(b, key)
	if err != nil {
		tb.Fatal(err)
	}
	return entry{name: ManifestName, data: b}, entry{name: SignatureName, data: s}
}

// fakeEntries is a complete, valid package of fakeFiles signed by key.
func fakeEntries(tb testing.TB, key ed25519.PrivateKey) []entry {
	tb.Helper()
	me, se := signedEntries(tb, fakeManifest(), key)
	es := []entry{me, se}
	for _, f := range fakeFiles {
		es = append(es, entry{name: f.path, data: f.data})
	}
	return es
}
