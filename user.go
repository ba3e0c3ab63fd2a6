package izytroniq

import (
	"context"
	"strings"
	"time"
)

// Role decides what a user may do; grants decide for which customers.
type Role string

// The four roles.
const (
	RoleAdmin     Role = "admin"     // everything, every customer, users and settings
	RoleClerk     Role = "clerk"     // customers, locations, devices, instruments; no tests
	RoleInspector Role = "inspector" // devices, locations and tests of granted customers
	RoleReadOnly  Role = "read-only" // reads granted customers
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleClerk || r == RoleInspector || r == RoleReadOnly
}

// Access levels of a grant.
const (
	AccessRead  = "read"
	AccessWrite = "write"
)

// Grant gives a user read or write access to one customer.
type Grant struct {
	CustomerID string `json:"customer_id"`
	Access     string `json:"access"`
}

// User is a person or a machine that signs in.
type User struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	Grants      []Grant   `json:"grants"`
	Disabled    bool      `json:"disabled"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Validate checks the fields of u.
func (u *User) Validate() error {
	u.Username = strings.TrimSpace(u.Username)
	if err := checkText("username", u.Username, 1, 64); err != nil {
		return err
	}
	for _, r := range u.Username {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '@') {
			return Errorf(EINVALID, "username may contain only letters, digits and . - _ @")
		}
	}
	if err := checkText("display_name", u.DisplayName, 0, 200); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return Errorf(EINVALID, "role must be admin, inspector, clerk or read-only")
	}
	seen := map[string]bool{}
	for _, g := range u.Grants {
		if !ValidID(g.CustomerID) {
			return Errorf(EINVALID, "grant customer_id must be a valid id")
		}
		if g.Access != AccessRead && g.Access != AccessWrite {
			return Errorf(EINVALID, "grant access must be read or write")
		}
		if seen[g.CustomerID] {
			return Errorf(EINVALID, "customer %s is granted twice", g.CustomerID)
		}
		seen[g.CustomerID] = true
	}
	return nil
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// ValidatePassword checks a new password.
func ValidatePassword(p string) error {
	if len([]rune(p)) < MinPasswordLength {
		return Errorf(EINVALID, "password must have at least %d characters", MinPasswordLength)
	}
	if len(p) > 1024 {
		return Errorf(EINVALID, "password must have at most 1024 bytes")
	}
	return nil
}

// CanRead reports whether u may read the data of customer id.
func (u *User) CanRead(customerID string) bool {
	if u.Role == RoleAdmin {
		return true
	}
	for _, g := range u.Grants {
		if g.CustomerID == customerID {
			return true
		}
	}
	return false
}

// CanWrite reports whether u holds a write grant for customer id (admins always do). What
// the user may write there still depends on the role.
func (u *User) CanWrite(customerID string) bool {
	if u.Role == RoleAdmin {
		return true
	}
	if u.Role == RoleReadOnly {
		return false
	}
	for _, g := range u.Grants {
		if g.CustomerID == customerID && g.Access == AccessWrite {
			return true
		}
	}
	return false
}

// SeesAllCustomers reports whether u's reads need no grant filter.
func (u *User) SeesAllCustomers() bool { return u.Role == RoleAdmin }

// Token is an API token; only its hash is stored.
type Token struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type userKey struct{}

// NewContextWithUser returns a context that carries the acting user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the acting user, or nil.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// UserIDFromContext returns the acting user's ID, or "" for the system itself.
func UserIDFromContext(ctx context.Context) string {
	if u := UserFromContext(ctx); u != nil {
		return u.ID
	}
	return ""
}
