package clientrel

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/release"
)

// PublishOptions says what Publish stores.
type PublishOptions struct {
	Binary   []byte // the izy build
	Version  string
	Platform Platform
	Key      ed25519.PrivateKey
	Minimum  bool // raise the minimum client version to Version
	Now      time.Time
}

// PublishResult says what Publish did.
type PublishResult struct {
	Entry     Entry  `json:"release"`
	Unchanged bool   `json:"unchanged"` // the same bytes were already published
	Current   string `json:"current"`
	Minimum   string `json:"minimum"`
	Path      string `json:"path"`
}

// Publish stores a build under dir (DIR/VERSION/OS-ARCH/{izy,manifest.json,manifest.sig,
// release.pub}) and records it in the index. Every file is replaced atomically and the
// index last, so a crash leaves at worst an unlisted build. Publishing the same version
// and platform again with the same bytes changes nothing (the minimum may still be
// raised); different bytes are refused. The minimum is never lowered.
func Publish(dir string, o PublishOptions) (*PublishResult, error) {
	v, err := ParseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if _, err := ParsePlatform(o.Platform.String()); err != nil {
		return nil, err
	}
	if len(o.Binary) == 0 {
		return nil, izy.Errorf(izy.EINVALID, "the client build is empty")
	}
	if len(o.Binary) > MaxBinarySize {
		return nil, izy.Errorf(izy.ETOOLARGE, "the client build is %d bytes; at most %d are allowed", len(o.Binary), MaxBinarySize)
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		return nil, izy.Errorf(izy.EINVALID, "no release signing key")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	x, err := ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	if x.Minimum != "" {
		minV, _ := ParseVersion(x.Minimum)
		if o.Minimum && v.Compare(minV) < 0 {
			return nil, izy.Errorf(izy.ECONFLICT, "--minimum %s would lower the minimum client version %s; the minimum is never lowered", o.Version, x.Minimum)
		}
	}
	sum := sha256.Sum256(o.Binary)
	hexSum := hex.EncodeToString(sum[:])
	pub := o.Key.Public().(ed25519.PublicKey)
	relDir := filepath.Join(dir, o.Version, o.Platform.dir())
	res := &PublishResult{Path: filepath.Join(relDir, o.Platform.BinaryName())}
	if e := x.Find(o.Version, o.Platform); e != nil {
		if e.SHA256 != hexSum || e.Size != int64(len(o.Binary)) {
			return nil, izy.Errorf(izy.ECONFLICT, "izy %s for %s is already published with other content (sha256 %s); publish a new version instead", o.Version, o.Platform, e.SHA256)
		}
		res.Entry, res.Unchanged = *e, true
	} else {
		// Files left by a publish that crashed before the index was written are
		// replaced below: the index is what says a build is published.
		if err := os.MkdirAll(relDir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", relDir, err)
		}
		m := Manifest{Format: ManifestFormat, Product: Product, Version: o.Version, OS: o.Platform.OS, Arch: o.Platform.Arch,
			Size: int64(len(o.Binary)), SHA256: hexSum, PublishedAt: o.Now.UTC().Truncate(time.Second)}
		mb, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, err
		}
		mb = append(mb, '\n')
		sig, err := Sign(mb, o.Key)
		if err != nil {
			return nil, err
		}
		files := []struct {
			name string
			data []byte
			perm os.FileMode
		}{
			{o.Platform.BinaryName(), o.Binary, 0o755},
			{ManifestName, mb, 0o644},
			{SignatureName, sig, 0o644},
			{PublicKeyName, release.MarshalPublicKey(pub), 0o644},
		}
		for _, f := range files {
			if err := atomicfile.WriteFile(filepath.Join(relDir, f.name), f.data, f.perm); err != nil {
				return nil, fmt.Errorf("write %s: %w", filepath.Join(relDir, f.name), err)
			}
		}
		res.Entry = Entry{Version: o.Version, OS: o.Platform.OS, Arch: o.Platform.Arch, Size: m.Size, SHA256: hexSum,
			KeyID: release.KeyID(pub), PublishedAt: m.PublishedAt}
		x.Releases = append(x.Releases, res.Entry)
	}
	// The current version is the highest published on any platform.
	var cur release.Version
	x.Current = ""
	for _, e := range x.Releases {
		ev, _ := ParseVersion(e.Version)
		if x.Current == "" || ev.Compare(cur) > 0 {
			x.Current, cur = e.Version, ev
		}
	}
	if o.Minimum {
		x.Minimum = o.Version
	}
	slices.SortFunc(x.Releases, func(a, b Entry) int {
		av, _ := ParseVersion(a.Version)
		bv, _ := ParseVersion(b.Version)
		if c := bv.Compare(av); c != 0 {
			return c
		}
		if a.OS != b.OS {
			return cmpString(a.OS, b.OS)
		}
		return cmpString(a.Arch, b.Arch)
	})
	res.Current, res.Minimum = x.Current, x.Minimum
	xb, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return nil, err
	}
	xb = append(xb, '\n')
	old, _ := os.ReadFile(filepath.Join(dir, IndexName))
	if !bytes.Equal(old, xb) {
		if err := atomicfile.WriteFile(filepath.Join(dir, IndexName), xb, 0o644); err != nil {
			return nil, fmt.Errorf("write client release index: %w", err)
		}
	}
	return res, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Release is one published build as the server hands it out: the manifest's and its
// signature's exact bytes and the public key that signed them.
type Release struct {
	Entry     Entry
	Manifest  []byte
	Signature []byte
	PublicKey []byte // PEM
}

// Store reads the published builds under a directory for the server. The index is
// re-read when it changes (looked at most once a second), so a publish takes effect
// without a restart.
type Store struct {
	dir   string
	index *fileCache
}

// Open returns the store of the releases directory dir (which need not exist yet).
func Open(dir string) *Store {
	return &Store{dir: dir, index: newFileCache(filepath.Join(dir, IndexName), time.Second)}
}

// Dir returns the releases directory.
func (s *Store) Dir() string { return s.dir }

// Index returns the current index; an unreadable one reads as empty, with the error.
func (s *Store) Index() (*Index, error) {
	return s.index.get(func() (*Index, error) { return ReadIndex(s.dir) })
}

// Versions returns the current and minimum client versions ("" when none published).
func (s *Store) Versions() (current, minimum string) {
	x, _ := s.Index()
	return x.Current, x.Minimum
}

// Latest returns the highest published build for platform ("os/arch").
func (s *Store) Latest(platform string) (*Release, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	x, err := s.Index()
	if err != nil {
		return nil, err
	}
	e := x.Latest(p)
	if e == nil {
		return nil, izy.Errorf(izy.ENOTFOUND, "no izy release is published for %s", p)
	}
	rel := &Release{Entry: *e}
	d := filepath.Join(s.dir, e.Version, p.dir())
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{ManifestName, &rel.Manifest}, {SignatureName, &rel.Signature}, {PublicKeyName, &rel.PublicKey}} {
		b, err := os.ReadFile(filepath.Join(d, f.name))
		if err != nil {
			return nil, fmt.Errorf("read published izy %s for %s: %w", e.Version, p, err)
		}
		*f.dst = b
	}
	return rel, nil
}

// OpenBinary opens the published build of version for goos/goarch, strictly parsing
// both so that no request reaches the file system unchecked, and only if the index
// lists it. The caller closes the file.
func (s *Store) OpenBinary(version, goos, goarch string) (*os.File, *Entry, error) {
	if _, err := ParseVersion(version); err != nil {
		return nil, nil, err
	}
	p, err := ParsePlatform(goos + "/" + goarch)
	if err != nil {
		return nil, nil, err
	}
	x, err := s.Index()
	if err != nil {
		return nil, nil, err
	}
	e := x.Find(version, p)
	if e == nil {
		return nil, nil, izy.Errorf(izy.ENOTFOUND, "izy %s is not published for %s", version, p)
	}
	rel := filepath.Join(version, p.dir(), p.BinaryName())
	if !filepath.IsLocal(rel) {
		return nil, nil, izy.Errorf(izy.EINVALID, "bad release path")
	}
	f, err := os.Open(filepath.Join(s.dir, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, izy.Errorf(izy.ENOTFOUND, "izy %s for %s is listed but its file is missing", version, p)
	}
	if err != nil {
		return nil, nil, err
	}
	ec := *e
	return f, &ec, nil
}
