// Package doctor checks an installation after an update (`izytroniq check`) and
// diagnoses, explains and repairs the vendor manual's troubleshooting cases
// (`izytroniq doctor`). It returns structured results; cmd prints them.
package doctor

import (
	"context"
	"errors"
	"os"
	"strings"
)

// Statuses of a result.
const (
	StatusPass = "pass"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Result is one check or diagnosis: what was looked at, how it went, the details in
// plain words and what to do about a warning or failure.
type Result struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Code names the troubleshooting case a diagnosis found (doctor only).
	Code string `json:"code,omitempty"`
	// Fixable says doctor --fix can repair it.
	Fixable bool `json:"fixable,omitempty"`
	// Changed says what doctor --fix changed, when it did.
	Changed []string `json:"changed,omitempty"`
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == StatusFail {
			return true
		}
	}
	return false
}

// DB is what the checks need from the database; *sqldb.DB has it.
type DB interface {
	Ping(ctx context.Context) error
	Dialect() string
	// SchemaVersions returns the stored schema version and the one this binary needs.
	SchemaVersions(ctx context.Context) (current, want int, err error)
	// Info returns database_info's key/value pairs.
	Info(ctx context.Context) (map[string]string, error)
	Close() error
}

// Connect opens the database dsn names without creating or migrating anything.
type Connect func(ctx context.Context, dsn string) (DB, error)

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// sqlitePath is the file a SQLite DSN names, or "" for a "file:" URI.
func sqlitePath(dsn string) string {
	if strings.HasPrefix(dsn, "file:") {
		return ""
	}
	p, _, _ := strings.Cut(strings.TrimPrefix(dsn, "sqlite:"), "?")
	return p
}

// errNoSQLiteFile is returned by open for a SQLite file that does not exist: opening
// it would create an empty database, which no check may do.
var errNoSQLiteFile = errors.New("the SQLite database file does not exist")

// open connects to dsn, refusing to create a missing SQLite file.
func open(ctx context.Context, connect Connect, dsn string) (DB, error) {
	if p := sqlitePath(dsn); p != "" && !IsPostgres(dsn) {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, errNoSQLiteFile
		}
	}
	return connect(ctx, dsn)
}

// Redact hides the password in a PostgreSQL DSN.
func Redact(dsn string) string {
	if !IsPostgres(dsn) {
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
