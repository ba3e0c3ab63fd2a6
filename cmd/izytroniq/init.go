package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
)

// InitCommand sets up a new installation: configuration, database and administrator.
type InitCommand struct {
	*env
}

// Run runs `izytroniq init`.
func (c *InitCommand) Run(ctx context.Context, args []string) error {
	flags := newFlagSet(c.env, "init", "init --dir DIR [--db DSN] [--listen ADDR] [--admin-password-file F]", `
Write DIR/izytroniq.toml, create and migrate the database (by default the SQLite file
DIR/data/izytroniq.db) and create the user admin. The admin password is read from
--admin-password-file, or made up and printed once. An existing configuration is never
overwritten.`)
	dir := flags.String("dir", "", "installation `directory` (required)")
	dsn := flags.String("db", "", "database `DSN`: postgres://… or a SQLite file path (default DIR/data/izytroniq.db)")
	listen := flags.String("listen", DefaultListen, "listen `address` written to the configuration")
	pwFile := flags.String("admin-password-file", "", "read the admin password from `file` (\"-\": standard input)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *dir == "" {
		flags.Usage()
		return usageErrorf("init needs --dir")
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	path := filepath.Join(root, DefaultConfigFile)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; init never overwrites a configuration (edit it, or choose another --dir)", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check %s: %w", path, err)
	}

	cfg := DefaultConfig()
	cfg.Listen = *listen
	cfg.DataDir = filepath.Join(root, DefaultDataDir)
	if *dsn != "" {
		cfg.Database.DSN = absDSN(*dsn)
	}
	// Read the environment's log level and password cost, but not its listen address,
	// data directory or database: init writes those from its own flags.
	cfg.Log.Level = firstNonEmpty(c.getenv("IZYTRONIQ_LOG_LEVEL"), cfg.Log.Level)
	if s := c.getenv("IZYTRONIQ_PASSWORD_ITERATIONS"); s != "" {
		if cfg.Auth.PasswordIterations, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("IZYTRONIQ_PASSWORD_ITERATIONS=%q is not a number", s)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	pw, generated := randomPassword(), true
	if *pwFile != "" {
		if pw, err = readPassword(c.env, *pwFile); err != nil {
			return err
		}
		generated = false
	}

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	logger, closeLog, err := openLog(&cfg, nil, true)
	if err != nil {
		return err
	}
	defer closeLog()
	db, dbDSN, err := openDB(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(c.stdout, "Database %s\n", redactDSN(dbDSN))
	applied, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cur, _, err := db.SchemaVersions(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "  schema version %d (%d migration(s) applied)\n", cur, len(applied))
	if _, _, err := db.UserByUsername(ctx, "admin"); err == nil {
		return fmt.Errorf("the database already has a user admin (reset its password with 'izytroniq user passwd --username admin --db …'); no configuration written")
	} else if izy.ErrorCode(err) != izy.ENOTFOUND {
		return err
	}

	if err := writeNewFile(path, configFileText(&cfg, root)); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Wrote %s\n", path)
	hash, err := password.Hash(pw, cfg.Auth.PasswordIterations)
	if err != nil {
		return err
	}
	admin := &izy.User{Username: "admin", DisplayName: "Administrator", Role: izy.RoleAdmin}
	if err := db.CreateUser(ctx, admin, hash); err != nil {
		return fmt.Errorf("create user admin: %w", err)
	}
	if generated {
		fmt.Fprintf(c.stdout, "Created user admin with password: %s\n(shown once; change it with 'izytroniq user passwd --username admin --config %s')\n", pw, path)
	} else {
		fmt.Fprintf(c.stdout, "Created user admin with the password from %s\n", *pwFile)
	}
	fmt.Fprintf(c.stdout, "\nNext: izytroniq serve --config %s\n", path)
	return nil
}

// writeNewFile creates path with content, failing if it exists: two inits racing for one
// directory must not both win. The file may hold a database password, so only its owner
// reads it.
func writeNewFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; init never overwrites a configuration", path)
		}
		return fmt.Errorf("write configuration: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write configuration: %w", err)
	}
	return f.Close()
}

// configFileText is the configuration init writes: every key, with what it does. Paths
// under root are written relative to it, so the directory can be moved.
func configFileText(cfg *Config, root string) string {
	rel := func(p string) string {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
		return p
	}
	dsnLine := `# dsn = "postgres://izytroniq@db.example:5432/izytroniq?sslmode=verify-full"`
	if cfg.Database.DSN != "" {
		d := cfg.Database.DSN
		if !isPostgresDSN(d) && !strings.HasPrefix(d, "file:") {
			d = rel(d)
		}
		dsnLine = "dsn = " + strconv.Quote(d)
	}
	return fmt.Sprintf(`# Izytroniq configuration, written by izytroniq init.
# Environment variables IZYTRONIQ_* override these settings, and command-line flags
# override both. Relative paths are relative to this file's directory.

# Address the server listens on (HOST:PORT).
listen = %s

# Holds the SQLite database, logs/izytroniq.log, backups and blobs.
data_dir = %s

# Process role: all (application server and sync service), app or sync.
role = "all"

[database]
# Empty: the SQLite file izytroniq.db in data_dir. PostgreSQL: a postgres:// URL.
%s
# Or keep the DSN (with its password) in a file of its own:
# dsn_file = "secrets/dsn"

[tls]
# PEM certificate and key; leave both empty to serve plain HTTP (behind a proxy).
cert = ""
key = ""

[log]
# debug, info, warn or error.
level = %s

[escalation]
# Days before the due date at which a device turns yellow, then orange.
first_days = %d
second_days = %d

[limits]
# Largest request body accepted, in bytes.
max_body_bytes = %d

[auth]
# Lifetime of a login token (Go duration: 30m, 12h, …).
token_ttl = %s
# PBKDF2-SHA256 iterations for new password hashes.
password_iterations = %d
`, strconv.Quote(cfg.Listen), strconv.Quote(rel(cfg.DataDir)), dsnLine, strconv.Quote(cfg.Log.Level),
		cfg.Escalation.FirstDays, cfg.Escalation.SecondDays, cfg.Limits.MaxBodyBytes,
		strconv.Quote(shortDuration(cfg.Auth.TokenTTL)), cfg.Auth.PasswordIterations)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// shortDuration writes d as people do: "12h", not "12h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
