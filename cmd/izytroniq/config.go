package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/server"
)

// Config is the server's configuration: one TOML file, then IZYTRONIQ_* environment
// variables, then command-line flags, each overriding the one before. Relative paths in
// the file are relative to the file's directory; in variables and flags, to the working
// directory.
type Config struct {
	Listen     string                `toml:"listen"`
	DataDir    string                `toml:"data_dir"`
	Role       string                `toml:"role"`
	Database   DatabaseConfig        `toml:"database"`
	TLS        TLSConfig             `toml:"tls"`
	Log        LogConfig             `toml:"log"`
	Escalation izy.EscalationWindows `toml:"escalation"`
	Limits     LimitsConfig          `toml:"limits"`
	Auth       AuthConfig            `toml:"auth"`
	Update     UpdateConfig          `toml:"update"`
	License    LicenseConfig         `toml:"license"`

	// Path is the file the configuration was read from; "" when there was none.
	Path string `toml:"-"`
}

// DatabaseConfig names the database: a DSN, or a file holding it (a secret kept out of
// the configuration). With neither, the SQLite file izytroniq.db in the data directory.
type DatabaseConfig struct {
	DSN     string `toml:"dsn"`
	DSNFile string `toml:"dsn_file"`
}

// TLSConfig names a PEM certificate and key; with neither, the server speaks plain HTTP.
type TLSConfig struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// LogConfig sets the log level: debug, info, warn or error.
type LogConfig struct {
	Level string `toml:"level"`
}

// LimitsConfig bounds requests.
type LimitsConfig struct {
	MaxBodyBytes int64 `toml:"max_body_bytes"`
}

// AuthConfig sets token lifetime and password hashing cost.
type AuthConfig struct {
	TokenTTL           time.Duration `toml:"token_ttl"`
	PasswordIterations int           `toml:"password_iterations"`
}

// UpdateConfig names the public keys whose signature `izytroniq update` accepts on a
// release package.
type UpdateConfig struct {
	TrustedKeys []string `toml:"trusted_keys"`
}

// LicenseConfig names the public keys whose signature the server accepts on a licence
// (files from `izytroniq license keygen`). With none, every licence is refused and the
// server runs in evaluation mode.
type LicenseConfig struct {
	TrustedKeys []string `toml:"trusted_keys"`
}

// Defaults.
const (
	DefaultListen     = "127.0.0.1:8080"
	DefaultConfigFile = "izytroniq.toml"
	DefaultDataDir    = "data"
	SQLiteFileName    = "izytroniq.db"
	LogFileName       = "izytroniq.log"
)

// DefaultConfig returns the configuration used where nothing else is said.
func DefaultConfig() Config {
	return Config{
		Listen:     DefaultListen,
		DataDir:    DefaultDataDir,
		Role:       server.RoleAll,
		Log:        LogConfig{Level: "info"},
		Escalation: izy.DefaultWindows,
		Limits:     LimitsConfig{MaxBodyBytes: server.DefaultMaxBodyBytes},
		Auth:       AuthConfig{TokenTTL: server.DefaultTokenTTL, PasswordIterations: 600_000},
	}
}

// envVars maps each IZYTRONIQ_* variable to the setting it overrides.
var envVars = []envVar{
	{"IZYTRONIQ_LISTEN", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"IZYTRONIQ_DATA_DIR", func(c *Config, v string) error { c.DataDir = absPath(v); return nil }},
	{"IZYTRONIQ_ROLE", func(c *Config, v string) error { c.Role = v; return nil }},
	{"IZYTRONIQ_DB", func(c *Config, v string) error { c.Database = DatabaseConfig{DSN: absDSN(v)}; return nil }},
	{"IZYTRONIQ_DB_FILE", func(c *Config, v string) error { c.Database = DatabaseConfig{DSNFile: absPath(v)}; return nil }},
	{"IZYTRONIQ_TLS_CERT", func(c *Config, v string) error { c.TLS.Cert = absPath(v); return nil }},
	{"IZYTRONIQ_TLS_KEY", func(c *Config, v string) error { c.TLS.Key = absPath(v); return nil }},
	{"IZYTRONIQ_LOG_LEVEL", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"IZYTRONIQ_ESCALATION_FIRST_DAYS", func(c *Config, v string) error { return setInt(&c.Escalation.FirstDays, v) }},
	{"IZYTRONIQ_ESCALATION_SECOND_DAYS", func(c *Config, v string) error { return setInt(&c.Escalation.SecondDays, v) }},
	{"IZYTRONIQ_MAX_BODY_BYTES", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		c.Limits.MaxBodyBytes = n
		return err
	}},
	{"IZYTRONIQ_TOKEN_TTL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Auth.TokenTTL = d
		return err
	}},
	{"IZYTRONIQ_PASSWORD_ITERATIONS", func(c *Config, v string) error { return setInt(&c.Auth.PasswordIterations, v) }},
	{"IZYTRONIQ_UPDATE_TRUSTED_KEYS", func(c *Config, v string) error { // a path list: ":"-separated (";" on Windows)
		c.Update.TrustedKeys = nil
		for _, p := range filepath.SplitList(v) {
			if p = strings.TrimSpace(p); p != "" {
				c.Update.TrustedKeys = append(c.Update.TrustedKeys, absPath(p))
			}
		}
		return nil
	}},
	{"IZYTRONIQ_LICENSE_TRUSTED_KEYS", func(c *Config, v string) error { // a path list, as above
		c.License.TrustedKeys = nil
		for _, p := range filepath.SplitList(v) {
			if p = strings.TrimSpace(p); p != "" {
				c.License.TrustedKeys = append(c.License.TrustedKeys, absPath(p))
			}
		}
		return nil
	}},
}

type envVar struct {
	name string
	set  func(c *Config, v string) error
}

// Variables that are not settings: the config file's path, and the test suite's.
var otherEnvVars = []string{"IZYTRONIQ_CONFIG", "IZYTRONIQ_TEST_POSTGRES"}

func setInt(p *int, v string) error {
	n, err := strconv.Atoi(v)
	*p = n
	return err
}

// configFlags are the flags every command that reads the configuration offers.
type configFlags struct {
	path string
	dsn  string
}

func (f *configFlags) register(fs *flag.FlagSet, withDB bool) {
	fs.StringVar(&f.path, "config", "", "configuration `file` (default $IZYTRONIQ_CONFIG, else ./izytroniq.toml)")
	if withDB {
		fs.StringVar(&f.dsn, "db", "", "database `DSN`, overriding the configuration: postgres://… or a SQLite file path")
	}
}

// loadConfig reads the configuration for a command: the file named by --config, else by
// IZYTRONIQ_CONFIG, else ./izytroniq.toml if it exists; then the environment; then the
// --db flag. Callers apply their other flags and call Validate.
func loadConfig(e *env, f *configFlags) (*Config, error) {
	c := DefaultConfig()
	path, explicit := f.path, true
	if path == "" {
		path = e.getenv("IZYTRONIQ_CONFIG")
	}
	if path == "" {
		path, explicit = DefaultConfigFile, false
	}
	if err := c.readFile(path); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			c.resolve(mustGetwd())
		} else {
			return nil, err
		}
	}
	if err := c.applyEnv(e); err != nil {
		return nil, err
	}
	if f.dsn != "" {
		c.Database = DatabaseConfig{DSN: absDSN(f.dsn)}
	}
	return &c, nil
}

// loadValidConfig is loadConfig followed by Validate: what every command that opens the
// installation needs.
func loadValidConfig(e *env, f *configFlags) (*Config, error) {
	cfg, err := loadConfig(e, f)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readFile decodes the TOML file at path into c, rejecting keys it does not know, and
// makes its relative paths absolute.
func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("configuration file %s does not exist (create one with izytroniq init, or name another with --config): %w", path, err)
		}
		return fmt.Errorf("read configuration: %w", err)
	}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("configuration %s, line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		var msgs []string
		for _, k := range keys {
			if line := keyLine(b, k); line > 0 {
				msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q", line, k.String()))
			} else {
				msgs = append(msgs, fmt.Sprintf("unknown key %q", k.String()))
			}
		}
		return fmt.Errorf("configuration %s: %s (see the configuration section of README.md for the known keys)", path, strings.Join(msgs, "; "))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	c.Path = abs
	c.resolve(filepath.Dir(abs))
	return nil
}

// keyLine finds the line where TOML key k is set or its table opens; 0 if not found.
func keyLine(b []byte, k toml.Key) int {
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(line, "[] \t")
			if i := strings.Index(name, "#"); i >= 0 {
				name = strings.TrimSpace(strings.Trim(name[:i], "[] \t"))
			}
			table = name
			if table == k.String() {
				return n
			}
			continue
		}
		key, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		full := strings.Trim(strings.TrimSpace(key), `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == k.String() {
			return n
		}
	}
	return 0
}

// resolve makes the relative paths of c absolute against dir.
func (c *Config) resolve(dir string) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.DataDir = rel(c.DataDir)
	c.Database.DSNFile = rel(c.Database.DSNFile)
	c.TLS.Cert = rel(c.TLS.Cert)
	c.TLS.Key = rel(c.TLS.Key)
	for i, k := range c.Update.TrustedKeys {
		c.Update.TrustedKeys[i] = rel(k)
	}
	for i, k := range c.License.TrustedKeys {
		c.License.TrustedKeys[i] = rel(k)
	}
	if c.Database.DSN != "" && !isPostgresDSN(c.Database.DSN) && !strings.HasPrefix(c.Database.DSN, "file:") {
		p := strings.TrimPrefix(c.Database.DSN, "sqlite:")
		c.Database.DSN = rel(p)
	}
}

// applyEnv applies the IZYTRONIQ_* variables, and warns about ones nobody reads: a
// misspelt variable would otherwise be ignored in silence.
func (c *Config) applyEnv(e *env) error {
	for _, v := range envVars {
		s, ok := lookupEnv(e, v.name)
		if !ok {
			continue
		}
		if err := v.set(c, strings.TrimSpace(s)); err != nil {
			return fmt.Errorf("environment variable %s=%q: not a valid value", v.name, s)
		}
	}
	for _, kv := range e.environ() {
		name, _, _ := strings.Cut(kv, "=")
		known := slices.ContainsFunc(envVars, func(v envVar) bool { return v.name == name })
		if known || !strings.HasPrefix(name, "IZYTRONIQ_") || slices.Contains(otherEnvVars, name) ||
			strings.HasPrefix(name, "IZYTRONIQ_TEST_") {
			continue
		}
		fmt.Fprintf(e.stderr, "izytroniq: warning: ignoring unknown environment variable %s\n", name)
	}
	return nil
}

func lookupEnv(e *env, name string) (string, bool) {
	v := e.getenv(name)
	return v, v != ""
}

// Validate checks every setting and says which one is wrong and why.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := validateListen(c.Listen); err != nil {
		bad("listen: %v", err)
	}
	if c.DataDir == "" {
		bad("data_dir: must not be empty")
	}
	if !slices.Contains([]string{server.RoleAll, server.RoleApp, server.RoleSync}, c.Role) {
		bad("role: %q is not one of all, app, sync", c.Role)
	}
	if c.Database.DSN != "" && c.Database.DSNFile != "" {
		bad("database: give dsn or dsn_file, not both")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls: give both cert and key, or neither")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level: %v", err)
	}
	if err := c.Escalation.Validate(); err != nil {
		bad("escalation: %s (got first_days = %d, second_days = %d)", izy.ErrorMessage(err), c.Escalation.FirstDays, c.Escalation.SecondDays)
	}
	if n := c.Limits.MaxBodyBytes; n < 1<<10 || n > 1<<30 {
		bad("limits.max_body_bytes: %d is outside 1024 … 1073741824", n)
	}
	if d := c.Auth.TokenTTL; d < time.Minute || d > 366*24*time.Hour {
		bad("auth.token_ttl: %s is outside 1m … 8784h (a year)", d)
	}
	if n := c.Auth.PasswordIterations; n < 1000 || n > 10_000_000 {
		bad("auth.password_iterations: %d is outside 1000 … 10000000", n)
	}
	for i, k := range c.Update.TrustedKeys {
		if strings.TrimSpace(k) == "" {
			bad("update.trusted_keys[%d]: empty path; name a public key file (from izytroniq release keygen)", i)
		}
	}
	for i, k := range c.License.TrustedKeys {
		if strings.TrimSpace(k) == "" {
			bad("license.trusted_keys[%d]: empty path; name a public key file (from izytroniq license keygen)", i)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	where := "configuration"
	if c.Path != "" {
		where = "configuration " + c.Path
	}
	return fmt.Errorf("%s: %w", where, errors.Join(errs...))
}

func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number between 0 and 65535", addr, port)
	}
	_ = host
	return nil
}

// DSN returns the database to open: the dsn, the contents of dsn_file, or the SQLite file
// in the data directory.
func (c *Config) DSN() (string, error) {
	switch {
	case c.Database.DSN != "":
		return c.Database.DSN, nil
	case c.Database.DSNFile != "":
		b, err := os.ReadFile(c.Database.DSNFile)
		if err != nil {
			return "", fmt.Errorf("database.dsn_file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("database.dsn_file: %s is empty; write the DSN into it", c.Database.DSNFile)
		}
		return absDSN(dsn), nil
	}
	return filepath.Join(c.DataDir, SQLiteFileName), nil
}

func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// absDSN makes a SQLite path given on the command line absolute.
func absDSN(dsn string) string {
	if isPostgresDSN(dsn) || strings.HasPrefix(dsn, "file:") {
		return dsn
	}
	return absPath(strings.TrimPrefix(dsn, "sqlite:"))
}

func absPath(p string) string {
	if p == "" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}

// redactDSN hides the password in a PostgreSQL DSN, for messages and logs.
func redactDSN(dsn string) string {
	if !isPostgresDSN(dsn) {
		return dsn
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}
