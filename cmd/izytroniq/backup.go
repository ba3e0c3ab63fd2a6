package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/backup"
)

// BackupCommand makes, lists and restores backups of the database, the configuration
// file and the service registration.
type BackupCommand struct {
	*env
}

const backupUsage = `Usage:
  izytroniq backup create  [--config FILE] [--db DSN] [--dir DIR] [--method pg_dump|logical] [--extra FILE]... [--json]
  izytroniq backup list    [--config FILE] [--dir DIR] [--verify] [--json]
  izytroniq backup restore ID|latest [--config FILE] [--db DSN] [--dir DIR] [--config-too] [--no-safety-backup] [--json]

create   backs up the database while the server runs (SQLite: VACUUM INTO; PostgreSQL:
         pg_dump when installed and not older than the server, else a built-in export),
         with a byte-for-byte copy of the configuration file and any --extra files
list     lists the backups: complete, partial (interrupted) or, with --verify, corrupt
restore  checks every checksum, backs up the current state, then puts the database back;
         the configuration file only with --config-too. Stop the server first: for
         SQLite, restore refuses while another process has the database open.

Backups live in DATA_DIR/backups unless --dir names another directory.
`

// Run runs `izytroniq backup`.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, backupUsage)
		if len(args) == 0 {
			return usageErrorf("backup needs a subcommand: create, list or restore")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("backup "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, backupUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, sub != "list")
	dir := fs.String("dir", "", "backups `directory` (default DATA_DIR/backups)")
	asJSON := fs.Bool("json", false, "print JSON")
	var run func(context.Context, *Config, string, bool) error
	var id string
	switch sub {
	case "create":
		cr := &backupCreate{env: c.env}
		fs.StringVar(&cr.method, "method", "", "PostgreSQL `method`: pg_dump or logical (default: pg_dump when usable)")
		fs.Var(&cr.extra, "extra", "also back up `file`, e.g. the service unit (repeatable)")
		run = cr.run
	case "list":
		l := &backupList{env: c.env}
		fs.BoolVar(&l.verify, "verify", false, "check every file's SHA-256")
		run = l.run
	case "restore":
		r := &backupRestore{env: c.env}
		fs.BoolVar(&r.configToo, "config-too", false, "restore the configuration file as well")
		fs.BoolVar(&r.noSafety, "no-safety-backup", false, "do not back up the current state first")
		run = func(ctx context.Context, cfg *Config, dir string, asJSON bool) error {
			r.id = id
			return r.run(ctx, cfg, dir, asJSON)
		}
		// The ID may come before or after the flags.
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			id, rest = rest[0], rest[1:]
		} else if n := len(rest); n > 0 && !strings.HasPrefix(rest[n-1], "-") && !isValueFlag(rest, n-1) {
			id, rest = rest[n-1], rest[:n-1]
		}
	default:
		fmt.Fprint(c.stderr, backupUsage)
		return usageErrorf("unknown backup subcommand %q", sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if sub == "restore" && id == "" {
		fs.Usage()
		return usageErrorf("backup restore needs the ID of a backup (see 'izytroniq backup list') or latest")
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join(cfg.DataDir, "backups")
	} else {
		*dir = absPath(*dir)
	}
	return run(ctx, cfg, *dir, *asJSON)
}

// isValueFlag reports whether args[i] is the value of the flag before it
// ("--dir X"), not a positional argument.
func isValueFlag(args []string, i int) bool {
	if i == 0 {
		return false
	}
	prev := strings.TrimLeft(args[i-1], "-")
	if strings.Contains(prev, "=") {
		return false
	}
	switch prev {
	case "config", "db", "dir":
		return true
	}
	return false
}

// progressLogger logs to the log file and shows progress lines on w (standard error
// when standard output carries JSON).
func (c *BackupCommand) progressLogger(cfg *Config, asJSON bool) (*slog.Logger, func() error, error) {
	logger, closeLog, err := openLog(cfg, nil, false)
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = c.stdout
	if asJSON {
		w = c.stderr
	}
	return slog.New(slog.NewMultiHandler(logger.Handler(), newProgressHandler(w))).With("component", "backup"), closeLog, nil
}

type backupCreate struct {
	*env
	method string
	extra  stringList
}

func (c *backupCreate) run(ctx context.Context, cfg *Config, dir string, asJSON bool) error {
	logger, closeLog, err := (&BackupCommand{c.env}).progressLogger(cfg, asJSON)
	if err != nil {
		return err
	}
	defer closeLog()
	db, dsn, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	extra := make([]string, len(c.extra))
	for i, p := range c.extra {
		extra[i] = absPath(p)
	}
	if !asJSON {
		fmt.Fprintf(c.stdout, "Backing up %s to %s…\n", redactDSN(dsn), dir)
	}
	m, err := backup.Create(ctx, db, backup.Options{
		Dir: dir, DSN: dsn, ProductVersion: version, ConfigPath: cfg.Path, Extra: extra,
		Method: c.method, Logger: logger,
	})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, m)
	}
	fmt.Fprintf(c.stdout, "Done: backup %s (%s, %d file(s), %s).\n", m.ID, m.Method, len(m.Files), sizeText(m.Size()))
	if cfg.Path == "" {
		fmt.Fprintln(c.stdout, "No configuration file was in use, so none was backed up.")
	}
	return nil
}

type backupList struct {
	*env
	verify bool
}

func (c *backupList) run(ctx context.Context, cfg *Config, dir string, asJSON bool) error {
	es, err := backup.List(dir, c.verify)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, es)
	}
	if len(es) == 0 {
		fmt.Fprintf(c.stdout, "No backups in %s.\n", dir)
		return nil
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "ID\tWHEN\tPRODUCT\tSCHEMA\tDIALECT\tSIZE\tSTATE")
	for _, e := range es {
		state := e.State
		if e.Verified && e.State == backup.StateComplete {
			state += " (verified)"
		}
		if m := e.Manifest; m != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.ID, m.CreatedAt.Local().Format(time.DateTime),
				orDash(m.ProductVersion), m.SchemaVersion, m.Dialect, sizeText(m.Size()), state)
		} else {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\n", e.ID, state)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range es {
		if e.Problem != "" {
			fmt.Fprintf(c.stdout, "%s: %s\n", e.ID, e.Problem)
		}
	}
	return nil
}

type backupRestore struct {
	*env
	id        string
	configToo bool
	noSafety  bool
}

func (c *backupRestore) run(ctx context.Context, cfg *Config, dir string, asJSON bool) error {
	logger, closeLog, err := (&BackupCommand{c.env}).progressLogger(cfg, asJSON)
	if err != nil {
		return err
	}
	defer closeLog()
	dsn, err := cfg.DSN()
	if err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintf(c.stdout, "Restoring backup %s into %s…\n", c.id, redactDSN(dsn))
	}
	rep, err := backup.Restore(ctx, backup.RestoreOptions{
		Dir: dir, ID: c.id, DSN: dsn, ConfigPath: cfg.Path, ConfigToo: c.configToo,
		NoSafetyBackup: c.noSafety, ProductVersion: version, Logger: logger,
	})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, rep)
	}
	fmt.Fprintf(c.stdout, "Done: restored backup %s (schema %d) in %s.\n", rep.ID, rep.SchemaVersion, (time.Duration(rep.Millis) * time.Millisecond).String())
	for _, a := range rep.Actions {
		fmt.Fprintf(c.stdout, "  - %s\n", a)
	}
	if rep.SafetyBackup != "" {
		fmt.Fprintf(c.stdout, "To undo: izytroniq backup restore %s\n", rep.SafetyBackup)
	}
	return nil
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
