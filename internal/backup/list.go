package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// States of a listed backup.
const (
	StateComplete = "complete" // manifest present (and, when verified, every checksum right)
	StatePartial  = "partial"  // no readable manifest: interrupted or damaged
	StateCorrupt  = "corrupt"  // verified, and a file does not match the manifest
)

// Entry is one directory in the backups directory.
type Entry struct {
	ID       string    `json:"id"`
	Dir      string    `json:"dir"`
	State    string    `json:"state"`
	Verified bool      `json:"verified"`
	Problem  string    `json:"problem,omitempty"`
	Manifest *Manifest `json:"manifest,omitempty"`
}

// List returns the backups in dir, oldest first. Directories without a readable
// manifest, including interrupted ones, are listed as partial. With verify, every
// file's checksum is checked.
func List(dir string, verify bool) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	out := []Entry{}
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		e := Entry{ID: de.Name(), Dir: filepath.Join(dir, de.Name()), State: StatePartial}
		if strings.HasPrefix(e.ID, tmpPrefix) {
			e.Problem = "interrupted: the backup never finished"
			out = append(out, e)
			continue
		}
		m, err := readManifest(e.Dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			e.Problem = "no manifest"
		case err != nil:
			e.Problem = err.Error()
		default:
			e.Manifest, e.State = m, StateComplete
			if verify {
				e.Verified = true
				if err := verifyFiles(e.Dir, m); err != nil {
					e.State, e.Problem = StateCorrupt, err.Error()
				}
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.TrimPrefix(out[i].ID, tmpPrefix) < strings.TrimPrefix(out[j].ID, tmpPrefix)
	})
	return out, nil
}

// Open finds a complete backup by ID ("latest" is the newest complete one) and verifies
// every file against its manifest.
func Open(dir, id string) (string, *Manifest, error) {
	if id == "latest" {
		es, err := List(dir, false)
		if err != nil {
			return "", nil, err
		}
		id = ""
		for _, e := range es {
			if e.State == StateComplete {
				id = e.ID
			}
		}
		if id == "" {
			return "", nil, fmt.Errorf("no complete backup in %s", dir)
		}
	}
	if id == "" || !filepath.IsLocal(id) || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, tmpPrefix) {
		return "", nil, fmt.Errorf("%q is not a backup ID (see 'izytroniq backup list')", id)
	}
	bdir := filepath.Join(dir, id)
	m, err := readManifest(bdir)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(bdir); serr != nil {
			return "", nil, fmt.Errorf("no backup %s in %s (see 'izytroniq backup list')", id, dir)
		}
		return "", nil, fmt.Errorf("backup %s is incomplete: it has no manifest", id)
	}
	if err != nil {
		return "", nil, fmt.Errorf("backup %s: %w", id, err)
	}
	if err := verifyFiles(bdir, m); err != nil {
		return "", nil, fmt.Errorf("backup %s is damaged: %w", id, err)
	}
	return bdir, m, nil
}
