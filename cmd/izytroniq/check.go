package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/doctor"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// CheckCommand runs the manual's checks after an update, and more.
type CheckCommand struct {
	*env
	// manager replaces the platform's service manager (tests).
	manager service.Manager
}

// CheckReport is the output of `izytroniq check --json`.
type CheckReport struct {
	OK     bool            `json:"ok"`
	Checks []doctor.Result `json:"checks"`
}

// errChecksFailed makes the exit status non-zero after the table has been printed.
var errChecksFailed = errors.New("at least one check failed")

// Run runs `izytroniq check`.
func (c *CheckCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "check", "check [--config FILE] [--json] [--url URL]", `
Check this installation as the vendor manual's post-update checks do, and more: the
configuration parses; the database answers and database_info holds the schema and product
version this binary expects; the service is registered and running; no error was logged
since the server's last start; /livez, /readyz and the test pages /syncservice, /bits and
/izytron.iq/handshakeremoteservice.svc answer 200; the TLS certificate is valid for at
least 14 more days; the licence. Exits with status 1 when any check fails.`)
	var cf configFlags
	cf.register(fs, false)
	asJSON := fs.Bool("json", false, "print JSON")
	url := fs.String("url", "", "the running server's base `URL` (default from listen and tls in the configuration)")
	name := fs.String("name", service.DefaultName, "service `name`")
	unitDir := fs.String("unit-dir", "", "look for the systemd unit in `dir` instead of "+service.DefaultUnitDir)
	timeout := fs.Duration("timeout", 3*time.Second, "`time` each HTTP request may take")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(c.env, &cf)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		rs := []doctor.Result{{Name: "config", Status: doctor.StatusFail, Detail: err.Error(),
			Fix: "fix the configuration; nothing else can be checked without it"}}
		return c.print(rs, *asJSON)
	}
	dsn, dsnErr := cfg.DSN()
	base := *url
	if base == "" {
		base = baseURL(cfg)
	}
	rs := doctor.Check(ctx, doctor.CheckOptions{
		ConfigPath:     cfg.Path,
		DSN:            dsn,
		DSNErr:         dsnErr,
		Connect:        connectDB,
		ProductVersion: version,
		Service:        c.serviceManager(*unitDir),
		ServiceName:    *name,
		DataDir:        cfg.DataDir,
		LogFile:        filepath.Join(cfg.DataDir, "logs", LogFileName),
		BaseURL:        strings.TrimRight(base, "/"),
		Timeout:        *timeout,
		TLSCert:        cfg.TLS.Cert,
		TLSKey:         cfg.TLS.Key,
		Licence:        doctorLicence(cfg, time.Now()),
	})
	return c.print(rs, *asJSON)
}

func (c *CheckCommand) serviceManager(unitDir string) service.Manager {
	switch {
	case c.manager != nil:
		return c.manager
	case unitDir != "":
		return &service.Systemd{UnitDir: absPath(unitDir)}
	}
	return service.Default()
}

func (c *CheckCommand) print(rs []doctor.Result, asJSON bool) error {
	failed := doctor.Failed(rs)
	if asJSON {
		if err := writeJSON(c.stdout, CheckReport{OK: !failed, Checks: rs}); err != nil {
			return err
		}
	} else if err := printResults(c.stdout, rs); err != nil {
		return err
	}
	if failed {
		return errChecksFailed
	}
	return nil
}

// printResults writes results as a table for people, each failure or warning followed
// by what to do.
func printResults(w io.Writer, rs []doctor.Result) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.Detail)
		if r.Fix != "" && r.Status != doctor.StatusPass {
			fmt.Fprintf(tw, "\t\t→ %s\n", r.Fix)
		}
		for _, ch := range r.Changed {
			fmt.Fprintf(tw, "\t\tchanged: %s\n", ch)
		}
	}
	return tw.Flush()
}

// connectDB opens dsn for check and doctor: no migration, no log.
func connectDB(ctx context.Context, dsn string) (doctor.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{ProductVersion: version, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return db, nil
}

var _ doctor.DB = (*sqldb.DB)(nil)

// baseURL is where the configured server answers: its listen address, with a wildcard
// host replaced by the loopback address, over HTTPS when TLS is configured.
func baseURL(cfg *Config) string {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "http://" + cfg.Listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if cfg.TLS.Cert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
