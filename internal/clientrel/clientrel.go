// Package clientrel keeps the published builds of the field client izy: each build with
// a manifest signed by the release key, and an index naming the current (highest) and
// the minimum client version the server asks of its clients.
package clientrel

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/release"
)

// Product is the product a client manifest names.
const Product = "izy"

// ManifestFormat and IndexFormat are the formats this package writes and reads; a newer
// one is refused instead of half understood.
const (
	ManifestFormat = 1
	IndexFormat    = 1
)

// MaxBinarySize bounds a published build: izy is some tens of MiB.
const MaxBinarySize = 256 << 20

// File names under the releases directory.
const (
	IndexName     = "index.json"
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	PublicKeyName = "release.pub"
)

// Platform is a GOOS/GOARCH pair such as linux/amd64.
type Platform struct {
	OS, Arch string
}

// String returns "os/arch".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// dir is the platform's directory name, "os-arch".
func (p Platform) dir() string { return p.OS + "-" + p.Arch }

// BinaryName is the file name of izy on the platform.
func (p Platform) BinaryName() string {
	if p.OS == "windows" {
		return "izy.exe"
	}
	return "izy"
}

// ParsePlatform parses "os/arch": two names of 1 to 32 lower-case letters and digits,
// nothing else, so a platform can never be a path trick.
func ParsePlatform(s string) (Platform, error) {
	goos, goarch, ok := strings.Cut(s, "/")
	if !ok || !release.IsPlatformName(goos) || !release.IsPlatformName(goarch) {
		return Platform{}, izy.Errorf(izy.EINVALID, "platform %q is not OS/ARCH such as linux/amd64", truncate(s))
	}
	return Platform{OS: goos, Arch: goarch}, nil
}

// ParseVersion parses a client version strictly (semantic version, no leading "v", no
// build metadata) and returns it in its one canonical spelling: a version is a directory
// name, so two spellings of one version must not exist.
func ParseVersion(s string) (release.Version, error) {
	v, err := release.ParseVersion(s)
	if err != nil {
		return release.Version{}, izy.Errorf(izy.EINVALID, "client version %q: %v", truncate(s), err)
	}
	if v.Build != "" {
		return release.Version{}, izy.Errorf(izy.EINVALID, "client version %q: leave out the build metadata (+%s)", truncate(s), v.Build)
	}
	if v.String() != s {
		return release.Version{}, izy.Errorf(izy.EINVALID, "client version %q is not in canonical form %q", truncate(s), v.String())
	}
	return v, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Manifest describes one published build of izy. Its exact bytes are signed.
type Manifest struct {
	Format      int       `json:"format"`
	Product     string    `json:"product"`
	Version     string    `json:"version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"` // lower-case hex
	PublishedAt time.Time `json:"published_at"`
}

// Platform returns the manifest's platform.
func (m *Manifest) Platform() Platform { return Platform{OS: m.OS, Arch: m.Arch} }

// Validate checks that m is complete and well-formed.
func (m *Manifest) Validate() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("manifest format %d is not supported (want %d)", m.Format, ManifestFormat)
	}
	if m.Product != Product {
		return fmt.Errorf("manifest names product %q, not %q", m.Product, Product)
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return err
	}
	if _, err := ParsePlatform(m.OS + "/" + m.Arch); err != nil {
		return err
	}
	if m.Size <= 0 || m.Size > MaxBinarySize {
		return fmt.Errorf("manifest size %d is outside 1..%d", m.Size, MaxBinarySize)
	}
	if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != sha256.Size || m.SHA256 != strings.ToLower(m.SHA256) {
		return fmt.Errorf("manifest sha256 %q is not 64 lower-case hex digits", m.SHA256)
	}
	return nil
}

// ParseManifest decodes and validates manifest bytes; it does not check a signature.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > 64<<10 {
		return nil, fmt.Errorf("manifest is larger than 64 KiB")
	}
	var m Manifest
	if err := strictJSON(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Errors of Verify; test with errors.Is.
var (
	ErrBadSignature = errors.New("client manifest signature does not verify")
	ErrUntrustedKey = errors.New("client manifest is signed by a key that is not trusted")
)

// Sign returns the detached signature document (release.Signature, the same format as
// release packages' manifest.sig) over the exact manifest bytes data.
func Sign(data []byte, key ed25519.PrivateKey) ([]byte, error) {
	sig := release.Signature{
		Algorithm: "ed25519",
		KeyID:     release.KeyID(key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, data)),
	}
	b, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Verify checks the signature document sigData over the manifest bytes data with the
// trusted keys, and returns the parsed manifest and the ID of the key that signed it.
func Verify(data, sigData []byte, trusted []ed25519.PublicKey) (*Manifest, string, error) {
	var sig release.Signature
	if err := strictJSON(sigData, &sig); err != nil {
		return nil, "", fmt.Errorf("%w: not a signature document: %v", ErrBadSignature, err)
	}
	if sig.Algorithm != "ed25519" {
		return nil, sig.KeyID, fmt.Errorf("%w: algorithm %q is not ed25519", ErrBadSignature, sig.Algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return nil, sig.KeyID, fmt.Errorf("%w: the signature is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	var ids []string
	for _, k := range trusted {
		id := release.KeyID(k)
		ids = append(ids, id)
		if id != sig.KeyID {
			continue
		}
		if !ed25519.Verify(k, data, raw) {
			return nil, sig.KeyID, fmt.Errorf("%w with key %s", ErrBadSignature, sig.KeyID)
		}
		m, err := ParseManifest(data)
		if err != nil {
			return nil, sig.KeyID, err
		}
		return m, sig.KeyID, nil
	}
	return nil, sig.KeyID, fmt.Errorf("%w: signed by key %s; trusted keys: %s", ErrUntrustedKey, sig.KeyID, strings.Join(ids, ", "))
}

// Index lists the published builds and the versions the server reports.
type Index struct {
	Format   int     `json:"format"`
	Current  string  `json:"current"` // the highest published version; "" when none
	Minimum  string  `json:"minimum"` // clients below it must update before downloading; "" when none
	Releases []Entry `json:"releases"`
}

// Entry is one published build in the index.
type Entry struct {
	Version     string    `json:"version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	KeyID       string    `json:"key_id"`
	PublishedAt time.Time `json:"published_at"`
}

// Platform returns the entry's platform.
func (e Entry) Platform() Platform { return Platform{OS: e.OS, Arch: e.Arch} }

func (x *Index) validate() error {
	if x.Format != IndexFormat {
		return fmt.Errorf("index format %d is not supported (want %d)", x.Format, IndexFormat)
	}
	for _, v := range []string{x.Current, x.Minimum} {
		if v == "" {
			continue
		}
		if _, err := ParseVersion(v); err != nil {
			return err
		}
	}
	for _, e := range x.Releases {
		if _, err := ParseVersion(e.Version); err != nil {
			return err
		}
		if _, err := ParsePlatform(e.OS + "/" + e.Arch); err != nil {
			return err
		}
	}
	return nil
}

// Find returns the entry of version v for platform p, or nil.
func (x *Index) Find(v string, p Platform) *Entry {
	for i := range x.Releases {
		if e := &x.Releases[i]; e.Version == v && e.Platform() == p {
			return e
		}
	}
	return nil
}

// Latest returns the highest published entry for platform p, or nil.
func (x *Index) Latest(p Platform) *Entry {
	var best *Entry
	var bestV release.Version
	for i := range x.Releases {
		e := &x.Releases[i]
		if e.Platform() != p {
			continue
		}
		v, err := ParseVersion(e.Version)
		if err != nil {
			continue
		}
		if best == nil || v.Compare(bestV) > 0 {
			best, bestV = e, v
		}
	}
	return best
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON object")
	}
	return nil
}

// ReadIndex reads the index in dir; a missing one is an empty index.
func ReadIndex(dir string) (*Index, error) {
	b, err := os.ReadFile(filepath.Join(dir, IndexName))
	if errors.Is(err, fs.ErrNotExist) {
		return &Index{Format: IndexFormat}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read client release index: %w", err)
	}
	var x Index
	if err := strictJSON(b, &x); err != nil {
		return nil, fmt.Errorf("client release index %s: %w", filepath.Join(dir, IndexName), err)
	}
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("client release index %s: %w", filepath.Join(dir, IndexName), err)
	}
	return &x, nil
}
