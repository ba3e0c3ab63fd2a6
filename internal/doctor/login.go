package doctor

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"strings"
)

// Kinds of connect failure.
const (
	ConnectLoginRefused = "login_refused" // the manual's "login from an untrusted domain"
	ConnectUnreachable  = "unreachable"
	ConnectNoDatabase   = "no_database"
	ConnectNoFile       = "no_sqlite_file"
	ConnectOther        = "other"
)

// ConnectFailure is a classified database connect error.
type ConnectFailure struct {
	Kind string `json:"kind"`
	// Identity is who the database was asked to let in: the user in the DSN, or the
	// operating-system account for peer or trust authentication.
	Identity    string `json:"identity,omitempty"`
	SQLState    string `json:"sqlstate,omitempty"`
	Explanation string `json:"explanation"`
	Fix         string `json:"fix"`
}

var sqlStateRE = regexp.MustCompile(`SQLSTATE ([0-9A-Z]{5})`)

// ClassifyConnectError says in plain words why connecting to dsn failed with err.
func ClassifyConnectError(err error, dsn string) ConnectFailure {
	msg := err.Error()
	f := ConnectFailure{Kind: ConnectOther, Identity: identity(dsn)}
	if m := sqlStateRE.FindStringSubmatch(msg); m != nil {
		f.SQLState = m[1]
	}
	lower := strings.ToLower(msg)
	switch {
	case errors.Is(err, errNoSQLiteFile):
		f.Kind = ConnectNoFile
		f.Explanation = "the SQLite database file " + sqlitePath(dsn) + " does not exist"
		f.Fix = "if the installation used PostgreSQL, its database setting is missing: izytroniq doctor --fix restores it from a backup; otherwise create the database with izytroniq db upgrade"
	case f.SQLState == "28P01", f.SQLState == "28000",
		strings.Contains(lower, "password authentication failed"),
		strings.Contains(lower, "no pg_hba.conf entry"),
		strings.Contains(lower, "role ") && strings.Contains(lower, "does not exist"),
		strings.Contains(lower, "peer authentication failed"):
		f.Kind = ConnectLoginRefused
		why := "the credentials or the identity were not accepted"
		switch {
		case strings.Contains(lower, "password authentication failed"):
			why = "the password is wrong"
		case strings.Contains(lower, "role ") && strings.Contains(lower, "does not exist"):
			why = "no such role exists on the database server"
		case strings.Contains(lower, "no pg_hba.conf entry"):
			why = "pg_hba.conf has no entry that lets this user in from this host"
		case strings.Contains(lower, "peer authentication failed"):
			why = "peer authentication: the operating-system account does not match the database role"
		}
		f.Explanation = fmt.Sprintf("the database server refused the login of %s: %s (%s)", f.Identity, why, oneLine(msg))
		f.Fix = "fix the user and password in database.dsn (or the role and pg_hba.conf on the database server); izytroniq doctor --fix restores the database settings of the newest backup that still connect"
	case strings.Contains(lower, "connection refused"), strings.Contains(lower, "no such host"),
		strings.Contains(lower, "i/o timeout"), strings.Contains(lower, "network is unreachable"):
		f.Kind = ConnectUnreachable
		f.Explanation = "the database server does not answer: " + oneLine(msg)
		f.Fix = "start the database server, or fix the host and port in database.dsn"
	case f.SQLState == "3D000", strings.Contains(lower, "database") && strings.Contains(lower, "does not exist"):
		f.Kind = ConnectNoDatabase
		f.Explanation = "the database named in the DSN does not exist: " + oneLine(msg)
		f.Fix = "create it (createdb), or fix the database name in database.dsn"
	default:
		f.Explanation = oneLine(msg)
		f.Fix = "check database.dsn in the configuration"
	}
	return f
}

// identity is the login a DSN asks for: its user, else PGUSER, else the operating-system
// account (which libpq and pgx use, and which peer and trust authentication check).
func identity(dsn string) string {
	if !IsPostgres(dsn) {
		return "operating-system account " + osUser()
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil && u.User.Username() != "" {
		return fmt.Sprintf("database role %q", u.User.Username())
	}
	if u := os.Getenv("PGUSER"); u != "" {
		return fmt.Sprintf("database role %q (from PGUSER)", u)
	}
	return fmt.Sprintf("database role %q (the operating-system account; no user in the DSN)", osUser())
}

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}
