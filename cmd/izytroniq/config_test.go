package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	izy "github.com/izytroniq/izytroniq"
)

// load reads the configuration as a command would, with vars as the environment.
func load(t *testing.T, vars map[string]string, f configFlags) (*Config, error, string) {
	t.Helper()
	e, _, errOut := bareEnv(vars)
	c, err := loadConfig(e, &f)
	if err == nil {
		err = c.Validate()
	}
	return c, err, errOut.String()
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "etc/izytroniq.toml", `
listen = "0.0.0.0:9443"
data_dir = "../var"
role = "app"

[database]
dsn_file = "secrets/dsn"

[tls]
cert = "tls/cert.pem"
key = "/etc/ssl/key.pem"

[log]
level = "debug"

[escalation]
first_days = 60
second_days = 14

[limits]
max_body_bytes = 2097152

[auth]
token_ttl = "8h"
password_iterations = 700000
`)
	writeFile(t, dir, "etc/secrets/dsn", "postgres://izy:secret@db:5432/izy\n")
	c, err, _ := load(t, nil, configFlags{path: path})
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	want := &Config{
		Listen:     "0.0.0.0:9443",
		DataDir:    filepath.Join(dir, "var"),
		Role:       "app",
		Database:   DatabaseConfig{DSNFile: filepath.Join(etc, "secrets/dsn")},
		TLS:        TLSConfig{Cert: filepath.Join(etc, "tls/cert.pem"), Key: "/etc/ssl/key.pem"},
		Log:        LogConfig{Level: "debug"},
		Escalation: izy.EscalationWindows{FirstDays: 60, SecondDays: 14},
		Limits:     LimitsConfig{MaxBodyBytes: 2 << 20},
		Auth:       AuthConfig{TokenTTL: 8 * time.Hour, PasswordIterations: 700000},
		Path:       path,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("config (-want +got):\n%s", diff)
	}
	if got, err := c.DSN(); err != nil || got != "postgres://izy:secret@db:5432/izy" {
		t.Fatalf("DSN() = %q, %v; want the contents of dsn_file", got, err)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "izytroniq.toml", "")
	c, err, _ := load(t, nil, configFlags{path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Listen, DefaultListen; got != want {
		t.Errorf("listen = %q, want %q", got, want)
	}
	dsn, err := c.DSN()
	if got, want := dsn, filepath.Join(dir, "data", SQLiteFileName); err != nil || got != want {
		t.Errorf("DSN() = %q, %v; want %q", got, err, want)
	}
}

func TestConfigUnknownKey(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "izytroniq.toml", `listen = "127.0.0.1:8080"

[database]
dsn = "x.db"
pasword = "typo"

[backup]
keep = 3
`)
	_, err, _ := load(t, nil, configFlags{path: path})
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{`line 5: unknown key "database.pasword"`, `line 7: unknown key "backup"`, path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestConfigSyntaxError(t *testing.T) {
	path := writeFile(t, t.TempDir(), "izytroniq.toml", "listen = \"a\"\nrole = all\n")
	_, err, _ := load(t, nil, configFlags{path: path})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error = %v, want one naming line 2", err)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "izytroniq.toml", `listen = "127.0.0.1:1111"
role = "sync"
[database]
dsn = "file.db"
[log]
level = "warn"
`)
	vars := map[string]string{
		"IZYTRONIQ_CONFIG":    path,
		"IZYTRONIQ_LISTEN":    "127.0.0.1:2222",
		"IZYTRONIQ_DB":        "postgres://env@db/izy",
		"IZYTRONIQ_TOKEN_TTL": "90m",
	}
	t.Run("file", func(t *testing.T) {
		c, err, _ := load(t, map[string]string{"IZYTRONIQ_CONFIG": path}, configFlags{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Database.DSN, filepath.Join(dir, "file.db"); got != want {
			t.Errorf("dsn = %q, want %q (relative to the file)", got, want)
		}
	})
	t.Run("env over file", func(t *testing.T) {
		c, err, _ := load(t, vars, configFlags{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Listen, "127.0.0.1:2222"; got != want {
			t.Errorf("listen = %q, want %q", got, want)
		}
		if got, want := c.Database.DSN, "postgres://env@db/izy"; got != want {
			t.Errorf("dsn = %q, want %q", got, want)
		}
		if got, want := c.Auth.TokenTTL, 90*time.Minute; got != want {
			t.Errorf("token_ttl = %s, want %s", got, want)
		}
		if got, want := c.Role, "sync"; got != want {
			t.Errorf("role = %q, want %q (from the file)", got, want)
		}
	})
	t.Run("flag over env", func(t *testing.T) {
		c, err, _ := load(t, vars, configFlags{dsn: "postgres://flag@db/izy"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Database.DSN, "postgres://flag@db/izy"; got != want {
			t.Errorf("dsn = %q, want %q", got, want)
		}
	})
	t.Run("--config over IZYTRONIQ_CONFIG", func(t *testing.T) {
		other := writeFile(t, t.TempDir(), "other.toml", `role = "app"`)
		c, err, _ := load(t, map[string]string{"IZYTRONIQ_CONFIG": path}, configFlags{path: other})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Role, "app"; got != want {
			t.Errorf("role = %q, want %q", got, want)
		}
	})
	t.Run("serve flags over env", func(t *testing.T) {
		// serve --listen wins over IZYTRONIQ_LISTEN; a broken listen address proves it
		// reached validation.
		_, _, err := runTest(t, vars, "serve", "--listen", "not-an-address")
		if err == nil || !strings.Contains(err.Error(), "not-an-address") {
			t.Fatalf("error = %v, want one about the --listen value", err)
		}
	})
}

func TestConfigInvalid(t *testing.T) {
	for _, tt := range []struct {
		name, toml string
		env        map[string]string
		want       string
	}{
		{"role", `role = "both"`, nil, `role: "both" is not one of all, app, sync`},
		{"listen", `listen = "8080"`, nil, "listen:"},
		{"port", `listen = "localhost:99999"`, nil, "port"},
		{"log level", "[log]\nlevel = \"chatty\"", nil, "log.level"},
		{"windows", "[escalation]\nfirst_days = 5\nsecond_days = 7", nil, "escalation"},
		{"body", "[limits]\nmax_body_bytes = 10", nil, "limits.max_body_bytes"},
		{"ttl", "[auth]\ntoken_ttl = \"1s\"", nil, "auth.token_ttl"},
		{"ttl syntax", "[auth]\ntoken_ttl = \"soon\"", nil, "soon"},
		{"iterations", "[auth]\npassword_iterations = 5", nil, "auth.password_iterations"},
		{"dsn twice", "[database]\ndsn = \"a.db\"\ndsn_file = \"f\"", nil, "not both"},
		{"tls half", "[tls]\ncert = \"c.pem\"", nil, "tls: give both"},
		{"wrong type", `listen = 8080`, nil, "listen"},
		{"env number", "", map[string]string{"IZYTRONIQ_MAX_BODY_BYTES": "lots"}, "IZYTRONIQ_MAX_BODY_BYTES"},
		{"env role", "", map[string]string{"IZYTRONIQ_ROLE": "boss"}, `role: "boss"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "izytroniq.toml", tt.toml)
			_, err, _ := load(t, tt.env, configFlags{path: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigMissingFile(t *testing.T) {
	_, err, _ := load(t, nil, configFlags{path: filepath.Join(t.TempDir(), "nope.toml")})
	if err == nil || !strings.Contains(err.Error(), "izytroniq init") {
		t.Fatalf("error = %v, want one that suggests izytroniq init", err)
	}
	// Without --config or IZYTRONIQ_CONFIG a missing ./izytroniq.toml is fine.
	t.Chdir(t.TempDir())
	if _, err, _ := load(t, nil, configFlags{}); err != nil {
		t.Fatalf("no config file: %v", err)
	}
}

func TestConfigUnknownEnvWarns(t *testing.T) {
	path := writeFile(t, t.TempDir(), "izytroniq.toml", "")
	_, err, stderr := load(t, map[string]string{"IZYTRONIQ_LISTN": "x", "IZYTRONIQ_TEST_POSTGRES": "y"}, configFlags{path: path})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "IZYTRONIQ_LISTN") || strings.Contains(stderr, "IZYTRONIQ_TEST_POSTGRES") {
		t.Fatalf("stderr = %q, want a warning about IZYTRONIQ_LISTN only", stderr)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db": "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db":             "postgres://u@h/db",
		"/var/lib/izytroniq.db":         "/var/lib/izytroniq.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Hour:             "12h",
		90 * time.Minute:           "1h30m",
		30 * time.Minute:           "30m",
		time.Hour + 30*time.Second: "1h0m30s",
		45 * time.Second:           "45s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
