package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
)

// RecordFile is the file in the data directory that remembers the registration, so
// doctor --fix can register a vanished service again with the same account, and
// backups carry it.
const RecordFile = "service.json"

// record is RecordFile's content.
type record struct {
	Spec       Spec      `json:"spec"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Record writes spec to dir/service.json, replacing an older record.
func Record(dir string, spec Spec) error {
	b, err := json.MarshalIndent(record{Spec: spec, RecordedAt: time.Now().UTC().Truncate(time.Second)}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, RecordFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("record the service registration: %w", err)
	}
	return nil
}

// LoadRecord reads the registration Record wrote. Without one the error wraps
// fs.ErrNotExist.
func LoadRecord(dir string) (Spec, error) {
	path := filepath.Join(dir, RecordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Spec{}, fmt.Errorf("no service registration recorded in %s: %w", dir, err)
		}
		return Spec{}, fmt.Errorf("read service record: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Spec{}, fmt.Errorf("service record %s: %w", path, err)
	}
	if r.Spec.Name == "" {
		return Spec{}, fmt.Errorf("service record %s names no service", path)
	}
	return r.Spec, nil
}

// RemoveRecord deletes the record; a missing one is not an error.
func RemoveRecord(dir string) error {
	err := os.Remove(filepath.Join(dir, RecordFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove service record: %w", err)
	}
	return nil
}
