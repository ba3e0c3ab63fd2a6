package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// Database files inside a backup directory.
const (
	sqliteFile    = "database.sqlite"
	pgDumpFile    = "database.pgdump"
	logicalDir    = "database"
	logicalIndex  = "database/export.json"
	logicalSuffix = ".jsonl"
)

// backupSQLite writes the consistent snapshot VACUUM INTO makes, and syncs it.
func backupSQLite(ctx context.Context, db *sqldb.DB, dir string) error {
	p := filepath.Join(dir, sqliteFile)
	if err := db.VacuumInto(ctx, p); err != nil {
		return err
	}
	return syncFile(p)
}

// exportLogical writes each table as database/<table>.jsonl and the export's index.
func exportLogical(ctx context.Context, db *sqldb.DB, dir string, log *slog.Logger) error {
	if err := os.Mkdir(filepath.Join(dir, logicalDir), 0o750); err != nil {
		return err
	}
	dump, err := db.Export(ctx, func(table string) (io.WriteCloser, error) {
		f, err := os.OpenFile(filepath.Join(dir, logicalDir, table+logicalSuffix), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, err
		}
		return &syncCloser{f}, nil
	})
	if err != nil {
		return err
	}
	for _, t := range dump.Tables {
		log.Info("exported table", "table", t.Name, "rows", t.Rows)
	}
	b, err := json.MarshalIndent(dump, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, filepath.FromSlash(logicalIndex)), append(b, '\n'), 0o640)
}

// syncCloser syncs a file before closing it.
type syncCloser struct{ *os.File }

func (f *syncCloser) Close() error {
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		return err
	}
	return f.File.Close()
}

// importLogical loads a logical export into db in one transaction.
func importLogical(ctx context.Context, db *sqldb.DB, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(logicalIndex)))
	if err != nil {
		return err
	}
	var dump sqldb.LogicalDump
	if err := json.Unmarshal(b, &dump); err != nil {
		return fmt.Errorf("%s: %w", logicalIndex, err)
	}
	return db.Import(ctx, dump, func(table string) (io.ReadCloser, error) {
		p := filepath.Join(dir, logicalDir, table+logicalSuffix)
		if !filepath.IsLocal(table + logicalSuffix) {
			return nil, fmt.Errorf("bad table name %q", table)
		}
		return os.Open(p)
	})
}
