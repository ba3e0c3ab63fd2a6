package backup

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// usablePGDump returns the pg_dump program to use, or why there is none: it must be
// installed and its major version at least the server's (an older pg_dump refuses a
// newer server).
func usablePGDump(ctx context.Context, db *sqldb.DB, prog string) (string, error) {
	if prog == "" {
		p, err := exec.LookPath("pg_dump")
		if err != nil {
			return "", fmt.Errorf("pg_dump is not installed (not in PATH)")
		}
		prog = p
	}
	v, err := toolMajor(ctx, prog)
	if err != nil {
		return "", err
	}
	sv, err := db.ServerMajorVersion(ctx)
	if err != nil {
		return "", err
	}
	if v < sv {
		return "", fmt.Errorf("%s is version %d, older than the server's %d", prog, v, sv)
	}
	return prog, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)`)

// toolMajor runs "prog --version" and returns the major version it prints.
func toolMajor(ctx context.Context, prog string) (int, error) {
	out, err := exec.CommandContext(ctx, prog, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", prog, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s --version printed %q, no version", prog, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}

// libpqParams are the URI parameters libpq (pg_dump, pg_restore) accepts; pgx passes
// any other parameter, such as search_path, to the server as a setting, which libpq
// would reject.
var libpqParams = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true,
	"passfile": true, "channel_binding": true, "connect_timeout": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"sslmode": true, "sslcert": true, "sslkey": true, "sslpassword": true, "sslrootcert": true,
	"sslcrl": true, "sslcrldir": true, "sslsni": true, "requirepeer": true,
	"gssencmode": true, "krbsrvname": true, "service": true, "target_session_attrs": true,
}

// libpqConn turns a pgx DSN into a URI for the libpq tools and the environment that
// carries its password (kept off the command line, where other users could read it).
func libpqConn(dsn string) (string, []string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("database DSN: %w", err)
	}
	env := os.Environ()
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+p)
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	for k := range q {
		if !libpqParams[k] {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), env, nil
}

// pgPattern is a pg_dump pattern that matches exactly the schema name.
func pgPattern(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// runPGDump dumps one schema in pg_dump's custom format to file.
func runPGDump(ctx context.Context, prog, dsn, schema, file string) error {
	conn, env, err := libpqConn(dsn)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, prog, "--format=custom", "--schema="+pgPattern(schema), "--file="+file, "--dbname="+conn)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return syncFile(file)
}

// runPGRestore restores a custom-format dump in one transaction.
func runPGRestore(ctx context.Context, prog, dsn, file string) error {
	conn, env, err := libpqConn(dsn)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, prog, "--clean", "--if-exists", "--no-owner", "--single-transaction",
		"--exit-on-error", "--dbname="+conn, file)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
