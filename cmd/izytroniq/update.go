package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/handoff"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/update"
)

// UpdateCommand updates the installation to a signed release package, and shows the
// update history (see internal/update for the phases).
type UpdateCommand struct {
	*env
	// Tests replace the platform's service manager, the free-space probe and the wait
	// for the migration lock.
	manager   service.Manager
	freeSpace func(string) (uint64, error)
	lockWait  time.Duration
}

const updateUsage = `Usage:
  izytroniq update --package FILE [--dry-run] [--config FILE] [--db DSN] [--install-dir DIR] [--json]
  izytroniq update history [--config FILE] [--db DSN] [--limit N] [--json]

update    updates the installation in the seven phases of SPEC §6, with progress on
          standard error and a timing table at the end:
            1 verify-package  signature by a key in update.trusted_keys, version path
            2 preflight       read-only: configuration, database login and owner rights,
                              migration lock, migrations, schema versions, disk space,
                              write permission on the install, data and backup
                              directories, TLS certificate, service registration,
                              outstanding checkouts; each check prints pass, info, warn
                              or fail with what to do about it; any fail exits 1
            3 backup          database, configuration and service registration
            4 stage           INSTALL/versions/VERSION/, checked against the manifest
            5 migrate         the new binary's db upgrade, under the migration lock
            6 switch          INSTALL/current names the new version; the service is
                              pointed at it; a running server hands its socket over
                              (Linux) or the service restarts (Windows)
            7 verify          /readyz answers with the new version and schema
          When a phase after the backup fails, the update rolls back on its own (binary,
          service, and the database from the backup when a contract migration ran) and
          says what it kept. Another update running at the same time stops this one.
          Running update again after a crash finishes or rolls back the interrupted
          attempt (journal: DATA_DIR/update/journal.json).
          --dry-run runs only phases 1 and 2 and changes nothing.
history   lists every update attempt recorded in the database, dry runs included.
`

// Run runs `izytroniq update`.
func (c *UpdateCommand) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(c.stderr, updateUsage)
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "history" {
		return c.history(ctx, args[1:])
	}
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, updateUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, true)
	pkg := fs.String("package", "", "the signed release package `file` (izytroniq-VERSION.tar.gz)")
	dryRun := fs.Bool("dry-run", false, "only verify and run the read-only preflight")
	installDir := fs.String("install-dir", "", "the `directory` the server binary is installed in (default: this binary's)")
	asJSON := fs.Bool("json", false, "print JSON")
	verifyTimeout := fs.Duration("verify-timeout", 0, "how long the new server may take to be ready (default 60s)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pkg == "" {
		fs.Usage()
		return usageErrorf("update needs --package FILE: a release package from izytroniq release build")
	}

	o := update.Options{
		PackagePath:    absPath(*pkg),
		DryRun:         *dryRun,
		CurrentVersion: version,
		InstallDir:     absPath(*installDir),
		ServiceManager: c.manager,
		FreeSpace:      c.freeSpace,
		LockWait:       c.lockWait,
		// The test knob that kills this process at one point of the update (kill -9),
		// to prove that running update again converges.
		CrashAt: c.getenv("IZYTRONIQ_UPDATE_CRASH_AT"),
	}
	if *verifyTimeout > 0 {
		o.VerifyTimeout = *verifyTimeout
	}
	logger := slog.New(slog.DiscardHandler)
	cfg, err := loadConfig(c.env, &cf)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		o.ConfigErr = err
		if cfg != nil {
			o.ConfigPath = cfg.Path
		}
	} else {
		o.ConfigPath, o.DataDir, o.TLSCert, o.TLSKey = cfg.Path, cfg.DataDir, cfg.TLS.Cert, cfg.TLS.Key
		o.TrustedKeys = cfg.Update.TrustedKeys
		o.ServerURL = baseURL(cfg)
		o.Switcher = &handoffSwitcher{runDir: handoff.RunDir(cfg.DataDir), config: cfg.Path, dataDir: cfg.DataDir}
		if o.DSN, err = cfg.DSN(); err != nil {
			o.ConfigErr = err
		}
		// An unwritable log is one of the things the preflight reports, not a reason to
		// skip it.
		if fileLog, closeLog, err := openLog(cfg, nil, false); err != nil {
			fmt.Fprintf(c.stderr, "izytroniq: warning: no log file: %v\n", err)
		} else {
			defer closeLog()
			logger = fileLog
		}
	}
	// Progress goes to standard error, so standard output holds only the report.
	logger = slog.New(slog.NewMultiHandler(logger.Handler(), newProgressHandler(c.stderr))).With("component", "update")
	o.Logger = logger

	res, runErr := update.Run(ctx, o)
	if res == nil {
		return runErr
	}
	if *asJSON {
		if err := writeJSON(c.stdout, res); err != nil {
			return err
		}
	} else if err := printUpdate(c.stdout, res, *pkg); err != nil {
		return err
	}
	switch {
	case errors.Is(runErr, update.ErrPreflightFailed):
		n := len(res.Failed())
		return fmt.Errorf("preflight failed: %d check(s) failed; nothing was changed", n)
	case errors.Is(runErr, update.ErrRolledBack):
		return errors.New("the update failed and was rolled back; see Outcome above")
	case runErr != nil:
		return runErr
	}
	return nil
}

// init arms the crash knob inside migrations: IZYTRONIQ_UPDATE_CRASH_AT=migration:N
// kills the process (the `db upgrade` the update runs) right after migration N's
// in-progress marker was committed, as a power cut would.
func init() {
	at, ok := strings.CutPrefix(os.Getenv("IZYTRONIQ_UPDATE_CRASH_AT"), "migration:")
	if !ok {
		return
	}
	sqldb.MigrationHook = func(v int) {
		if strconv.Itoa(v) == at {
			p, _ := os.FindProcess(os.Getpid())
			p.Kill()
			select {}
		}
	}
}

// handoffSwitcher reaches the server serving from the data directory through
// internal/handoff: its pidfile, and the hand-over of its listening socket.
type handoffSwitcher struct{ runDir, config, dataDir string }

var _ update.Switcher = (*handoffSwitcher)(nil)

func (h *handoffSwitcher) Running() (int, error) {
	pid, err := handoff.Running(h.runDir)
	if errors.Is(err, handoff.ErrNotRunning) || errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return pid, err
}

func (h *handoffSwitcher) Handover(ctx context.Context, binary string, timeout time.Duration) (int, error) {
	pid, err := handoff.Request(ctx, h.runDir, binary, timeout)
	if errors.Is(err, handoff.ErrUnsupported) {
		return 0, fmt.Errorf("%w: %v", update.ErrHandoverUnsupported, err)
	}
	return pid, err
}

// Stop asks the server to stop (SIGTERM; on Windows, ends it) and waits until it has.
func (h *handoffSwitcher) Stop(ctx context.Context) error {
	pid, err := h.Running()
	if err != nil || pid == 0 {
		return err
	}
	if err := stopProcess(pid); err != nil {
		return fmt.Errorf("stop server process %d: %w", pid, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		// Gone, not only its pidfile: it may still be closing the database.
		if !processAlive(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("server process %d did not stop within 60 s", pid)
}

// Start starts binary serve --config … in the background, detached from this process,
// its output appended to DATA_DIR/update/server.log, and waits until it serves.
func (h *handoffSwitcher) Start(ctx context.Context, binary string) error {
	args := []string{"serve"}
	if h.config != "" {
		args = append(args, "--config", h.config)
	}
	logPath := filepath.Join(h.dataDir, "update", "server.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if pid, _ := h.Running(); pid == cmd.Process.Pid {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("%s serve ended at once (%v); see %s", binary, err, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s serve did not start within 60 s; see %s", binary, logPath)
}

// printUpdate prints the checks and phases for people.
func printUpdate(w io.Writer, res *update.Result, pkg string) error {
	kind := "update"
	if res.DryRun {
		kind = "dry run"
	}
	to := res.ToVersion
	if to == "" {
		to = "?"
	}
	fmt.Fprintf(w, "Update %s → %s from %s (%s)\n\n", res.FromVersion, to, filepath.Base(pkg), kind)
	tw := newTable(w)
	fmt.Fprintln(tw, "STATUS\tCHECK\tTIME\tDETAIL")
	for _, ch := range res.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(ch.Status), ch.Name, durationText(ch.Duration), ch.Detail)
		for _, it := range ch.Items {
			fmt.Fprintf(tw, "\t\t\t  - %s\n", it)
		}
		if ch.Fix != "" && ch.Status != update.StatusPass {
			fmt.Fprintf(tw, "\t\t\t  → %s\n", ch.Fix)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var ps []string
	for _, p := range res.Phases {
		ps = append(ps, fmt.Sprintf("%s %s (%s)", p.Name, p.Outcome, durationText(p.Duration)))
	}
	fmt.Fprintf(w, "\nPhases: %s; total %s\n", strings.Join(ps, ", "), durationText(res.FinishedAt.Sub(res.StartedAt)))
	if !res.DryRun {
		// The timing report.
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "PHASE\tOUTCOME\tTIME\tERROR")
		for _, p := range res.Phases {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Outcome, durationText(p.Duration), p.Error)
		}
		fmt.Fprintf(tw, "total\t\t%s\t\n", durationText(res.FinishedAt.Sub(res.StartedAt)))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Outcome: %s: %s\n", res.Outcome, res.Message)
	if !res.ConfigUnchanged {
		fmt.Fprintln(w, "Warning: the configuration file changed while the update ran.")
	}
	fmt.Fprintf(w, "History: %s\n", res.History)
	return nil
}

func durationText(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// history runs `izytroniq update history`.
func (c *UpdateCommand) history(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("update history", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, updateUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, true)
	limit := fs.Int("limit", 0, "show at most `N` entries, newest first (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	dsn, err := cfg.DSN()
	if err != nil {
		return err
	}
	if !isPostgresDSN(dsn) {
		if _, err := os.Stat(sqldb.SQLitePath(dsn)); err != nil {
			return fmt.Errorf("database %s: %w (check database.dsn and data_dir)", dsn, err)
		}
	}
	logger, closeLog, err := openLog(cfg, nil, false)
	if err != nil {
		return err
	}
	defer closeLog()
	db, _, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	ok, err := db.HasUpdateHistory(ctx)
	if err != nil {
		return err
	}
	if !ok {
		v, _ := db.SchemaVersion(ctx)
		return fmt.Errorf("the database (schema version %d) has no update history yet: run izytroniq db upgrade", v)
	}
	items, err := db.ListUpdates(ctx, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, items)
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "STARTED\tFROM\tTO\tOUTCOME\tTOOK\tPHASES\tMESSAGE")
	for _, u := range items {
		took := "(unfinished)"
		if u.FinishedAt != nil {
			took = durationText(u.FinishedAt.Sub(u.StartedAt))
		}
		var ps []string
		for _, p := range u.Phases {
			ps = append(ps, fmt.Sprintf("%s:%s:%dms", p.Name, p.Outcome, p.DurationMS))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.StartedAt.Local().Format("2006-01-02 15:04:05"), u.FromVersion,
			orDash(u.ToVersion), u.Outcome, took, strings.Join(ps, " "), u.Message)
	}
	if len(items) == 0 {
		fmt.Fprintln(tw, "(no updates recorded)")
	}
	return tw.Flush()
}
