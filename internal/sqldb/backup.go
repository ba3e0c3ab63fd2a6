package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// This file holds the SQL that backups need: the database's size, SQLite's VACUUM INTO,
// the PostgreSQL schema and server version, and the check that nobody else has a SQLite
// file open. The logical export and import of PostgreSQL are in backup_logical.go.

// Size returns the bytes the database occupies: the SQLite file's pages, or the total
// size of the current PostgreSQL schema's tables with their indexes and TOAST.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	var err error
	if db.dialect == Postgres {
		err = db.r.QueryRowContext(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'm')`).Scan(&n)
	} else {
		err = db.r.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&n)
	}
	return n, dbErr("database size", err)
}

// VacuumInto writes a consistent copy of the SQLite database to path, which must not
// exist. It runs on a reader connection: it reads one snapshot (WAL lets the server keep
// writing meanwhile) and writes only the new file.
func (db *DB) VacuumInto(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return fmt.Errorf("VACUUM INTO is SQLite only")
	}
	// The reader pool is query_only, which forbids VACUUM INTO; this connection lifts it
	// for the one statement, and is discarded if it cannot be put back.
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return dbErr("vacuum into", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return dbErr("vacuum into", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.Background(), "PRAGMA query_only = 1"); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	// The file name is a bound parameter, so no quoting of the path is needed.
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return dbErr("vacuum into "+path, err)
	}
	return nil
}

// CurrentSchema returns PostgreSQL's current_schema(), the schema the DSN's search_path
// selects.
func (db *DB) CurrentSchema(ctx context.Context) (string, error) {
	if db.dialect != Postgres {
		return "", nil
	}
	var s sql.NullString
	if err := db.r.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s); err != nil {
		return "", dbErr("current schema", err)
	}
	if !s.Valid {
		return "", izy.Errorf(izy.EUNAVAILABLE, "no current schema: the search_path names no existing schema")
	}
	return s.String, nil
}

// ServerMajorVersion returns the PostgreSQL server's major version, e.g. 15.
func (db *DB) ServerMajorVersion(ctx context.Context) (int, error) {
	if db.dialect != Postgres {
		return 0, nil
	}
	var s string
	if err := db.r.QueryRowContext(ctx, "SHOW server_version_num").Scan(&s); err != nil {
		return 0, dbErr("server version", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("server_version_num %q: %w", s, err)
	}
	return n / 10000, nil
}

// OtherSessions returns how many other sessions are connected to the PostgreSQL
// database; restore reports them (they may belong to a running server).
func (db *DB) OtherSessions(ctx context.Context) (int, error) {
	if db.dialect != Postgres {
		return 0, nil
	}
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n)
	return n, dbErr("count sessions", err)
}

// SQLitePath returns the file a SQLite DSN names: the path, without a "sqlite:" prefix
// or a "file:" URI's scheme and query.
func SQLitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "sqlite:")
	if strings.HasPrefix(p, "file:") {
		p = strings.TrimPrefix(p, "file:")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
	}
	return p
}

// ErrInUse reports a SQLite file that another connection (a running server) holds open.
var ErrInUse = errors.New("the database is in use by another process")

// CheckSQLiteUnused makes sure no other connection has the SQLite file at path open,
// and leaves it checkpointed, without a WAL. It switches the file out of WAL mode: SQLite
// allows that only to the sole connection, so failure means a server (or another tool)
// has it open. The check is best effort: a process may open the file right after it.
// The server switches WAL mode back on when it opens the file.
func CheckSQLiteUnused(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	q := url.Values{"_pragma": {"busy_timeout(" + strconv.Itoa(int((2*time.Second)/time.Millisecond)) + ")"}}
	c, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	var mode string
	err = c.QueryRowContext(ctx, "PRAGMA journal_mode = DELETE").Scan(&mode)
	if err != nil {
		if isBusy(err) {
			return fmt.Errorf("%s: %w (stop the server first)", path, ErrInUse)
		}
		return dbErr("switch journal mode", err)
	}
	if !strings.EqualFold(mode, "delete") {
		return fmt.Errorf("%s: %w (journal mode stays %q; stop the server first)", path, ErrInUse, mode)
	}
	return nil
}

// SchemaExists reports whether the PostgreSQL schema exists.
func (db *DB) SchemaExists(ctx context.Context, schema string) (bool, error) {
	var ok bool
	err := db.r.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok)
	return ok, dbErr("find schema", err)
}

// RenameSchema renames a PostgreSQL schema; restore moves the current one aside with it
// and moves it back when pg_restore fails.
func (db *DB) RenameSchema(ctx context.Context, from, to string) error {
	_, err := db.w.ExecContext(ctx, "ALTER SCHEMA "+quoteIdent(from)+" RENAME TO "+quoteIdent(to))
	return dbErr("rename schema "+from, err)
}

// CreateSchema creates an empty PostgreSQL schema.
func (db *DB) CreateSchema(ctx context.Context, schema string) error {
	_, err := db.w.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(schema))
	return dbErr("create schema "+schema, err)
}

// DropSchema drops a PostgreSQL schema and everything in it.
func (db *DB) DropSchema(ctx context.Context, schema string) error {
	_, err := db.w.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(schema)+" CASCADE")
	return dbErr("drop schema "+schema, err)
}
