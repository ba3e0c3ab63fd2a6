package update

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

// journal is DATA_DIR/update/journal.json: what an update attempt has done so far,
// written (atomically, synced) before and after each step that changes something, so
// that `update` run again after a crash knows what to finish or undo.
type journal struct {
	ID          string    `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	FromVersion string    `json:"from_version"`
	ToVersion   string    `json:"to_version"`
	// FromSchema is the schema the old binary knows: a database whose
	// min_compatible_schema is above it must be restored from the backup to roll back.
	FromSchema    int    `json:"from_schema"`
	ToSchema      int    `json:"to_schema"`
	PackageSHA256 string `json:"package_sha256"`
	Root          string `json:"install_root"`
	// FromPointer is what ROOT/current said before ("" for none: a flat install).
	FromPointer string `json:"from_pointer"`
	FromBinary  string `json:"from_binary"`
	ToBinary    string `json:"to_binary,omitempty"`
	BackupID    string `json:"backup_id,omitempty"`
	Phase       string `json:"phase"` // the phase reached
	// MigrateStarted is set before the migration runs, Migrated after it finished.
	MigrateStarted bool `json:"migrate_started"`
	Migrated       bool `json:"migrated"`
	// PointerSwitched: ROOT/current names ToVersion. Service: the service was repointed.
	// HandedOver: a running server was asked to hand over to the new binary.
	PointerSwitched bool   `json:"pointer_switched"`
	ServiceName     string `json:"service_name,omitempty"`
	ServiceSwitched bool   `json:"service_switched"`
	HandedOver      bool   `json:"handed_over"`
	// ServiceRestarted: the service manager restarted the service on the new binary.
	ServiceRestarted bool `json:"service_restarted"`
	// ServerRunning: a server was running from the data directory when the switch began.
	ServerRunning bool `json:"server_running"`
	// Outcome is empty while the attempt runs; set when it ended (the journal is closed).
	Outcome    string     `json:"outcome,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

func journalPath(dataDir string) string { return filepath.Join(dataDir, "update", "journal.json") }

// loadJournal reads the journal; (nil, nil) when there is none.
func loadJournal(dataDir string) (*journal, error) {
	b, err := os.ReadFile(journalPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the update journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("update journal %s: %w", journalPath(dataDir), err)
	}
	return &j, nil
}

// save writes j durably.
func (j *journal) save(dataDir string) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(journalPath(dataDir)), 0o755); err != nil {
		return fmt.Errorf("write the update journal: %w", err)
	}
	if err := atomicfile.WriteFile(journalPath(dataDir), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the update journal: %w", err)
	}
	return nil
}

// open reports whether the attempt has not ended.
func (j *journal) open() bool { return j != nil && j.Outcome == "" }
