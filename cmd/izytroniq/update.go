package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/update"
)

// UpdateCommand updates the installation to a signed release package, and shows the
// update history. This build runs the read-only phases only (see internal/update).
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

update    verifies the package (signature by a key in update.trusted_keys, version path)
          and runs the read-only preflight: configuration, database login and owner
          rights, migration lock, migrations, schema versions, disk space, write
          permission on the install, data and backup directories, TLS certificate,
          service registration and outstanding checkouts. Each check prints pass, info,
          warn or fail with what to do about it; any fail exits 1.
          --dry-run stops there. Without it this build stops there too, with an error:
          backup, staging, migration, switch, verification and rollback are not
          implemented yet, and nothing is changed.
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
	case runErr != nil:
		return runErr
	}
	return nil
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
	cfg, err := loadConfig(c.env, &cf)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
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
