package update

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/backup"
	"github.com/izytroniq/izytroniq/internal/service"
)

// startJournal begins the attempt's journal once the read-only phases passed.
func (r *run) startJournal() error {
	from := r.currentBinary()
	if from == "" {
		return errors.New("cannot find this executable")
	}
	root := r.root()
	r.lay = layout{root: root}
	ptr, err := r.lay.current()
	if err != nil {
		return err
	}
	r.j = &journal{
		ID: izy.NewID(), StartedAt: r.now().UTC(), FromVersion: r.o.CurrentVersion, ToVersion: r.manifest.Version,
		FromSchema: r.db.LatestSchemaVersion(), ToSchema: r.manifest.SchemaVersion, PackageSHA256: fileHex(r.o.PackagePath),
		Root: root, FromPointer: ptr, FromBinary: from, ServiceName: r.serviceName(),
	}
	return r.save(PhaseBackup)
}

// currentBinary is the installed server binary: Options.CurrentBinary, else this
// executable.
func (r *run) currentBinary() string {
	if r.o.CurrentBinary != "" {
		return r.o.CurrentBinary
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return exe
}

// root is the install root: Options.InstallDir, else the current binary's (installRoot).
func (r *run) root() string {
	if r.o.InstallDir != "" {
		return r.o.InstallDir
	}
	if b := r.currentBinary(); b != "" {
		return installRoot(b)
	}
	return ""
}

// save records that the attempt reached phase.
func (r *run) save(phase string) error {
	if phase != "" {
		r.j.Phase = phase
	}
	return r.j.save(r.o.DataDir)
}

func (r *run) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.notes = append(r.notes, s)
	r.log.Info(s)
}

// backupPhase is phase 3: the database, the configuration file and the service
// registration, in one backup the rollback can restore.
func backupPhase(ctx context.Context, r *run) error {
	if err := r.startJournal(); err != nil {
		return err
	}
	r.crashPoint("backup:before")
	if err := backgroundPriority(); err != nil {
		r.log.Warn("could not lower the update's priority; the backup competes with the server for the CPU", "err", err)
	}
	var extra []string
	if p := filepath.Join(r.o.DataDir, service.RecordFile); fileExists(p) {
		extra = append(extra, p)
	}
	if st, err := r.manager().Status(ctx, r.j.ServiceName); err == nil && st.Installed && fileExists(st.Location) {
		extra = append(extra, st.Location) // the systemd unit
	}
	r.log.Info("backing up the database, configuration and service registration", "dir", r.backupDir())
	m, err := backup.Create(ctx, r.db, backup.Options{
		Dir: r.backupDir(), DSN: r.o.DSN, ProductVersion: r.o.CurrentVersion, ConfigPath: r.o.ConfigPath, Extra: extra,
		Reason: fmt.Sprintf("before update %s → %s", r.j.FromVersion, r.j.ToVersion), Logger: r.log, FreeSpace: r.o.FreeSpace,
	})
	if err != nil {
		return err // says "backup: …"
	}
	r.j.BackupID = m.ID
	r.log.Info("backup made", "id", m.ID, "files", len(m.Files), "bytes", m.Size())
	if err := r.save(""); err != nil {
		return err
	}
	r.crashPoint("backup:after")
	return nil
}

// fileHex is the hex SHA-256 of a file, "" when it cannot be read.
func fileHex(p string) string {
	s := fileSum(p)
	if s == "" {
		return ""
	}
	return hex.EncodeToString([]byte(s))
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
