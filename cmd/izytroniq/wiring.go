package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/license"
	"github.com/izytroniq/izytroniq/internal/server"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/syncer"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

// openLog returns a logger writing JSON lines to console (when not nil) and appending
// to logs/izytroniq.log in the data directory, which `check` reads. With create false, a
// data directory that does not exist yet gets no log file rather than being made by a
// command that only reads.
func openLog(cfg *Config, console io.Writer, create bool) (*slog.Logger, func() error, error) {
	level, err := parseLevel(cfg.Log.Level)
	if err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	var handlers []slog.Handler
	if console != nil {
		handlers = append(handlers, slog.NewJSONHandler(console, opts))
	}
	closeFn := func() error { return nil }
	if _, err := os.Stat(cfg.DataDir); err == nil || create {
		dir := filepath.Join(cfg.DataDir, "logs")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("create log directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, LogFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		handlers = append(handlers, slog.NewJSONHandler(f, opts))
		closeFn = f.Close
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closeFn, nil
}

// openCurrentDB loads and validates the configuration, opens the log file and the
// database, and refuses a schema this binary does not expect: what every command that
// reads or writes data (but does not migrate) does first. closeAll closes both.
func openCurrentDB(ctx context.Context, e *env, cf *configFlags) (*Config, *sqldb.DB, func(), error) {
	cfg, err := loadConfig(e, cf)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, err
	}
	logger, closeLog, err := openLog(cfg, nil, false)
	if err != nil {
		return nil, nil, nil, err
	}
	db, _, err := openDB(ctx, cfg, logger)
	if err != nil {
		closeLog()
		return nil, nil, nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		closeLog()
		return nil, nil, nil, err
	}
	return cfg, db, func() { db.Close(); closeLog() }, nil
}

// openDB opens the configured database without migrating it.
func openDB(ctx context.Context, cfg *Config, logger *slog.Logger) (*sqldb.DB, string, error) {
	dsn, err := cfg.DSN()
	if err != nil {
		return nil, "", err
	}
	if !isPostgresDSN(dsn) && !strings.HasPrefix(dsn, "file:") {
		if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(dsn, "sqlite:")), 0o750); err != nil {
			return nil, "", fmt.Errorf("create database directory: %w", err)
		}
	}
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{ProductVersion: version, Logger: logger})
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w (check database.dsn in the configuration, IZYTRONIQ_DB or --db)", redactDSN(dsn), err)
	}
	return db, dsn, nil
}

// openTransfers opens the /bits transfer store in the data directory and starts expiring
// idle upload sessions until ctx ends.
func openTransfers(ctx context.Context, cfg *Config, logger *slog.Logger) (*transfer.Service, error) {
	ts, err := transfer.New(filepath.Join(cfg.DataDir, "blobs"), transfer.Limits{}, logger.With("component", "transfer"))
	if err != nil {
		return nil, fmt.Errorf("open transfer store: %w (check that data_dir %s is writable)", err, cfg.DataDir)
	}
	go ts.Run(ctx, 10*time.Minute)
	return ts, nil
}

// serverConfig is the part of cfg the HTTP server needs.
func serverConfig(cfg *Config) server.Config {
	return server.Config{
		ProductVersion:     version,
		SchemaVersion:      sqldb.LatestSchemaVersion(),
		ProtocolVersions:   protocolVersions,
		Edition:            "evaluation",
		Windows:            cfg.Escalation,
		PasswordIterations: cfg.Auth.PasswordIterations,
		TokenTTL:           cfg.Auth.TokenTTL,
		MaxBodyBytes:       cfg.Limits.MaxBodyBytes,
		Role:               cfg.Role,
	}
}

// LicenceFileName is the installed licence's name in the data directory.
const LicenceFileName = "license.json"

// licenceFile is where `license install` puts the licence and the server looks for it.
func licenceFile(cfg *Config) string { return filepath.Join(cfg.DataDir, LicenceFileName) }

// openLicence returns the watcher of the installed licence, trusting the keys of
// license.trusted_keys, and logs the licence's state. Unreadable trusted keys are
// logged and trust nothing: the server still starts, in evaluation mode.
func openLicence(cfg *Config, logger *slog.Logger) *license.Watcher {
	logger = logger.With("component", "licence")
	keys, err := license.ReadTrustedKeys(cfg.License.TrustedKeys)
	if err != nil {
		logger.Warn("licence: no key is trusted, so no licence can take effect", "err", err)
		keys = nil
	}
	w := license.NewWatcher(licenceFile(cfg), keys, logger, nil)
	w.Current()
	return w
}

// licenceSeats is the sync service's offline-seat check for the licence lic.
func licenceSeats(lic *license.Watcher, db *sqldb.DB) syncer.SeatChecker {
	return &license.Seats{Licence: lic, Store: db}
}

// randomPassword returns 20 characters from an alphabet without look-alikes (no 0/O, 1/l).
func randomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// readPassword reads a password from file ("-" is standard input): the first line,
// without its line ending.
func readPassword(e *env, file string) (string, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(e.stdin, 4096))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	p, _, _ := strings.Cut(string(b), "\n")
	p = strings.TrimSuffix(p, "\r")
	if err := izy.ValidatePassword(p); err != nil {
		return "", fmt.Errorf("password from %s: %s", file, izy.ErrorMessage(err))
	}
	return p, nil
}
