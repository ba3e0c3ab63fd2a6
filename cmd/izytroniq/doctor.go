package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/backup"
	"github.com/izytroniq/izytroniq/internal/doctor"
	"github.com/izytroniq/izytroniq/internal/service"
)

// DoctorCommand diagnoses the vendor manual's troubleshooting cases and repairs what is
// safe to repair.
type DoctorCommand struct {
	*env
	// manager replaces the platform's service manager (tests).
	manager service.Manager
}

// DoctorReport is the output of `izytroniq doctor --json`.
type DoctorReport struct {
	OK       bool            `json:"ok"`
	Fix      bool            `json:"fix"`
	Findings []doctor.Result `json:"findings"`
}

// errProblemsFound makes the exit status non-zero when a problem remains.
var errProblemsFound = errors.New("doctor found problems (see above)")

// Run runs `izytroniq doctor`.
func (c *DoctorCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "doctor", "doctor [--config FILE] [--fix] [--json] [--url URL]", `
Diagnose the troubleshooting cases of the vendor manual and explain each in plain words:
the service registration is missing (the "vanished app pool"); the database setting is
missing or empty (the missing registry entry); the configuration, data or log directory
is not writable (the "could not write value" dialog); the database refuses the login (the
"untrusted domain" error), naming the identity used; this binary, the database and a
running server are at different versions.

--fix repairs what is safe: it registers a vanished service again with the recorded
account, and restores the [database] section of the configuration from the newest backup
whose settings work (the previous file is kept as .bak). It says what it changed. doctor
writes the configuration only with --fix. Exits with status 1 while a problem remains.`)
	var cf configFlags
	cf.register(fs, false)
	fix := fs.Bool("fix", false, "repair what is safe to repair")
	asJSON := fs.Bool("json", false, "print JSON")
	url := fs.String("url", "", "a running server's base `URL` for the version check (default from listen and tls in the configuration)")
	name := fs.String("name", "", "service `name` (default: the recorded one, else "+service.DefaultName+")")
	unitDir := fs.String("unit-dir", "", "look for the systemd unit in `dir` instead of "+service.DefaultUnitDir)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(c.env, &cf)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		rs := []doctor.Result{{Name: "config", Status: doctor.StatusFail, Detail: err.Error(),
			Fix: "fix the configuration file; doctor needs it to look further"}}
		return c.print(rs, *fix, *asJSON)
	}
	dsn, dsnErr := cfg.DSN()
	base := *url
	if base == "" {
		base = baseURL(cfg)
	}
	backups, err := listBackups(filepath.Join(cfg.DataDir, "backups"))
	if err != nil {
		fmt.Fprintf(c.stderr, "izytroniq: warning: %v\n", err)
	}
	dirs := []doctor.Dir{
		{What: "data directory", Path: cfg.DataDir},
		{What: "log directory", Path: filepath.Join(cfg.DataDir, "logs")},
	}
	if cfg.Path != "" {
		dirs = append([]doctor.Dir{{What: "config directory", Path: filepath.Dir(cfg.Path)}}, dirs...)
	}
	bin, _ := thisBinary()
	rs := doctor.Diagnose(ctx, doctor.Options{
		ConfigPath:      cfg.Path,
		Database:        doctor.DatabaseSettings{DSN: cfg.Database.DSN, DSNFile: cfg.Database.DSNFile},
		DSN:             dsn,
		DSNErr:          dsnErr,
		SQLiteFile:      filepath.Join(cfg.DataDir, SQLiteFileName),
		Connect:         connectDB,
		Dirs:            dirs,
		Service:         (&CheckCommand{manager: c.manager}).serviceManager(*unitDir),
		ServiceName:     *name,
		DataDir:         cfg.DataDir,
		ThisBinary:      bin,
		Backups:         backups,
		ProductVersion:  version,
		ProtocolVersion: izy.ProtocolVersion,
		BaseURL:         strings.TrimRight(base, "/"),
		Timeout:         2 * time.Second,
		Fix:             *fix,
	})
	return c.print(rs, *fix, *asJSON)
}

func (c *DoctorCommand) print(rs []doctor.Result, fix, asJSON bool) error {
	failed := doctor.Failed(rs)
	if asJSON {
		if err := writeJSON(c.stdout, DoctorReport{OK: !failed, Fix: fix, Findings: rs}); err != nil {
			return err
		}
	} else {
		if err := printResults(c.stdout, rs); err != nil {
			return err
		}
		if failed && !fix && slices.ContainsFunc(rs, func(r doctor.Result) bool { return r.Fixable && r.Status == doctor.StatusFail }) {
			fmt.Fprintln(c.stdout, "\nRun izytroniq doctor --fix to repair what can be repaired.")
		}
	}
	if failed {
		return errProblemsFound
	}
	return nil
}

// listBackups returns the complete backups in dir, newest first, with their
// configuration copies.
func listBackups(dir string) ([]doctor.Backup, error) {
	es, err := backup.List(dir, false)
	if err != nil {
		return nil, err
	}
	var out []doctor.Backup
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.State != backup.StateComplete || e.Manifest == nil {
			continue
		}
		b := doctor.Backup{ID: e.ID, CreatedAt: e.Manifest.CreatedAt, Dialect: e.Manifest.Dialect}
		if f := e.Manifest.File(backup.KindConfig); f != nil {
			b.ConfigFile = filepath.Join(e.Dir, filepath.FromSlash(f.Path))
		}
		out = append(out, b)
	}
	return out, nil
}
