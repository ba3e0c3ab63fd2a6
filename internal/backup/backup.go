// Package backup makes, lists, verifies and restores consistent online backups of the
// database together with the configuration file and the service registration.
//
// A backup is a directory DATA_DIR/backups/<timestamp>-<schema>-<version>/ whose
// manifest.json, written last, lists every file with its size and SHA-256. The directory
// is built under a ".tmp-" name and renamed into place only after the manifest is on
// disk, so an interrupted backup is never taken for a complete one.
package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// Methods of backing up the database.
const (
	MethodVacuumInto = "sqlite-vacuum-into" // SQLite: VACUUM INTO, one consistent snapshot
	MethodPGDump     = "pg_dump"            // PostgreSQL: pg_dump --format=custom of the schema
	MethodLogical    = "logical"            // PostgreSQL: built-in JSON-lines export
)

// File kinds in a manifest.
const (
	KindDatabase = "database"
	KindConfig   = "config"
	KindExtra    = "extra"
)

// ManifestName is the file that marks a backup complete.
const ManifestName = "manifest.json"

// FormatVersion is the version of the on-disk layout.
const FormatVersion = 1

// tmpPrefix starts the name of a backup directory under construction.
const tmpPrefix = ".tmp-"

// Manifest describes a complete backup.
type Manifest struct {
	Format         int       `json:"format"`
	ID             string    `json:"id"`
	CreatedAt      time.Time `json:"created_at"`
	ProductVersion string    `json:"product_version"` // of the database (database_info)
	MadeBy         string    `json:"made_by"`         // the izytroniq version that made the backup
	SchemaVersion  int       `json:"schema_version"`
	InstanceID     string    `json:"instance_id"`
	Dialect        string    `json:"dialect"`
	Method         string    `json:"method"`
	Schema         string    `json:"schema,omitempty"` // PostgreSQL schema
	DatabaseSize   int64     `json:"database_size"`    // bytes, when the backup began
	Reason         string    `json:"reason,omitempty"` // e.g. "before restore of …"
	ConfigPath     string    `json:"config_path,omitempty"`
	Files          []File    `json:"files"`
}

// File is one file of a backup, its path relative to the backup directory.
type File struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Source string `json:"source,omitempty"` // where a config or extra file came from
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Size returns the total size of the backup's files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// File returns the first file of kind, or nil.
func (m *Manifest) File(kind string) *File {
	for i := range m.Files {
		if m.Files[i].Kind == kind {
			return &m.Files[i]
		}
	}
	return nil
}

// Options configure Create.
type Options struct {
	// Dir is the backups directory, DATA_DIR/backups.
	Dir string
	// DSN is the database's DSN; pg_dump needs it.
	DSN string
	// ProductVersion is this binary's version.
	ProductVersion string
	// ConfigPath is the configuration file to copy byte for byte; "" for none.
	ConfigPath string
	// Extra are more files to include, such as the service registration (a systemd
	// unit); the service package supplies them.
	Extra []string
	// Method forces MethodPGDump or MethodLogical on PostgreSQL; "" picks pg_dump when it
	// is installed and not older than the server, else the logical export.
	Method string
	// Reason is recorded in the manifest.
	Reason string
	// PGDump is the pg_dump program; "" looks it up in PATH.
	PGDump string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// FreeSpace returns the bytes available at a directory; nil uses the file system's.
	FreeSpace func(dir string) (uint64, error)

	now            func() time.Time
	beforeManifest func(dir string) error // tests inject faults here
}

// ErrNoSpace is returned when the disk lacks room for a backup.
var ErrNoSpace = errors.New("not enough free disk space")

// Create makes a backup of db, the configuration file and the extra files, and returns
// its manifest. The server may go on running: the database copy is one consistent
// snapshot.
func Create(ctx context.Context, db *sqldb.DB, o Options) (*Manifest, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("backup: no backup directory")
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	start := now()
	info, err := db.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m := &Manifest{
		Format:         FormatVersion,
		CreatedAt:      start.UTC(),
		ProductVersion: info["product_version"],
		MadeBy:         o.ProductVersion,
		InstanceID:     info["instance_id"],
		Dialect:        db.Dialect(),
		Reason:         o.Reason,
	}
	if m.ProductVersion == "" {
		m.ProductVersion = o.ProductVersion
	}
	if s := info["schema_version"]; s != "" {
		if m.SchemaVersion, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("backup: database_info.schema_version is %q, not a number", s)
		}
	}
	if m.DatabaseSize, err = db.Size(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: create %s: %w", o.Dir, err)
	}
	if err := checkSpace(o.Dir, m.DatabaseSize, o.FreeSpace); err != nil {
		return nil, err
	}
	var pgdump string
	if m.Method, pgdump, err = chooseMethod(ctx, db, o); err != nil {
		return nil, err
	}
	if m.Dialect == sqldb.Postgres {
		if m.Schema, err = db.CurrentSchema(ctx); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	m.ID, err = newID(o.Dir, start, m.SchemaVersion, m.ProductVersion)
	if err != nil {
		return nil, err
	}
	log = log.With("backup", m.ID)
	log.Info("backup started", "dialect", m.Dialect, "method", m.Method, "database_bytes", m.DatabaseSize, "dir", o.Dir)

	tmp := filepath.Join(o.Dir, tmpPrefix+m.ID)
	if err := os.Mkdir(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()

	t0 := time.Now()
	switch m.Method {
	case MethodVacuumInto:
		err = backupSQLite(ctx, db, tmp)
	case MethodPGDump:
		err = runPGDump(ctx, pgdump, o.DSN, m.Schema, filepath.Join(tmp, pgDumpFile))
	case MethodLogical:
		err = exportLogical(ctx, db, tmp, log)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: database: %w", err)
	}
	log.Info("database copied", "method", m.Method, "took", time.Since(t0).Round(time.Millisecond).String())

	var sources []source
	if o.ConfigPath != "" {
		m.ConfigPath = o.ConfigPath
		sources = append(sources, source{o.ConfigPath, filepath.Join("config", filepath.Base(o.ConfigPath)), KindConfig})
	}
	for i, p := range o.Extra {
		sources = append(sources, source{p, filepath.Join("files", strconv.Itoa(i+1)+"-"+filepath.Base(p)), KindExtra})
	}
	for _, s := range sources {
		if err := copyFile(s.from, filepath.Join(tmp, s.to)); err != nil {
			return nil, fmt.Errorf("backup: %s file: %w", s.kind, err)
		}
		log.Info("file copied", "kind", s.kind, "from", s.from)
	}

	if m.Files, err = hashTree(tmp, sources); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if o.beforeManifest != nil {
		if err := o.beforeManifest(tmp); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := writeManifest(tmp, m); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	final := filepath.Join(o.Dir, m.ID)
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := atomicfile.SyncDir(o.Dir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok = true
	log.Info("backup complete", "dir", final, "bytes", m.Size(), "files", len(m.Files), "took", time.Since(start).Round(time.Millisecond).String())
	return m, nil
}

type source struct{ from, to, kind string }

// chooseMethod picks how to copy the database, and the pg_dump program for MethodPGDump.
func chooseMethod(ctx context.Context, db *sqldb.DB, o Options) (string, string, error) {
	if db.Dialect() == sqldb.SQLite {
		if o.Method != "" && o.Method != MethodVacuumInto {
			return "", "", fmt.Errorf("backup: method %q is for PostgreSQL; SQLite is backed up with VACUUM INTO", o.Method)
		}
		return MethodVacuumInto, "", nil
	}
	switch o.Method {
	case MethodLogical:
		return MethodLogical, "", nil
	case "", MethodPGDump:
	default:
		return "", "", fmt.Errorf("backup: unknown method %q (want %s or %s)", o.Method, MethodPGDump, MethodLogical)
	}
	prog, why := usablePGDump(ctx, db, o.PGDump)
	if why == nil {
		return MethodPGDump, prog, nil
	}
	if o.Method == MethodPGDump {
		return "", "", fmt.Errorf("backup: %w", why)
	}
	if o.Logger != nil {
		o.Logger.Info("using the built-in logical export", "because", why.Error())
	}
	return MethodLogical, "", nil
}

// idUnsafe matches what may not appear in a backup ID.
var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// newID returns "<UTC timestamp>-<schema>-<version>", with a suffix when that exists.
func newID(dir string, t time.Time, schema int, version string) (string, error) {
	v := idUnsafe.ReplaceAllString(version, "_")
	if v == "" {
		v = "unknown"
	}
	base := fmt.Sprintf("%s-%d-%s", t.UTC().Format("20060102T150405Z"), schema, v)
	for i := 1; i < 1000; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s.%d", base, i)
		}
		_, err1 := os.Lstat(filepath.Join(dir, id))
		_, err2 := os.Lstat(filepath.Join(dir, tmpPrefix+id))
		if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
			return id, nil
		}
	}
	return "", fmt.Errorf("backup: too many backups named %s", base)
}
