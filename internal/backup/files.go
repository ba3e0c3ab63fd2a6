package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
)

// copyFile copies from to a new file to (creating its directory) and syncs it.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile flushes a written file to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hashFile returns a file's size and hex SHA-256.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree lists every file under dir with its size and SHA-256, syncing each
// directory; sources tell the kind and origin of the copied files, the rest are the
// database.
func hashTree(dir string, sources []source) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return atomicfile.SyncDir(p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f := File{Path: rel, Kind: KindDatabase}
		for _, s := range sources {
			if filepath.ToSlash(s.to) == rel {
				f.Kind, f.Source = s.kind, s.from
			}
		}
		if f.Size, f.SHA256, err = hashFile(p); err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

// writeManifest writes dir/manifest.json through a synced temporary file and a rename.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), 0o640)
}

// readManifest reads dir/manifest.json.
func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%s: format %d, this binary reads %d", ManifestName, m.Format, FormatVersion)
	}
	return &m, nil
}

// ErrChecksum is returned when a backup's files do not match its manifest.
var ErrChecksum = errors.New("checksum mismatch")

// verifyFiles checks every file the manifest lists: present, of its size, of its SHA-256.
func verifyFiles(dir string, m *Manifest) error {
	var errs []error
	for _, f := range m.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			errs = append(errs, fmt.Errorf("%s: path outside the backup", f.Path))
			continue
		}
		n, sum, err := hashFile(p)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w: %v", f.Path, ErrChecksum, err))
		case n != f.Size:
			errs = append(errs, fmt.Errorf("%s: %w: size %d, manifest says %d", f.Path, ErrChecksum, n, f.Size))
		case sum != f.SHA256:
			errs = append(errs, fmt.Errorf("%s: %w: sha256 %s, manifest says %s", f.Path, ErrChecksum, sum, f.SHA256))
		}
	}
	return errors.Join(errs...)
}
