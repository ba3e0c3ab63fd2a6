package sqldb

import (
	"context"
	"database/sql"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// userGrantCols selects a user, its password hash and one of its grants (NULL when it has
// none): a user with its grants is one statement, so it needs no read transaction.
const userGrantCols = `u.id, u.username, u.display_name, u.role, u.disabled, u.version, u.created_at,
	u.updated_at, u.password_hash, g.customer_id, g.access`

// scanUsers reads rows of userGrantCols ordered by user, folding grants into users.
func scanUsers(rows *sql.Rows) ([]izy.User, []string, error) {
	defer rows.Close()
	var users []izy.User
	var hashes []string
	for rows.Next() {
		var u izy.User
		var hash string
		var cust, access sql.NullString
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled, &u.Version,
			timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &hash, &cust, &access); err != nil {
			return nil, nil, dbErr("read users", err)
		}
		if n := len(users); n == 0 || users[n-1].ID != u.ID {
			u.Grants = []izy.Grant{}
			users = append(users, u)
			hashes = append(hashes, hash)
		}
		if cust.Valid {
			last := &users[len(users)-1]
			last.Grants = append(last.Grants, izy.Grant{CustomerID: cust.String, Access: access.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr("read users", err)
	}
	return users, hashes, nil
}

// oneUser runs a query of userGrantCols that names at most one user.
func (db *DB) oneUser(ctx context.Context, q string, args ...any) (*izy.User, string, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", dbErr("read user", err)
	}
	users, hashes, err := scanUsers(rows)
	if err != nil {
		return nil, "", err
	}
	if len(users) == 0 {
		return nil, "", sql.ErrNoRows
	}
	return &users[0], hashes[0], nil
}

const userByUsernameSQL = `SELECT ` + userGrantCols + ` FROM users u LEFT JOIN grants g ON g.user_id = u.id
	WHERE u.username = ? ORDER BY g.customer_id`

// UserByUsername returns a user, enabled or not, and its password hash.
func (db *DB) UserByUsername(ctx context.Context, username string) (*izy.User, string, error) {
	u, hash, err := db.oneUser(ctx, userByUsernameSQL, username)
	if err == sql.ErrNoRows {
		return nil, "", izy.Errorf(izy.ENOTFOUND, "user %q not found", username)
	}
	return u, hash, err
}

const getUserSQL = `SELECT ` + userGrantCols + ` FROM users u LEFT JOIN grants g ON g.user_id = u.id
	WHERE u.id = ? ORDER BY g.customer_id`

// GetUser returns a user with its grants, or ENOTFOUND.
func (db *DB) GetUser(ctx context.Context, id string) (*izy.User, error) {
	u, _, err := db.oneUser(ctx, getUserSQL, id)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.ENOTFOUND, "user %s not found", id)
	}
	return u, err
}

func (t *tx) getUser(ctx context.Context, id string) (*izy.User, error) {
	rows, err := t.query(ctx, getUserSQL, id)
	if err != nil {
		return nil, dbErr("read user", err)
	}
	users, _, err := scanUsers(rows)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, izy.Errorf(izy.ENOTFOUND, "user %s not found", id)
	}
	return &users[0], nil
}

const userByTokenSQL = `SELECT ` + userGrantCols + ` FROM tokens t JOIN users u ON u.id = t.user_id
	LEFT JOIN grants g ON g.user_id = u.id
	WHERE t.hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.disabled = ?
	ORDER BY g.customer_id`

// UserByTokenHash returns the enabled user of an unexpired token, or EUNAUTHORIZED. It runs
// on every request: one indexed statement, prepared once per connection.
func (db *DB) UserByTokenHash(ctx context.Context, tokenHash string, now time.Time) (*izy.User, error) {
	u, _, err := db.oneUser(ctx, userByTokenSQL, tokenHash, db.ts(now), false)
	if err == sql.ErrNoRows {
		return nil, izy.Errorf(izy.EUNAUTHORIZED, "the token is unknown, expired or revoked; log in again")
	}
	return u, err
}

// CreateToken stores the hash of a new bearer token.
func (db *DB) CreateToken(ctx context.Context, tok *izy.Token, tokenHash string) error {
	if tok.ID == "" {
		tok.ID = izy.NewID()
	}
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = now()
	}
	tok.CreatedAt = tok.CreatedAt.UTC().Truncate(time.Microsecond)
	tok.ExpiresAt = tok.ExpiresAt.UTC().Truncate(time.Microsecond)
	return db.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO tokens (hash, id, user_id, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			tokenHash, tok.ID, tok.UserID, tok.Name, db.ts(tok.CreatedAt), db.tsNull(tok.ExpiresAt))
		if err != nil {
			return constraintErr("create token", err, "the token already exists", "user_id does not exist")
		}
		return t.audit(ctx, "create", "token", tok.ID, tok)
	})
}

// DeleteToken revokes a token; an unknown token is not an error.
func (db *DB) DeleteToken(ctx context.Context, tokenHash string) error {
	return db.write(ctx, func(t *tx) error {
		var id, userID string
		err := t.queryRow(ctx, "SELECT id, user_id FROM tokens WHERE hash = ?", tokenHash).Scan(&id, &userID)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return dbErr("delete token", err)
		}
		if _, err := t.exec(ctx, "DELETE FROM tokens WHERE hash = ?", tokenHash); err != nil {
			return dbErr("delete token", err)
		}
		return t.audit(ctx, "delete", "token", id, map[string]string{"user_id": userID})
	})
}

// LoginFailures returns the failed logins in a row for username and when the last was.
func (db *DB) LoginFailures(ctx context.Context, username string) (int, time.Time, error) {
	var n int
	var at time.Time
	err := db.queryRow(ctx, "SELECT count, last_at FROM login_failures WHERE username = ?", username).Scan(&n, timeCol{&at})
	if err == sql.ErrNoRows {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, dbErr("read login failures", err)
	}
	return n, at, nil
}

// RecordLoginFailure counts one more failed login for username and returns the new count.
func (db *DB) RecordLoginFailure(ctx context.Context, username string, at time.Time) (int, error) {
	var n int
	err := db.write(ctx, func(t *tx) error {
		err := t.queryRow(ctx, `INSERT INTO login_failures (username, count, last_at) VALUES (?, 1, ?)
			ON CONFLICT (username) DO UPDATE SET count = login_failures.count + 1, last_at = excluded.last_at
			RETURNING count`, username, db.ts(at)).Scan(&n)
		if err != nil {
			return dbErr("record login failure", err)
		}
		return nil
	})
	return n, err
}

// ClearLoginFailures resets the count after a successful login.
func (db *DB) ClearLoginFailures(ctx context.Context, username string) error {
	return db.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "DELETE FROM login_failures WHERE username = ?", username)
		return dbErr("clear login failures", err)
	})
}

// checkGrants returns EINVALID when a grant names a customer that does not exist.
func (t *tx) checkGrants(ctx context.Context, grants []izy.Grant) error {
	for _, g := range grants {
		if err := t.customerExists(ctx, g.CustomerID); err != nil {
			if izy.ErrorCode(err) == izy.EINVALID {
				return izy.Errorf(izy.EINVALID, "grant: customer %s does not exist", g.CustomerID)
			}
			return err
		}
	}
	return nil
}

func (t *tx) insertGrants(ctx context.Context, userID string, grants []izy.Grant) error {
	for _, g := range grants {
		if _, err := t.exec(ctx, "INSERT INTO grants (user_id, customer_id, access) VALUES (?, ?, ?)", userID, g.CustomerID, g.Access); err != nil {
			return constraintErr("write grants", err, "customer "+g.CustomerID+" is granted twice", "grant: customer "+g.CustomerID+" does not exist")
		}
	}
	return nil
}

// userDetail is what the audit log keeps of a user: never the password hash.
func userDetail(u *izy.User) any { return u }

// CreateUser stores a new user with its grants and password hash.
func (db *DB) CreateUser(ctx context.Context, u *izy.User, passwordHash string) error {
	if u.ID == "" {
		u.ID = izy.NewID()
	}
	if u.Grants == nil {
		u.Grants = []izy.Grant{}
	}
	return db.write(ctx, func(t *tx) error {
		if err := t.checkGrants(ctx, u.Grants); err != nil {
			return err
		}
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		at := now()
		_, err = t.exec(ctx, `INSERT INTO users (id, username, display_name, role, password_hash, disabled, version, seq, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, u.DisplayName, string(u.Role), passwordHash, u.Disabled, 1, seq, db.ts(at), db.ts(at))
		if err != nil {
			return constraintErr("create user", err, "username "+u.Username+" is already taken", "")
		}
		if err := t.insertGrants(ctx, u.ID, u.Grants); err != nil {
			return err
		}
		u.Version, u.CreatedAt, u.UpdatedAt = 1, at, at
		return t.audit(ctx, "create", "user", u.ID, userDetail(u))
	})
}

// UpdateUser writes display name, role, grants and the disabled flag if u.Version is
// current, then sets u to the stored user.
func (db *DB) UpdateUser(ctx context.Context, u *izy.User) error {
	if u.Grants == nil {
		u.Grants = []izy.Grant{}
	}
	return db.write(ctx, func(t *tx) error {
		if err := t.checkGrants(ctx, u.Grants); err != nil {
			return err
		}
		seq, err := t.nextSeq(ctx)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE users SET display_name = ?, role = ?, disabled = ?,
			version = version + 1, seq = ?, updated_at = ? WHERE id = ? AND version = ?`,
			u.DisplayName, string(u.Role), u.Disabled, seq, db.ts(now()), u.ID, u.Version)
		if err != nil {
			return constraintErr("update user", err, "", "")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return t.versionErr(ctx, "users", "user", u.ID, u.Version)
		}
		if _, err := t.exec(ctx, "DELETE FROM grants WHERE user_id = ?", u.ID); err != nil {
			return dbErr("update user", err)
		}
		if err := t.insertGrants(ctx, u.ID, u.Grants); err != nil {
			return err
		}
		got, err := t.getUser(ctx, u.ID)
		if err != nil {
			return err
		}
		*u = *got
		return t.audit(ctx, "update", "user", u.ID, userDetail(u))
	})
}

// SetPassword replaces a user's password hash. It does not change the user's version:
// a password reset must not make an open edit form stale.
func (db *DB) SetPassword(ctx context.Context, userID, passwordHash string) error {
	return db.write(ctx, func(t *tx) error {
		res, err := t.exec(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", passwordHash, db.ts(now()), userID)
		if err != nil {
			return dbErr("set password", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return izy.Errorf(izy.ENOTFOUND, "user %s not found", userID)
		}
		return t.audit(ctx, "set_password", "user", userID, "{}")
	})
}

// ListUsers returns a page of users with their grants in ID order.
func (db *DB) ListUsers(ctx context.Context, p izy.Page) ([]izy.User, string, error) {
	after, err := pageArgs(&p)
	if err != nil {
		return nil, "", err
	}
	// The page of users is chosen in a subquery so that grants do not count against the limit.
	rows, err := db.query(ctx, `SELECT `+userGrantCols+` FROM users u LEFT JOIN grants g ON g.user_id = u.id
		WHERE u.id IN (SELECT id FROM users WHERE id > ? ORDER BY id LIMIT ?)
		ORDER BY u.id, g.customer_id`, after, p.Limit+1)
	if err != nil {
		return nil, "", dbErr("list users", err)
	}
	users, _, err := scanUsers(rows)
	if err != nil {
		return nil, "", err
	}
	if users == nil {
		users = []izy.User{}
	}
	users, next := nextCursor(users, p.Limit, func(u *izy.User) string { return u.ID })
	return users, next, nil
}
