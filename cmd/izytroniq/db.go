package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// DBCommand shows and upgrades the database schema.
type DBCommand struct {
	*env
}

const dbUsage = `Usage:
  izytroniq db version [--config FILE] [--db DSN] [--json]
  izytroniq db status  [--config FILE] [--db DSN] [--json]
  izytroniq db upgrade [--config FILE] [--db DSN] [--json]

version  prints the schema and product version stored in database_info
status   lists the migrations, applied and pending
upgrade  applies the pending migrations under the migration lock

The database is the configured one; --db overrides it.
`

// Run runs `izytroniq db`.
func (c *DBCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, dbUsage)
		if len(args) == 0 {
			return usageErrorf("db needs a subcommand: version, status or upgrade")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	var run func(context.Context, *sqldb.DB, string, bool) error
	switch sub {
	case "version":
		run = c.version
	case "status":
		run = c.status
	case "upgrade":
		run = c.upgrade
	default:
		fmt.Fprint(c.stderr, dbUsage)
		return usageErrorf("unknown db subcommand %q", sub)
	}
	fs := flag.NewFlagSet("db "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, dbUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, true)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	logger, closeLog, err := openLog(cfg, nil, false)
	if err != nil {
		return err
	}
	defer closeLog()
	if sub == "upgrade" && !*asJSON {
		// Progress lines for the person at the terminal, as well as the log file.
		logger = slog.New(slog.NewMultiHandler(logger.Handler(), newProgressHandler(c.stdout)))
	}
	db, dsn, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	return run(ctx, db, dsn, *asJSON)
}

// DBVersion is the output of `izytroniq db version --json`.
type DBVersion struct {
	SchemaVersion       int    `json:"schema_version"`
	ProductVersion      string `json:"product_version"`
	InstanceID          string `json:"instance_id"`
	BinaryVersion       string `json:"binary_version"`
	BinarySchemaVersion int    `json:"binary_schema_version"`
	Database            string `json:"database"`
	UpgradeNeeded       bool   `json:"upgrade_needed"`
	NewerThanThisBinary bool   `json:"newer_than_this_binary"`
}

func (c *DBCommand) version(ctx context.Context, db *sqldb.DB, dsn string, asJSON bool) error {
	info, err := db.Info(ctx)
	if err != nil {
		return fmt.Errorf("read database_info: %w", err)
	}
	v := DBVersion{
		ProductVersion:      info["product_version"],
		InstanceID:          info["instance_id"],
		BinaryVersion:       version,
		BinarySchemaVersion: sqldb.LatestSchemaVersion(),
		Database:            redactDSN(dsn),
	}
	if s := info["schema_version"]; s != "" {
		if v.SchemaVersion, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("database_info.schema_version is %q, not a number", s)
		}
	}
	v.UpgradeNeeded = v.SchemaVersion < v.BinarySchemaVersion
	v.NewerThanThisBinary = v.SchemaVersion > v.BinarySchemaVersion
	if asJSON {
		return writeJSON(c.stdout, v)
	}
	tw := newTable(c.stdout)
	fmt.Fprintf(tw, "database\t%s\n", v.Database)
	fmt.Fprintf(tw, "schema_version\t%d\n", v.SchemaVersion)
	fmt.Fprintf(tw, "product_version\t%s\n", orDash(v.ProductVersion))
	fmt.Fprintf(tw, "instance_id\t%s\n", orDash(v.InstanceID))
	fmt.Fprintf(tw, "this binary\tizytroniq %s, schema %d\n", v.BinaryVersion, v.BinarySchemaVersion)
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case v.UpgradeNeeded:
		fmt.Fprintln(c.stdout, "The schema is older than this binary needs: run 'izytroniq db upgrade'.")
	case v.NewerThanThisBinary:
		fmt.Fprintln(c.stdout, "The schema is newer than this binary knows: run the newer izytroniq.")
	}
	return nil
}

func (c *DBCommand) status(ctx context.Context, db *sqldb.DB, dsn string, asJSON bool) error {
	ms, err := db.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	if asJSON {
		if ms == nil {
			ms = []sqldb.MigrationStatus{}
		}
		return writeJSON(c.stdout, ms)
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	pending := 0
	for _, m := range ms {
		state, at := "pending", "-"
		if m.Applied {
			state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		} else {
			pending++
		}
		switch {
		case m.Unknown:
			state += " (unknown to this binary)"
		case m.Modified:
			state += " (modified since applied)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if i, err := db.InterruptedMigration(ctx); err == nil && i != nil {
		// The in-progress marker outlived its step (docs/migrations.md).
		fmt.Fprintf(c.stdout, "Interrupted: %s.\n", i.Error())
	}
	if pending > 0 {
		fmt.Fprintf(c.stdout, "%d pending: run 'izytroniq db upgrade'.\n", pending)
	} else {
		fmt.Fprintln(c.stdout, "Up to date.")
	}
	return nil
}

// DBUpgrade is the output of `izytroniq db upgrade --json`.
type DBUpgrade struct {
	From    int   `json:"from"`
	To      int   `json:"to"`
	Applied []int `json:"applied"`
	Millis  int64 `json:"millis"`
}

func (c *DBCommand) upgrade(ctx context.Context, db *sqldb.DB, dsn string, asJSON bool) error {
	from, want, err := db.SchemaVersions(ctx)
	if err != nil {
		return err
	}
	if !asJSON {
		switch {
		case from < want:
			fmt.Fprintf(c.stdout, "Upgrading %s from schema %d to %d…\n", redactDSN(dsn), from, want)
		case from == want:
			fmt.Fprintf(c.stdout, "Checking %s (schema %d)…\n", redactDSN(dsn), from)
		}
	}
	start := time.Now()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	to, _, err := db.SchemaVersions(ctx)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if asJSON {
		if applied == nil {
			applied = []int{}
		}
		return writeJSON(c.stdout, DBUpgrade{From: from, To: to, Applied: applied, Millis: took.Milliseconds()})
	}
	if len(applied) == 0 {
		fmt.Fprintf(c.stdout, "Schema is at version %d; nothing to do.\n", to)
		return nil
	}
	fmt.Fprintf(c.stdout, "Done: schema %d → %d, %d migration(s) in %s.\n", from, to, len(applied), took.Round(time.Millisecond))
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
