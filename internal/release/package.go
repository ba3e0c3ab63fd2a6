package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits on what a package may hold. They are variables so tests can lower them; a
// server binary is tens of megabytes.
var (
	maxFileSize     int64 = 512 << 20 // one file
	maxTotalSize    int64 = 2 << 30   // all files, uncompressed
	maxManifestSize       = 1 << 20   // manifest.json and manifest.sig each
	maxEntries            = 1000
	maxPathLen            = 255
)

// Package is a release package whose signature and files have been verified.
type Package struct {
	Path          string    // the archive
	Manifest      *Manifest // parsed from ManifestBytes
	ManifestBytes []byte    // manifest.json exactly as signed
	SignatureData []byte    // manifest.sig
	KeyID         string    // the trusted key that signed it

	signerKey ed25519.PublicKey
}

// Open reads the package archive at path and verifies it completely: the archive holds
// only regular files with safe relative names within the size limits, manifest.json is
// signed by one of the trusted keys, and every file matches the manifest's size and
// SHA-256, with nothing missing and nothing extra. Nothing is written to disk.
func Open(path string, trusted []ed25519.PublicKey) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	defer f.Close()
	p, err := readPackage(f, trusted, nil)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", filepath.Base(path), err)
	}
	p.Path = path
	return p, nil
}

// Extract writes the package's files, manifest.json and manifest.sig into dir, a
// staging directory that must be empty or not exist yet. It reads the archive again and
// checks everything Open checks, and that the archive still holds the manifest Open
// verified; on any failure it removes what it wrote.
func (p *Package) Extract(dir string) (err error) {
	if err := prepareDir(dir); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir) // refuses any name that would leave dir
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	var written []string
	defer func() {
		if err != nil {
			for i := len(written) - 1; i >= 0; i-- {
				root.Remove(written[i])
			}
		}
	}()
	create := func(name string, mode os.FileMode) (io.WriteCloser, error) {
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err == nil {
			written = append(written, name)
		}
		return w, err
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	q, err := readPackage(f, p.trustedKey(), create)
	if err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(p.Path), err)
	}
	if string(q.ManifestBytes) != string(p.ManifestBytes) {
		return fmt.Errorf("extract %s: %w: the archive changed since it was opened", filepath.Base(p.Path), ErrMismatch)
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{ManifestName, p.ManifestBytes}, {SignatureName, p.SignatureData}} {
		w, err := create(e.name, 0o644)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		_, err = w.Write(e.data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	}
	return nil
}

// trustedKey returns the key that verified p, so Extract checks against the same one.
func (p *Package) trustedKey() []ed25519.PublicKey {
	return []ed25519.PublicKey{p.signerKey}
}

// prepareDir makes dir if needed and insists it is an empty directory.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("extract: staging directory %s is not empty", dir)
	}
	return nil
}

// readPackage reads a package archive from r and verifies it. When create is not nil
// each file is also written through it, and only after the manifest has been verified;
// a file whose hash turns out wrong is reported as an error (the caller removes it).
func readPackage(r io.Reader, trusted []ed25519.PublicKey, create func(name string, mode os.FileMode) (io.WriteCloser, error)) (*Package, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip archive: %v", ErrMalformed, err)
	}
	defer gz.Close()
	// A bound on everything decompressed, so a small archive cannot expand without end.
	limited := &io.LimitedReader{R: gz, N: maxTotalSize + 2*int64(maxManifestSize) + int64(maxEntries+8)*4096}
	tr := tar.NewReader(limited)

	p := &Package{}
	seen := map[string]bool{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if limited.N <= 0 {
				return nil, fmt.Errorf("%w: archive expands to more than the size limit", ErrUnsafe)
			}
			return nil, fmt.Errorf("%w: reading archive: %v", ErrMalformed, err)
		}
		if n >= maxEntries+2 {
			return nil, fmt.Errorf("%w: more than %d entries", ErrUnsafe, maxEntries+2)
		}
		if err := checkEntry(h); err != nil {
			return nil, err
		}
		switch {
		case n == 0:
			if h.Name != ManifestName {
				return nil, fmt.Errorf("%w: the first entry is %q, not %s", ErrMalformed, h.Name, ManifestName)
			}
			if p.ManifestBytes, err = readSmall(tr, h); err != nil {
				return nil, err
			}
			continue
		case n == 1:
			if h.Name != SignatureName {
				return nil, fmt.Errorf("%w: no %s after %s", ErrUnsigned, SignatureName, ManifestName)
			}
			if p.SignatureData, err = readSmall(tr, h); err != nil {
				return nil, err
			}
			if err := p.verifyManifest(trusted); err != nil {
				return nil, err
			}
			continue
		}
		f := p.Manifest.File(h.Name)
		if f == nil {
			return nil, fmt.Errorf("%w: %q is not listed in the manifest", ErrMismatch, h.Name)
		}
		if seen[h.Name] {
			return nil, fmt.Errorf("%w: %q appears twice", ErrUnsafe, h.Name)
		}
		seen[h.Name] = true
		if h.Size != f.Size {
			return nil, fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrMismatch, h.Name, h.Size, f.Size)
		}
		if err := copyFile(tr, f, create); err != nil {
			return nil, err
		}
	}
	switch {
	case p.ManifestBytes == nil:
		return nil, fmt.Errorf("%w: no %s", ErrMalformed, ManifestName)
	case p.SignatureData == nil:
		return nil, fmt.Errorf("%w: no %s after %s", ErrUnsigned, SignatureName, ManifestName)
	}
	for _, f := range p.Manifest.Files {
		if !seen[f.Path] {
			return nil, fmt.Errorf("%w: %s is listed in the manifest but missing from the archive", ErrMismatch, f.Path)
		}
	}
	return p, nil
}

// verifyManifest checks the signature, then parses the manifest it covers.
func (p *Package) verifyManifest(trusted []ed25519.PublicKey) error {
	id, err := verify(p.ManifestBytes, p.SignatureData, trusted)
	if err != nil {
		return err
	}
	for _, k := range trusted {
		if KeyID(k) == id {
			p.signerKey = k
		}
	}
	p.KeyID = id
	if p.Manifest, err = ParseManifest(p.ManifestBytes); err != nil {
		return err
	}
	return nil
}

// copyFile streams one file's content through SHA-256 (and to create, if given) and
// compares it with the manifest.
func copyFile(r io.Reader, f *File, create func(string, os.FileMode) (io.WriteCloser, error)) (err error) {
	h := sha256.New()
	var w io.Writer = h
	if create != nil {
		out, err := create(f.Path, 0o755)
		if err != nil {
			return fmt.Errorf("extract %s: %w", f.Path, err)
		}
		defer func() {
			if cerr := out.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("extract %s: %w", f.Path, cerr)
			}
		}()
		w = io.MultiWriter(h, out)
	}
	n, err := io.Copy(w, io.LimitReader(r, f.Size+1))
	if err != nil {
		if create != nil {
			return fmt.Errorf("extract %s: %w", f.Path, err)
		}
		return fmt.Errorf("%w: reading %s: %v", ErrMalformed, f.Path, err)
	}
	if n != f.Size {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrMismatch, f.Path, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrMismatch, f.Path, got, f.SHA256)
	}
	return nil
}

// readSmall reads manifest.json or manifest.sig.
func readSmall(r io.Reader, h *tar.Header) ([]byte, error) {
	if h.Size > int64(maxManifestSize) {
		return nil, fmt.Errorf("%w: %s is %d bytes; at most %d are allowed", ErrUnsafe, h.Name, h.Size, maxManifestSize)
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(maxManifestSize)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrMalformed, h.Name, err)
	}
	return b, nil
}

// checkEntry refuses everything but a regular file with a safe name within the limits:
// no absolute or parent paths (zip slip), no links, devices or directories.
func checkEntry(h *tar.Header) error {
	if err := checkPath(h.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafe, err)
	}
	switch h.Typeflag {
	case tar.TypeReg:
	case tar.TypeSymlink:
		return fmt.Errorf("%w: %q is a symbolic link (to %q); packages hold regular files only", ErrUnsafe, h.Name, h.Linkname)
	case tar.TypeLink:
		return fmt.Errorf("%w: %q is a hard link (to %q); packages hold regular files only", ErrUnsafe, h.Name, h.Linkname)
	default:
		return fmt.Errorf("%w: %q has tar type %q; packages hold regular files only", ErrUnsafe, h.Name, h.Typeflag)
	}
	if h.Size < 0 || h.Size > maxFileSize {
		return fmt.Errorf("%w: %q is %d bytes; at most %d are allowed", ErrUnsafe, h.Name, h.Size, maxFileSize)
	}
	return nil
}

// checkPath accepts a relative slash-separated path that stays inside the directory it
// is extracted to on Linux and on Windows.
func checkPath(name string) error {
	switch {
	case name == "":
		return errors.New("empty path")
	case len(name) > maxPathLen:
		return fmt.Errorf("path %.40q… is longer than %d bytes", name, maxPathLen)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("path %q is absolute", name)
	case strings.ContainsAny(name, `\:`):
		return fmt.Errorf("path %q holds a backslash or colon (a Windows path or drive)", name)
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return fmt.Errorf("path %q leaves the package directory", name)
		}
	}
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("path %q is not clean (empty, '.' or trailing elements)", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`<>"|?*`, r) {
			return fmt.Errorf("path %q holds a character not allowed in file names", name)
		}
	}
	return nil
}
