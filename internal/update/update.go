// Package update updates an installation to a signed release package in the phases of
// SPEC §6: verify the package, preflight (both read-only), back up, stage, migrate,
// switch, verify, and roll back on failure. A journal in the data directory records
// each step, so that running the update again after a crash finishes or undoes the
// interrupted attempt.
package update

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// Phase names, in the order of SPEC §6.
const (
	PhaseVerifyPackage = "verify-package" // 1: signature and version path
	PhasePreflight     = "preflight"      // 2: read-only checks of the installation
	PhaseBackup        = "backup"         // 3: database, config, service registration
	PhaseStage         = "stage"          // 4: the new binary in a versioned directory
	PhaseMigrate       = "migrate"        // 5: under the migration lock
	PhaseSwitch        = "switch"         // 6: point the service at the new binary
	PhaseVerify        = "verify"         // 7: check; roll back on failure
)

// Outcomes of an update attempt, as the history records them.
const (
	OutcomeRunning = "running" // started and not finished: interrupted when it stays so
	OutcomeDryRun  = "dry-run" // only the read-only phases ran, on purpose
	OutcomeRefused = "refused" // a check failed; nothing was changed
	OutcomeStopped = "stopped" // stopped before changing anything (see Message)
	OutcomeSuccess = "succeeded"
	// OutcomeRolledBack: something failed after the installation changed; the old
	// version was put back (see Message).
	OutcomeRolledBack = "rolled-back"
	// OutcomeFailed: the update failed and so did the rollback; Message says what to do.
	OutcomeFailed = "failed"
)

// Errors Run returns; test with errors.Is.
var (
	// ErrPreflightFailed: at least one check failed; see Result.Checks.
	ErrPreflightFailed = errors.New("preflight failed")
	// ErrRolledBack: a phase after the preflight failed and the old version was put
	// back; Result.Message says what happened and what was kept.
	ErrRolledBack = errors.New("update rolled back")
	// ErrStopped: a phase before the migration failed (such as a full disk); nothing
	// in the installation was changed.
	ErrStopped = errors.New("update stopped")
	// ErrRollbackFailed: the rollback itself failed; Result.Message says what to do.
	ErrRollbackFailed = errors.New("update failed and could not be rolled back")
	// ErrHandoverUnsupported is what a Switcher returns where the platform cannot hand
	// a listening socket over (Windows): the update restarts the service instead.
	ErrHandoverUnsupported = errors.New("socket hand-over is not supported on this platform")
)

// Switcher reaches the server running from the data directory: the hand-over of its
// listening socket to a new binary without dropping a connection (internal/handoff on
// Linux). Tests use a fake.
type Switcher interface {
	// Running returns the pid of the running server, 0 when none runs.
	Running() (pid int, err error)
	// Handover asks the running server to start binary with its own arguments on its
	// listening socket and to exit once the new one is ready; it returns the new pid.
	// On failure the old server keeps serving. ErrHandoverUnsupported where the platform
	// cannot.
	Handover(ctx context.Context, binary string, timeout time.Duration) (newPID int, err error)
	// Stop ends the running server (SIGTERM, then waits); a rollback that must restore
	// the database needs it stopped.
	Stop(ctx context.Context) error
	// Start starts binary as the server in the background (when no service manager
	// does it), after a rollback stopped it.
	Start(ctx context.Context, binary string) error
}

// ServiceControl restarts and stops a registered service; service.Manager only
// registers. The default uses systemctl or the Windows service manager.
type ServiceControl interface {
	Restart(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
}

// Options say what to update and where the installation is.
type Options struct {
	PackagePath string   // the release package (.tar.gz)
	TrustedKeys []string // files of trusted release public keys
	DryRun      bool     // only the read-only phases

	// CurrentVersion is the installed version (this binary's); ProtocolVersions are
	// the sync protocol versions it speaks.
	CurrentVersion string

	// ConfigPath is the configuration file ("" for none); ConfigErr is why it did not
	// parse or validate. With ConfigErr set, the checks that need it are skipped.
	ConfigPath string
	ConfigErr  error

	DSN        string // the database
	DataDir    string
	BackupDir  string // default DATA_DIR/backups
	InstallDir string // default: the directory of this executable
	TLSCert    string // "" when TLS is not configured
	TLSKey     string

	ServiceName    string          // "" for the recorded name, else service.DefaultName
	ServiceManager service.Manager // nil: the platform's

	// FreeSpace returns the bytes available at a directory; nil asks the file system.
	FreeSpace func(dir string) (uint64, error)
	// LockWait bounds the wait for the migration lock; 0 means 2 seconds.
	LockWait time.Duration
	// Now is the clock for certificate expiry and the history; nil is time.Now.
	Now func() time.Time
	// Logger receives progress; nil discards.
	Logger *slog.Logger

	// CurrentBinary is the running installation's server binary; "" is this executable.
	CurrentBinary string
	// Switcher reaches a running server; nil means none runs (only the service, if any,
	// is restarted).
	Switcher Switcher
	// ServiceControl restarts the service; nil is the platform's.
	ServiceControl ServiceControl
	// ServerURL is where the server answers (/readyz), for the verification.
	ServerURL string
	// VerifyTimeout bounds the wait for the new server to be ready (default 60 s);
	// MigrateTimeout the migration (default 1 hour); HandoverTimeout the hand-over
	// (default 60 s).
	VerifyTimeout, MigrateTimeout, HandoverTimeout time.Duration
	// CrashAt kills this process at a point of the update (crash.go): a test knob.
	CrashAt string
	// WrapWriter wraps the writer of every file the stage phase writes (tests inject a
	// full disk); nil writes directly.
	WrapWriter func(path string, w io.Writer) io.Writer
	// MigrateEnv is added to the environment of the migration's child process.
	MigrateEnv []string
}

// PhaseResult is how one phase went.
type PhaseResult struct {
	Name      string        `json:"name"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	Outcome   string        `json:"outcome"` // pass or fail
	Error     string        `json:"error,omitempty"`
}

// Result is what an update attempt did.
type Result struct {
	ID          string        `json:"id,omitempty"` // in the update history
	DryRun      bool          `json:"dry_run"`
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  time.Time     `json:"finished_at"`
	FromVersion string        `json:"from_version"`
	ToVersion   string        `json:"to_version"`
	Outcome     string        `json:"outcome"`
	Message     string        `json:"message"`
	Phases      []PhaseResult `json:"phases"`
	Checks      []Check       `json:"checks"`
	// ConfigUnchanged is true when the configuration file is byte-identical afterwards.
	ConfigUnchanged bool `json:"config_unchanged"`
	// History says whether the attempt was recorded in the database, or why not.
	History string `json:"history"`
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Failed() {
			out = append(out, c)
		}
	}
	return out
}

// phase is one step of an update. Read-only phases all run even when one fails, so a
// dry run shows every problem at once; the first failure stops the rest.
type phase struct {
	name     string
	readOnly bool
	run      func(ctx context.Context, r *run) error
}

// phases lists what an update runs.
func phases(dryRun bool) []phase {
	ps := []phase{
		{PhaseVerifyPackage, true, verifyPackage},
		{PhasePreflight, true, preflight},
	}
	if dryRun {
		return ps
	}
	return append(ps,
		phase{PhaseBackup, false, backupPhase},
		phase{PhaseStage, false, stagePhase},
		phase{PhaseMigrate, false, migratePhase},
		phase{PhaseSwitch, false, switchPhase},
		phase{PhaseVerify, false, verifyPhase},
	)
}

// run is the state of one attempt, shared by its phases.
type run struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	checks []Check

	pkg      *release.Package // nil when the package did not verify
	manifest *release.Manifest
	pkgSize  int64

	db         *sqldb.DB // nil when the database is not reachable
	sqlitePath string
	dbSchema   int
	dbSize     int64
	lockHeld   bool // the migration lock is held by someone else right now

	j         *journal // the attempt's journal (not for a dry run)
	lay       layout
	notes     []string // what happened, for the message
	recovered bool     // this run converged an interrupted attempt
}

// Run runs the update's phases. With o.DryRun only the read-only phases run. Otherwise
// it first takes the install's update lock (ErrBusy when another update holds it), and
// when the journal shows an interrupted attempt it converges that one — finishes it when
// the new version serves, else rolls it back — and returns without starting another.
// The attempt is recorded in the database's update history when the database is
// reachable and has the table. The error is ErrPreflightFailed when a check failed,
// ErrStopped when a phase before the migration failed (nothing changed), ErrRolledBack
// when a later one failed and the old version was put back, ErrRollbackFailed when even
// that failed.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.LockWait <= 0 {
		o.LockWait = 2 * time.Second
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 60 * time.Second
	}
	if o.MigrateTimeout <= 0 {
		o.MigrateTimeout = time.Hour
	}
	if o.HandoverTimeout <= 0 {
		o.HandoverTimeout = 60 * time.Second
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &run{o: o, log: log, now: now}
	defer func() {
		if r.db != nil {
			r.db.Close()
		}
	}()
	configSum := fileSum(o.ConfigPath)
	res := &Result{DryRun: o.DryRun, StartedAt: now().UTC(), FromVersion: o.CurrentVersion}
	finish := func(err error) (*Result, error) {
		res.FinishedAt = now().UTC()
		res.ConfigUnchanged = configSum == fileSum(o.ConfigPath)
		if !res.ConfigUnchanged {
			// No phase writes the configuration; if it changed, someone else did, and the
			// administrator must know before trusting this result.
			res.Message += fmt.Sprintf("; warning: the configuration file %s changed during the update (not by izytroniq)", o.ConfigPath)
		}
		res.History = r.record(ctx, res)
		return res, err
	}

	if !o.DryRun && o.DataDir != "" && o.ConfigErr == nil {
		lock, err := acquireLock(o.DataDir)
		if err != nil {
			res.Outcome, res.Message = OutcomeStopped, err.Error()
			res.FinishedAt = now().UTC()
			res.ConfigUnchanged = configSum == fileSum(o.ConfigPath)
			res.History = "not recorded: another update is running"
			return res, err
		}
		defer lock.release()
		j, err := loadJournal(o.DataDir)
		if err != nil {
			res.Outcome, res.Message = OutcomeStopped, err.Error()+": move the file away to start afresh"
			return finish(fmt.Errorf("%w: %v", ErrStopped, err))
		}
		if j.open() {
			err := r.converge(ctx, res, j)
			return finish(err)
		}
	}

	var failed error
	var failedPhase string
	for _, p := range phases(o.DryRun) {
		if failed != nil && !p.readOnly {
			break
		}
		pr := PhaseResult{Name: p.name, StartedAt: now().UTC(), Outcome: StatusPass}
		start := time.Now()
		log.Info("phase", "phase", p.name)
		if p.readOnly && !o.DryRun {
			r.crashPoint(p.name + ":before")
		}
		err := p.run(ctx, r)
		if p.readOnly && !o.DryRun {
			r.crashPoint(p.name + ":after")
		}
		pr.Duration = time.Since(start)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			pr.Outcome, pr.Error = StatusFail, err.Error()
			if failed == nil {
				failed, failedPhase = err, p.name
			}
			log.Error("phase failed", "phase", p.name, "err", err)
		}
		res.Phases = append(res.Phases, pr)
		if err != nil && !p.readOnly {
			break
		}
	}
	res.Checks = r.checks
	if r.manifest != nil {
		res.ToVersion = r.manifest.Version
	}
	switch {
	case errors.Is(failed, ErrPreflightFailed):
		res.Outcome = OutcomeRefused
		names := make([]string, 0)
		for _, c := range res.Failed() {
			names = append(names, c.Name)
		}
		res.Message = fmt.Sprintf("preflight failed: %s; nothing was changed", strings.Join(names, ", "))
	case failed != nil && r.j == nil:
		res.Outcome, res.Message = OutcomeRefused, failed.Error()
	case failed != nil && (failedPhase == PhaseBackup || failedPhase == PhaseStage):
		r.removeStaging()
		res.Outcome = OutcomeStopped
		res.Message = fmt.Sprintf("the %s phase failed: %v; nothing in the installation was changed and %s keeps running", failedPhase, failed, r.j.FromVersion)
		failed = fmt.Errorf("%w: %s", ErrStopped, res.Message)
		r.closeJournal(OutcomeStopped)
	case failed != nil:
		failed = r.rollbackResult(ctx, res, failedPhase, failed)
	case o.DryRun:
		res.Outcome, res.Message = OutcomeDryRun, "dry run: every check passed; nothing was changed"
	default:
		res.Outcome = OutcomeSuccess
		res.Message = fmt.Sprintf("updated %s → %s; backup %s kept", r.j.FromVersion, r.j.ToVersion, r.j.BackupID)
		if len(r.notes) > 0 {
			res.Message += "; " + strings.Join(r.notes, "; ")
		}
		r.closeJournal(OutcomeSuccess)
	}
	if o.DryRun && failed != nil {
		// A dry run is recorded as one whatever it found; the message says what.
		res.Outcome = OutcomeDryRun
	}
	return finish(failed)
}

// rollbackResult rolls back after failed (in phase) and fills in res.
func (r *run) rollbackResult(ctx context.Context, res *Result, phase string, failed error) error {
	start := time.Now()
	pr := PhaseResult{Name: "rollback", StartedAt: r.now().UTC(), Outcome: StatusPass}
	r.notes = nil
	rerr := r.rollback(ctx)
	pr.Duration = time.Since(start)
	kept := r.kept()
	if rerr != nil {
		pr.Outcome, pr.Error = StatusFail, rerr.Error()
		res.Phases = append(res.Phases, pr)
		res.Outcome = OutcomeFailed
		res.Message = fmt.Sprintf("the %s phase failed: %v; the rollback failed too: %v; done so far: %s; %s; "+
			"run izytroniq update again to retry the rollback, or restore with izytroniq backup restore %s",
			phase, failed, rerr, strings.Join(r.notes, "; "), kept, r.j.BackupID)
		r.save("")
		return fmt.Errorf("%w: %s", ErrRollbackFailed, res.Message)
	}
	res.Phases = append(res.Phases, pr)
	res.Outcome = OutcomeRolledBack
	res.Message = fmt.Sprintf("the %s phase failed: %v; rolled back to %s: %s; %s", phase, failed, r.j.FromVersion, strings.Join(r.notes, "; "), kept)
	r.closeJournal(OutcomeRolledBack)
	return fmt.Errorf("%w: %s", ErrRolledBack, res.Message)
}

// kept says what a failed attempt leaves for a person to look at.
func (r *run) kept() string {
	var ks []string
	if r.j.BackupID != "" {
		ks = append(ks, fmt.Sprintf("backup %s in %s", r.j.BackupID, r.backupDir()))
	}
	if r.j.ToBinary != "" {
		ks = append(ks, "the staged version in "+r.lay.versionDir(r.j.ToVersion))
	}
	ks = append(ks, "the journal "+journalPath(r.o.DataDir), "the log in "+r.o.DataDir)
	return "kept: " + strings.Join(ks, ", ")
}

// closeJournal marks the attempt ended.
func (r *run) closeJournal(outcome string) {
	if r.j == nil {
		return
	}
	t := r.now().UTC()
	r.j.Outcome, r.j.FinishedAt = outcome, &t
	if err := r.save(""); err != nil {
		r.log.Error("close the update journal", "err", err)
	}
}

// converge ends an attempt a crash interrupted: when it had switched and the new version
// serves (or nothing is to serve), it is finished; when it changed nothing but a backup
// and a staged copy, it is closed as stopped; otherwise it is rolled back.
func (r *run) converge(ctx context.Context, res *Result, j *journal) error {
	r.j, r.lay, r.recovered = j, layout{root: j.Root}, true
	res.ID, res.FromVersion, res.ToVersion = "", j.FromVersion, j.ToVersion
	r.log.Warn("an interrupted update is in the journal; converging it", "id", j.ID, "from", j.FromVersion, "to", j.ToVersion, "phase", j.Phase)
	if _, err := r.openDB(ctx); err != nil {
		r.log.Warn("database not reachable while converging", "err", err)
	}
	start := time.Now()
	pr := PhaseResult{Name: "converge", StartedAt: r.now().UTC(), Outcome: StatusPass}
	defer func() {
		pr.Duration = time.Since(start)
		res.Phases = append(res.Phases, pr)
	}()
	prefix := fmt.Sprintf("an interrupted update %s → %s (stopped in phase %s)", j.FromVersion, j.ToVersion, j.Phase)
	if !j.MigrateStarted && !j.PointerSwitched {
		r.removeStaging()
		res.Outcome = OutcomeStopped
		res.Message = prefix + " had changed nothing in the installation; it was closed and " + j.FromVersion + " keeps running; run izytroniq update again to update"
		r.closeJournal(OutcomeStopped)
		return nil
	}
	if j.Phase == PhaseVerify {
		// The switch finished: the new version should serve.
		if !j.ServerRunning {
			res.Outcome, res.Message = OutcomeSuccess, prefix+" was finished: "+j.ToVersion+" is installed; no server runs"
			r.closeJournal(OutcomeSuccess)
			return nil
		}
		if err := r.waitReady(ctx, j.ToVersion, j.ToSchema); err == nil {
			res.Outcome = OutcomeSuccess
			res.Message = fmt.Sprintf("%s was finished: %s serves; backup %s kept", prefix, j.ToVersion, j.BackupID)
			r.closeJournal(OutcomeSuccess)
			return nil
		} else {
			r.log.Warn("the new version does not serve; rolling back", "err", err)
		}
	}
	err := r.rollbackResult(ctx, res, j.Phase, errors.New("interrupted"))
	res.Message = prefix + ": " + res.Message
	if err != nil && errors.Is(err, ErrRolledBack) {
		// The installation converged; the rerun itself did its job.
		return nil
	}
	return err
}

// record writes the attempt to the update history, and says whether it did.
func (r *run) record(ctx context.Context, res *Result) string {
	if r.db == nil && r.j != nil {
		r.openDB(ctx) // a restore closed it
	}
	switch {
	case r.db == nil:
		return "not recorded: the database is not reachable"
	case r.lockHeld:
		return "not recorded: another process holds the database's migration lock"
	}
	ok, err := r.db.HasUpdateHistory(ctx)
	if err != nil {
		return "not recorded: " + err.Error()
	}
	if !ok {
		return fmt.Sprintf("not recorded: the database schema (version %d) predates the update history", r.dbSchema)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	phases := make([]sqldb.UpdatePhase, len(res.Phases))
	for i, p := range res.Phases {
		phases[i] = sqldb.UpdatePhase{Name: p.Name, StartedAt: p.StartedAt, DurationMS: p.Duration.Milliseconds(), Outcome: p.Outcome, Error: p.Error}
	}
	fin := res.FinishedAt
	rec := &sqldb.UpdateRecord{StartedAt: res.StartedAt, FinishedAt: &fin, FromVersion: res.FromVersion, ToVersion: res.ToVersion,
		Outcome: res.Outcome, Phases: phases, Message: res.Message}
	if err := r.db.CreateUpdate(ctx, rec); err != nil {
		return "not recorded: " + err.Error()
	}
	res.ID = rec.ID
	return "recorded as " + rec.ID
}

// fileSum returns the SHA-256 of the file at path, or "" when there is none.
func fileSum(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return string(h.Sum(nil))
}
