package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	izy "github.com/izytroniq/izytroniq"
)

// dbErr wraps an unexpected database error; *izy.Error passes through.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *izy.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if isBusy(err) {
		return izy.Errorf(izy.EUNAVAILABLE, "the database is busy; try again")
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// isPrimaryKeyDup reports whether err is a duplicate primary key.
func isPrimaryKeyDup(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" && strings.HasSuffix(pe.ConstraintName, "_pkey")
	}
	return false
}

// isForeignKey reports whether err is a foreign-key violation.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return false
}

// isCheck reports whether err is a CHECK or NOT NULL violation.
func isCheck(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK || se.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23514" || pe.Code == "23502"
	}
	return false
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED
	}
	return false
}

// constraintErr turns constraint violations into domain errors with the given messages
// and wraps anything else.
func constraintErr(what string, err error, unique, fk string) error {
	switch {
	case isPrimaryKeyDup(err):
		return izy.Errorf(izy.ECONFLICT, "%s: a row with this id already exists", what)
	case unique != "" && isUnique(err):
		return izy.Errorf(izy.ECONFLICT, "%s", unique)
	case isForeignKey(err):
		if fk == "" {
			fk = "a referenced row does not exist"
		}
		return izy.Errorf(izy.EINVALID, "%s", fk)
	case isCheck(err):
		// The domain validates first; this is the database's own guard.
		return izy.Errorf(izy.EINVALID, "%s: a value is out of range or missing", what)
	}
	return dbErr(what, err)
}

// versionErr explains why an update of id at version matched no row.
func (t *tx) versionErr(ctx context.Context, table, entity, id string, version int64) error {
	var cur int64
	err := t.queryRow(ctx, "SELECT version FROM "+table+" WHERE id = ?", id).Scan(&cur)
	if err == sql.ErrNoRows {
		return izy.Errorf(izy.ENOTFOUND, "%s %s not found", entity, id)
	}
	if err != nil {
		return dbErr("read version", err)
	}
	return izy.Errorf(izy.ECONFLICT, "%s was changed by someone else (version %d, you sent %d); reload and try again", entity, cur, version)
}
