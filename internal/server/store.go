package server

import (
	"context"
	"database/sql"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Store is what the HTTP server needs from the database. cmd/izytroniq passes a
// *sqldb.DB. Every method is one transaction. Errors are *izy.Error where the caller can do
// something about them: ENOTFOUND for a missing (or invisible) row, ECONFLICT for a stale
// version or a duplicate key, EINVALID for a broken reference. Mutating methods write an
// audit entry in the same transaction, naming izy.UserIDFromContext(ctx) as the actor.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// SchemaVersions returns the schema version stored in database_info and the version
	// this binary's migrations reach.
	SchemaVersions(ctx context.Context) (current, want int, err error)
	// Stats returns connection pool statistics for /metrics.
	Stats() sql.DBStats

	// UserByUsername returns an enabled or disabled user and its password hash.
	UserByUsername(ctx context.Context, username string) (*izy.User, string, error)
	// LoginFailures returns how many logins for username failed in a row and when the last did.
	LoginFailures(ctx context.Context, username string) (int, time.Time, error)
	// RecordLoginFailure counts one more failed login for username and returns the new count.
	RecordLoginFailure(ctx context.Context, username string, at time.Time) (int, error)
	// ClearLoginFailures resets the count after a successful login.
	ClearLoginFailures(ctx context.Context, username string) error
	// CreateToken stores the SHA-256 hash (hex) of a new bearer token.
	CreateToken(ctx context.Context, t *izy.Token, tokenHash string) error
	// UserByTokenHash returns the enabled user of an unexpired token, or EUNAUTHORIZED.
	UserByTokenHash(ctx context.Context, tokenHash string, now time.Time) (*izy.User, error)
	// DeleteToken revokes a token (logout); revoking an unknown token is not an error.
	DeleteToken(ctx context.Context, tokenHash string) error

	CreateUser(ctx context.Context, u *izy.User, passwordHash string) error
	GetUser(ctx context.Context, id string) (*izy.User, error)
	// UpdateUser writes display name, role, grants and disabled flag if u.Version is current,
	// then sets u.Version to the new version.
	UpdateUser(ctx context.Context, u *izy.User) error
	SetPassword(ctx context.Context, userID, passwordHash string) error
	ListUsers(ctx context.Context, p izy.Page) ([]izy.User, string, error)

	// Create* fill ID (when empty), Version (1), Seq and timestamps.
	// Update* check the given Version, write, and return the stored row with the new Version.
	// List* return a page and the next cursor ("" at the end).
	CreateCustomer(ctx context.Context, c *izy.Customer) error
	GetCustomer(ctx context.Context, id string) (*izy.Customer, error)
	UpdateCustomer(ctx context.Context, c *izy.Customer) error
	// DeleteCustomer deletes a customer without devices, locations or tests (else ECONFLICT).
	DeleteCustomer(ctx context.Context, id string, version int64) error
	ListCustomers(ctx context.Context, f izy.CustomerFilter) ([]izy.Customer, string, error)

	// CreateLocation and UpdateLocation check the parent (same customer, deeper level).
	CreateLocation(ctx context.Context, l *izy.Location) error
	GetLocation(ctx context.Context, id string) (*izy.Location, error)
	UpdateLocation(ctx context.Context, l *izy.Location) error
	// DeleteLocation deletes a location without children or devices (else ECONFLICT).
	DeleteLocation(ctx context.Context, id string, version int64) error
	ListLocations(ctx context.Context, f izy.LocationFilter) ([]izy.Location, string, error)

	// CreateDevice and UpdateDevice check that the location belongs to the same customer.
	// The customer of a device never changes.
	CreateDevice(ctx context.Context, d *izy.Device) error
	GetDevice(ctx context.Context, id string) (*izy.Device, error)
	UpdateDevice(ctx context.Context, d *izy.Device) error
	ListDevices(ctx context.Context, f izy.DeviceFilter) ([]izy.Device, string, error)

	CreateInstrument(ctx context.Context, i *izy.Instrument) error
	GetInstrument(ctx context.Context, id string) (*izy.Instrument, error)
	UpdateInstrument(ctx context.Context, i *izy.Instrument) error
	ListInstruments(ctx context.Context, f izy.InstrumentFilter) ([]izy.Instrument, string, error)

	// CreateTest stores an evaluated test with its measurements and, when the test is not
	// older than the device's last test, sets the device's last test date, last result and
	// next due date from it (bumping the device's seq, not its version).
	CreateTest(ctx context.Context, t *izy.Test) error
	GetTest(ctx context.Context, id string) (*izy.Test, error)
	ListTests(ctx context.Context, f izy.TestFilter) ([]izy.Test, string, error)

	// Dashboard counts active devices and instruments per colour on today.
	Dashboard(ctx context.Context, today izy.Date, w izy.EscalationWindows, grantedTo string) (*izy.Dashboard, error)

	ListAudit(ctx context.Context, f izy.AuditFilter) ([]izy.AuditEntry, string, error)
}
