// Package release builds, signs and verifies Izytroniq release packages: a .tar.gz
// holding manifest.json (what the release is and the SHA-256 of every file), an
// ed25519 signature over the manifest's exact bytes, and the server and client binaries.
package release

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Product is the product a package must name.
const Product = "izytroniq"

// ManifestFormat is the manifest format this package writes and reads; a newer format
// is refused instead of half understood.
const ManifestFormat = 1

// Names of the two entries that open every package, in this order.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// Manifest says what a release package is: the version, the database schema and sync
// protocol versions its binaries speak, and every file with its size and SHA-256.
type Manifest struct {
	Format           int       `json:"format"`
	Product          string    `json:"product"`
	Version          string    `json:"version"`
	SchemaVersion    int       `json:"schema_version"`
	ProtocolVersions []int     `json:"protocol_versions"`
	MinUpgradeFrom   string    `json:"min_upgrade_from,omitempty"` // oldest version this one installs over directly
	BuiltAt          time.Time `json:"built_at"`
	GoVersion        string    `json:"go_version"`
	Files            []File    `json:"files"`
}

// File is one file of a package.
type File struct {
	Path   string `json:"path"` // slash-separated, relative, e.g. "linux-amd64/izytroniq"
	OS     string `json:"os"`   // GOOS the file is for
	Arch   string `json:"arch"` // GOARCH the file is for
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// Signature is the content of manifest.sig: a detached ed25519 signature over the exact
// bytes of manifest.json and the ID of the key that made it.
type Signature struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // standard base64
}

// Errors from verifying a package; test with errors.Is.
var (
	ErrUnsigned     = errors.New("package is not signed")
	ErrUntrustedKey = errors.New("package is signed by a key that is not trusted")
	ErrBadSignature = errors.New("manifest signature does not verify")
	ErrUnsafe       = errors.New("unsafe package archive")
	ErrMismatch     = errors.New("package content does not match its manifest")
	ErrMalformed    = errors.New("malformed package")
)

// ParseManifest decodes and validates manifest bytes. It does not check a signature.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("%w: manifest is larger than %d bytes", ErrMalformed, maxManifestSize)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: manifest: unexpected data after the JSON object", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	return &m, nil
}

// Validate checks that m is complete and that every file path is safe to extract.
func (m *Manifest) Validate() error {
	if m.Format != ManifestFormat {
		if m.Format > ManifestFormat {
			return fmt.Errorf("format %d is newer than this program understands (%d); update with a newer izytroniq", m.Format, ManifestFormat)
		}
		return fmt.Errorf("format %d is not supported (want %d)", m.Format, ManifestFormat)
	}
	if m.Product != Product {
		return fmt.Errorf("product is %q, not %q", m.Product, Product)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return err
	}
	if m.MinUpgradeFrom != "" {
		minFrom, err := ParseVersion(m.MinUpgradeFrom)
		if err != nil {
			return fmt.Errorf("min_upgrade_from: %w", err)
		}
		if minFrom.Compare(v) >= 0 {
			return fmt.Errorf("min_upgrade_from %s is not older than version %s", m.MinUpgradeFrom, m.Version)
		}
	}
	if m.SchemaVersion < 0 {
		return fmt.Errorf("negative schema_version %d", m.SchemaVersion)
	}
	if len(m.ProtocolVersions) == 0 {
		return fmt.Errorf("no protocol_versions")
	}
	for _, p := range m.ProtocolVersions {
		if p <= 0 {
			return fmt.Errorf("protocol version %d is not positive", p)
		}
	}
	if len(m.Files) == 0 {
		return fmt.Errorf("no files")
	}
	if len(m.Files) > maxEntries {
		return fmt.Errorf("%d files; at most %d are allowed", len(m.Files), maxEntries)
	}
	seen := make(map[string]bool, len(m.Files))
	var total int64
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return err
		}
		if f.Path == ManifestName || f.Path == SignatureName {
			return fmt.Errorf("file %q uses a reserved name", f.Path)
		}
		key := strings.ToLower(f.Path) // Windows file systems ignore case
		if seen[key] {
			return fmt.Errorf("file %q is listed twice", f.Path)
		}
		seen[key] = true
		if !IsPlatformName(f.OS) || !IsPlatformName(f.Arch) {
			return fmt.Errorf("file %q: os %q / arch %q are not platform names", f.Path, f.OS, f.Arch)
		}
		if f.Size < 0 || f.Size > maxFileSize {
			return fmt.Errorf("file %q: size %d is outside 0..%d", f.Path, f.Size, maxFileSize)
		}
		total += f.Size
		if total > maxTotalSize {
			return fmt.Errorf("files add up to more than %d bytes", maxTotalSize)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || f.SHA256 != strings.ToLower(f.SHA256) {
			return fmt.Errorf("file %q: sha256 %q is not 64 lower-case hex digits", f.Path, f.SHA256)
		}
	}
	return nil
}

// File returns the file named path, or nil.
func (m *Manifest) File(path string) *File {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// FilesFor returns the files for one platform, such as linux/amd64.
func (m *Manifest) FilesFor(goos, goarch string) []File {
	var fs []File
	for _, f := range m.Files {
		if f.OS == goos && f.Arch == goarch {
			fs = append(fs, f)
		}
	}
	return fs
}

// IsPlatformName reports whether s looks like a GOOS or GOARCH value.
func IsPlatformName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// sign returns manifest.sig's bytes for manifest bytes data.
func sign(data []byte, key ed25519.PrivateKey) ([]byte, error) {
	sig := Signature{
		Algorithm: "ed25519",
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, data)),
	}
	b, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// verify checks sigData, the bytes of manifest.sig, against the manifest bytes data
// and returns the key ID that signed them.
func verify(data, sigData []byte, trusted []ed25519.PublicKey) (string, error) {
	if len(trusted) == 0 {
		return "", fmt.Errorf("no trusted release keys: name at least one public key to verify packages with")
	}
	var sig Signature
	if err := json.Unmarshal(sigData, &sig); err != nil {
		return "", fmt.Errorf("%w: manifest.sig is not a signature document: %v", ErrUnsigned, err)
	}
	if sig.Algorithm != "ed25519" {
		return "", fmt.Errorf("%w: algorithm %q is not ed25519", ErrBadSignature, sig.Algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: the signature is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	ids := make([]string, len(trusted))
	for i, k := range trusted {
		ids[i] = KeyID(k)
		if ids[i] != sig.KeyID {
			continue
		}
		if !ed25519.Verify(k, data, raw) {
			return sig.KeyID, fmt.Errorf("%w with key %s: the manifest was changed after signing, or the package is damaged", ErrBadSignature, sig.KeyID)
		}
		return sig.KeyID, nil
	}
	return sig.KeyID, fmt.Errorf("%w: signed by key %s; trusted keys: %s", ErrUntrustedKey, sig.KeyID, strings.Join(ids, ", "))
}
