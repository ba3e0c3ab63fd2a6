// Package update updates an installation to a signed release package in the phases of
// SPEC §6: verify the package, preflight (both read-only), back up, stage, migrate,
// switch, verify and roll back. This build implements the two read-only phases and the
// update history; the phases that change anything are not here yet, and Run says so
// instead of pretending.
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
)

// Errors Run returns; test with errors.Is.
var (
	// ErrPreflightFailed: at least one check failed; see Result.Checks.
	ErrPreflightFailed = errors.New("preflight failed")
	// ErrNotImplemented: the phases after the preflight do not exist in this build.
	ErrNotImplemented = errors.New("the update phases after preflight are not implemented in this build; nothing was changed")
)

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
}

// PhaseResult is how one phase went.
type PhaseResult struct {
	Name      string        `json:"name"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	Outcome   string        `json:"outcome"` // pass, fail, not-implemented
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

// phases lists what an update runs. The phases that change things slot in after the
// preflight; until they exist, Run stops there with ErrNotImplemented.
func phases(dryRun bool) []phase {
	ps := []phase{
		{PhaseVerifyPackage, true, verifyPackage},
		{PhasePreflight, true, preflight},
	}
	if dryRun {
		return ps
	}
	return append(ps, phase{PhaseBackup, false, func(context.Context, *run) error { return ErrNotImplemented }})
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
}

// Run runs the update's phases. With o.DryRun only the read-only phases run. The
// attempt is recorded in the database's update history when the database is reachable
// and has the table. The error is ErrPreflightFailed when a check failed and
// ErrNotImplemented when the preflight passed but this build cannot go on.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.LockWait <= 0 {
		o.LockWait = 2 * time.Second
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

	var failed error
	for _, p := range phases(o.DryRun) {
		if failed != nil && !p.readOnly {
			break
		}
		pr := PhaseResult{Name: p.name, StartedAt: now().UTC(), Outcome: StatusPass}
		start := time.Now()
		log.Info("phase", "phase", p.name)
		err := p.run(ctx, r)
		pr.Duration = time.Since(start)
		if err != nil {
			pr.Outcome, pr.Error = StatusFail, err.Error()
			if errors.Is(err, ErrNotImplemented) {
				pr.Outcome = "not-implemented"
			}
			if failed == nil {
				failed = err
			}
		}
		res.Phases = append(res.Phases, pr)
		if ctx.Err() != nil {
			failed = ctx.Err()
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
	case errors.Is(failed, ErrNotImplemented):
		res.Outcome, res.Message = OutcomeStopped, ErrNotImplemented.Error()
	case failed != nil:
		res.Outcome, res.Message = OutcomeRefused, failed.Error()
	case o.DryRun:
		res.Outcome, res.Message = OutcomeDryRun, "dry run: every check passed; nothing was changed"
	default:
		res.Outcome = OutcomeSuccess
	}
	if o.DryRun && failed != nil {
		// A dry run is recorded as one whatever it found; the message says what.
		res.Outcome = OutcomeDryRun
	}
	res.FinishedAt = now().UTC()
	res.ConfigUnchanged = configSum == fileSum(o.ConfigPath)
	if !res.ConfigUnchanged {
		// No phase writes the configuration; if it changed, someone else did, and the
		// administrator must know before trusting this result.
		res.Message += fmt.Sprintf("; warning: the configuration file %s changed during the update (not by izytroniq)", o.ConfigPath)
	}
	res.History = r.record(ctx, res)
	return res, failed
}

// record writes the attempt to the update history, and says whether it did.
func (r *run) record(ctx context.Context, res *Result) string {
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
