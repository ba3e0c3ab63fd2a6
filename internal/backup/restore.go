package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Dir is the backups directory; ID names the backup ("latest" for the newest).
	Dir, ID string
	// DSN is the database to restore into.
	DSN string
	// ConfigPath is the configuration file in use: it goes into the safety backup, and
	// ConfigToo writes the backed-up one over it ("" uses the path in the manifest).
	ConfigPath string
	// ConfigToo restores the configuration file as well; without it the file is never
	// touched.
	ConfigToo bool
	// NoSafetyBackup skips the backup of the current state taken before overwriting it.
	NoSafetyBackup bool
	// ProductVersion is this binary's version.
	ProductVersion string
	// PGRestore is the pg_restore program; "" looks it up in PATH.
	PGRestore string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// FreeSpace is passed on to the safety backup.
	FreeSpace func(dir string) (uint64, error)
}

// RestoreReport says what Restore did.
type RestoreReport struct {
	ID             string   `json:"id"`
	Dialect        string   `json:"dialect"`
	Method         string   `json:"method"`
	SchemaVersion  int      `json:"schema_version"`
	SafetyBackup   string   `json:"safety_backup,omitempty"`
	ConfigRestored string   `json:"config_restored,omitempty"`
	Actions        []string `json:"actions"`
	Millis         int64    `json:"millis"`
}

// Restore puts a backup's database back, and its configuration with ConfigToo. It
// verifies every checksum first and changes nothing when one is wrong; then it backs up
// the current state (unless NoSafetyBackup). For SQLite it refuses while another
// process (a running server) has the file open — a best-effort check, since a process
// may open it right after. The database is replaced atomically: SQLite by renaming a
// synced copy over the file, PostgreSQL by pg_restore or the built-in import, each in
// one transaction.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreReport, error) {
	start := time.Now()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bdir, m, err := Open(o.Dir, o.ID)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep := &RestoreReport{ID: m.ID, Dialect: m.Dialect, Method: m.Method, SchemaVersion: m.SchemaVersion, Actions: []string{}}
	did := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		rep.Actions = append(rep.Actions, s)
		log.Info(s)
	}
	did("verified %d file(s) of backup %s", len(m.Files), m.ID)
	dialect := sqldb.SQLite
	if strings.HasPrefix(o.DSN, "postgres://") || strings.HasPrefix(o.DSN, "postgresql://") {
		dialect = sqldb.Postgres
	}
	if dialect != m.Dialect {
		return nil, fmt.Errorf("restore: backup %s is of a %s database, the target is %s", m.ID, m.Dialect, dialect)
	}
	configTarget := o.ConfigPath
	if configTarget == "" {
		configTarget = m.ConfigPath
	}
	cfgFile := m.File(KindConfig)
	if o.ConfigToo && (cfgFile == nil || configTarget == "") {
		return nil, fmt.Errorf("restore: backup %s holds no configuration file", m.ID)
	}
	var pgRestore string
	if m.Method == MethodPGDump {
		if pgRestore, err = findPGRestore(o.PGRestore); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	sqlitePath := ""
	if dialect == sqldb.SQLite {
		sqlitePath = sqldb.SQLitePath(o.DSN)
		if err := sqldb.CheckSQLiteUnused(ctx, sqlitePath); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}

	// Safety backup, and the checks that need the database open.
	dbExists := true
	if sqlitePath != "" {
		_, err := os.Stat(sqlitePath)
		dbExists = err == nil
	}
	if dbExists {
		db, err := sqldb.Open(ctx, o.DSN, sqldb.Options{ProductVersion: o.ProductVersion, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("restore: open database: %w", err)
		}
		err = func() error {
			if dialect == sqldb.Postgres {
				schema, err := db.CurrentSchema(ctx)
				if err != nil {
					return err
				}
				if m.Method == MethodPGDump && schema != m.Schema {
					return fmt.Errorf("backup %s is of schema %q, the DSN selects %q: a pg_dump backup restores into its own schema", m.ID, m.Schema, schema)
				}
				if n, err := db.OtherSessions(ctx); err == nil && n > 0 {
					log.Warn("other sessions are connected to the database; stop the servers that use this schema", "sessions", n)
				}
			}
			if o.NoSafetyBackup {
				did("skipped the safety backup (--no-safety-backup)")
				return nil
			}
			sm, err := Create(ctx, db, Options{
				Dir: o.Dir, DSN: o.DSN, ProductVersion: o.ProductVersion, ConfigPath: configIfExists(configTarget),
				Reason: "before restore of " + m.ID, Logger: log, FreeSpace: o.FreeSpace,
			})
			if err != nil {
				return fmt.Errorf("safety backup: %w", err)
			}
			rep.SafetyBackup = sm.ID
			did("made safety backup %s of the current state", sm.ID)
			return nil
		}()
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}

	switch m.Method {
	case MethodVacuumInto:
		err = restoreSQLite(ctx, filepath.Join(bdir, sqliteFile), sqlitePath)
		if err == nil {
			did("replaced the SQLite database %s", sqlitePath)
		}
	case MethodPGDump:
		err = restorePGDump(ctx, o, pgRestore, filepath.Join(bdir, pgDumpFile), m.Schema, log)
		if err == nil {
			did("restored schema %q with pg_restore", m.Schema)
		}
	case MethodLogical:
		err = restoreLogical(ctx, o, bdir, log)
		if err == nil {
			did("restored the database with the built-in import")
		}
	default:
		err = fmt.Errorf("unknown backup method %q", m.Method)
	}
	if err != nil {
		return rep, fmt.Errorf("restore: database: %w", err)
	}

	if cfgFile != nil {
		b, err := os.ReadFile(filepath.Join(bdir, filepath.FromSlash(cfgFile.Path)))
		if err != nil {
			return rep, fmt.Errorf("restore: configuration: %w", err)
		}
		cur, curErr := os.ReadFile(configTarget)
		switch {
		case o.ConfigToo:
			if err := atomicfile.WriteFile(configTarget, b, 0o640); err != nil {
				return rep, fmt.Errorf("restore: configuration: %w", err)
			}
			rep.ConfigRestored = configTarget
			did("restored the configuration file %s", configTarget)
		case curErr == nil && bytes.Equal(cur, b):
			did("configuration file %s is the same as in the backup", configTarget)
		default:
			did("left the configuration file %s as it is (it differs from the backup's; --config-too restores it)", orNone(configTarget))
		}
	}
	rep.Millis = time.Since(start).Milliseconds()
	return rep, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func configIfExists(p string) string {
	if p == "" {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func findPGRestore(prog string) (string, error) {
	if prog != "" {
		return prog, nil
	}
	p, err := exec.LookPath("pg_restore")
	if err != nil {
		return "", fmt.Errorf("the backup was made with pg_dump and pg_restore is not installed: install the PostgreSQL client tools")
	}
	return p, nil
}

// restoreSQLite copies the backup beside the target, syncs it, removes the target's WAL
// and shared-memory files (CheckSQLiteUnused has checkpointed them; a stale WAL would be
// replayed into the restored file) and renames the copy over the target.
func restoreSQLite(ctx context.Context, from, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	tmp := target + ".restore-tmp"
	os.Remove(tmp)
	if err := copyFile(from, tmp); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := sqldb.CheckSQLiteUnused(ctx, target); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(target))
}

// restorePGDump moves the current schema aside, restores the dump (which creates the
// schema again) and drops the old one; when pg_restore fails, the old schema is moved
// back, so the database is as before.
func restorePGDump(ctx context.Context, o RestoreOptions, prog, file, schema string, log *slog.Logger) error {
	db, err := sqldb.Open(ctx, o.DSN, sqldb.Options{ProductVersion: o.ProductVersion, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	aside := fmt.Sprintf("%s_pre_restore_%d", schema, time.Now().Unix())
	if len(aside) > 63 {
		aside = fmt.Sprintf("izy_pre_restore_%d", time.Now().UnixNano())
	}
	exists, err := db.SchemaExists(ctx, schema)
	if err != nil {
		return err
	}
	if exists {
		if err := db.RenameSchema(ctx, schema, aside); err != nil {
			return err
		}
	}
	if err := db.CreateSchema(ctx, schema); err != nil {
		if exists {
			db.RenameSchema(context.Background(), aside, schema)
		}
		return err
	}
	if err := runPGRestore(ctx, prog, o.DSN, file); err != nil {
		if exists {
			if derr := db.DropSchema(context.Background(), schema); derr == nil {
				db.RenameSchema(context.Background(), aside, schema)
			} else {
				return fmt.Errorf("%w; the previous data is kept in schema %q", err, aside)
			}
		}
		return err
	}
	if exists {
		if err := db.DropSchema(ctx, aside); err != nil {
			log.Warn("could not drop the replaced schema; drop it by hand", "schema", aside, "err", err)
		}
	}
	return nil
}

func restoreLogical(ctx context.Context, o RestoreOptions, dir string, log *slog.Logger) error {
	db, err := sqldb.Open(ctx, o.DSN, sqldb.Options{ProductVersion: o.ProductVersion, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	return importLogical(ctx, db, dir)
}
