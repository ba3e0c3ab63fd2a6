package update

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/backup"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// rollback puts the old version back after a failure in the migration, the switch or
// the verification: the old server back (a hand-over back, or it never stopped), the
// pointer and the service back, and the database restored from the phase-3 backup only
// when the old binary cannot run on it (a contract migration, or a dirty one). Then it
// checks the old version serves. It returns nil when all of that worked.
func (r *run) rollback(ctx context.Context) error {
	// A cancelled update still rolls back.
	ctx = context.WithoutCancel(ctx)
	j := r.j
	r.log.Warn("rolling back", "to", j.FromVersion, "phase", j.Phase)
	var errs []error
	restore, why, err := r.needRestore(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	// 1. The server: hand back to the old binary, unless the database must be restored
	// first (the old binary would refuse it).
	handedBack := false
	if j.HandedOver && !restore && r.o.Switcher != nil {
		if pid, err := r.o.Switcher.Handover(ctx, j.FromBinary, r.o.HandoverTimeout); err != nil {
			r.log.Warn("hand-over back failed; stopping the new server", "err", err)
			if err := r.o.Switcher.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop the new server: %w", err))
			}
		} else {
			handedBack = true
			r.note("handed the socket back to %s (pid %d)", j.FromVersion, pid)
		}
	}
	// 2. The pointer and the service registration.
	if j.PointerSwitched {
		if err := r.lay.setCurrent(j.FromPointer); err != nil {
			errs = append(errs, err)
		} else {
			j.PointerSwitched = false
			r.note("pointer back to %s", orFlat(j.FromPointer))
		}
	}
	if j.ServiceSwitched {
		if err := r.repoint(ctx, j.FromBinary); err != nil {
			errs = append(errs, err)
		} else {
			j.ServiceSwitched = false
		}
	}
	r.save("")
	// 3. The database, when the old binary cannot run on it. Whatever serves must stop.
	svcRunning := false
	if st, err := r.manager().Status(ctx, j.ServiceName); err == nil && st.Installed && st.Running {
		svcRunning = true
	}
	pid := 0
	if r.o.Switcher != nil {
		pid, _ = r.o.Switcher.Running()
	}
	stoppedSvc, stoppedServer := false, false
	serving := j.ServerRunning || pid > 0 // a server must serve when the rollback ends
	if restore {
		r.note("the database must be restored: %s", why)
		if pid > 0 {
			if err := r.o.Switcher.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop the server: %w", err))
			}
			pid, stoppedServer = 0, true
			r.note("stopped the server for the restore")
		}
		if svcRunning {
			if err := r.control().Stop(ctx, j.ServiceName); err != nil {
				errs = append(errs, fmt.Errorf("stop service %s: %w", j.ServiceName, err))
			}
			stoppedSvc = true
		}
		if len(errs) == 0 {
			if err := r.restore(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// 4. Start the old version where it does not run.
	switch {
	case handedBack || !j.ServerRunning && !stoppedServer && !stoppedSvc:
	case j.ServiceRestarted || stoppedSvc:
		if err := r.control().Restart(ctx, j.ServiceName); err != nil {
			errs = append(errs, fmt.Errorf("restart service %s: %w", j.ServiceName, err))
		} else {
			r.note("restarted service %s on %s", j.ServiceName, j.FromBinary)
		}
	case pid > 0:
		if !j.HandedOver {
			r.note("%s kept serving throughout", j.FromVersion)
		}
	case r.o.Switcher != nil:
		if err := r.o.Switcher.Start(ctx, j.FromBinary); err != nil {
			errs = append(errs, fmt.Errorf("start %s: %w", j.FromBinary, err))
		} else {
			r.note("started %s", j.FromBinary)
		}
	}
	// 5. Is the old version serving?
	if serving && len(errs) == 0 {
		if err := r.waitReady(ctx, j.FromVersion, -1); err != nil {
			errs = append(errs, fmt.Errorf("the old version does not serve: %w", err))
		} else {
			r.note("%s serves again", j.FromVersion)
		}
	}
	return errors.Join(errs...)
}

func orFlat(p string) string {
	if p == "" {
		return "the flat install (pointer removed)"
	}
	return p
}

func (r *run) serviceInstalled(ctx context.Context) bool {
	st, err := r.manager().Status(ctx, r.j.ServiceName)
	return err == nil && st.Installed
}

// needRestore reports whether the old binary cannot run on the database as it is.
func (r *run) needRestore(ctx context.Context) (bool, string, error) {
	if r.j == nil || !r.j.MigrateStarted {
		return false, "", nil
	}
	db, err := r.openDB(ctx)
	if err != nil {
		// Unreachable: if the migration never reached it, there is nothing to undo; the
		// restore would fail the same way.
		return false, "", fmt.Errorf("cannot read the database to decide on a restore: %w", err)
	}
	if i, err := db.InterruptedMigration(ctx); err == nil && i != nil && i.Dirty() {
		return true, i.Error(), nil
	}
	min, err := db.MinCompatibleSchema(ctx)
	if err != nil {
		return false, "", err
	}
	if min > r.j.FromSchema {
		return true, fmt.Sprintf("a contract migration (schema %d) was applied, which %s (schema %d) cannot run on", min, r.j.FromVersion, r.j.FromSchema), nil
	}
	return false, "", nil
}

// restore puts the phase-3 backup's database back; the configuration file is not
// touched.
func (r *run) restore(ctx context.Context) error {
	if r.j.BackupID == "" {
		return errors.New("no backup was made: cannot restore the database")
	}
	if r.db != nil {
		r.db.Close() // SQLite: the restore refuses while the file is open
		r.db = nil
	}
	var rep *backup.RestoreReport
	var err error
	for try := 0; ; try++ {
		rep, err = backup.Restore(ctx, backup.RestoreOptions{Dir: r.backupDir(), ID: r.j.BackupID, DSN: r.o.DSN,
			ConfigPath: r.o.ConfigPath, ProductVersion: r.o.CurrentVersion, Logger: r.log, FreeSpace: r.o.FreeSpace})
		if !errors.Is(err, sqldb.ErrInUse) || try == 50 {
			break
		}
		time.Sleep(200 * time.Millisecond) // a stopped server may still be closing the file
	}
	if err != nil {
		return fmt.Errorf("restore backup %s: %w", r.j.BackupID, err)
	}
	msg := fmt.Sprintf("restored the database from backup %s (schema %d)", rep.ID, rep.SchemaVersion)
	if rep.SafetyBackup != "" {
		msg += "; the migrated database is kept as backup " + rep.SafetyBackup
	}
	r.note("%s", msg)
	return nil
}

// openDB returns r.db, opening the database again when a restore closed it.
func (r *run) openDB(ctx context.Context) (*sqldb.DB, error) {
	if r.db != nil {
		return r.db, nil
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := sqldb.Open(octx, r.o.DSN, sqldb.Options{ProductVersion: r.o.CurrentVersion})
	if err != nil {
		return nil, err
	}
	r.db = db
	return db, nil
}

func (r *run) manager() service.Manager {
	if r.o.ServiceManager != nil {
		return r.o.ServiceManager
	}
	return service.Default()
}

func (r *run) control() ServiceControl {
	if r.o.ServiceControl != nil {
		return r.o.ServiceControl
	}
	return defaultControl{}
}

// serviceName is the configured name, else the recorded one, else the default.
func (r *run) serviceName() string {
	if r.o.ServiceName != "" {
		return r.o.ServiceName
	}
	if spec, err := service.LoadRecord(r.o.DataDir); err == nil {
		return spec.Name
	}
	return service.DefaultName
}

// readyz asks the server once.
func (r *run) readyz(ctx context.Context) (*readyz, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(r.o.ServerURL, "/")+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		// Whether the server answers is the question; the certificate has its own check.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		DisableKeepAlives: true,
	}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h readyz
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("/readyz: HTTP %d: %w", resp.StatusCode, err)
	}
	return &h, nil
}

// removeStaging removes a staging directory an attempt left.
func (r *run) removeStaging() {
	if r.j != nil && r.j.ToVersion != "" && r.lay.root != "" {
		os.RemoveAll(r.lay.stagingDir(r.j.ToVersion))
	}
}
