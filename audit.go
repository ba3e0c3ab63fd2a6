package izytroniq

import "time"

// AuditEntry records one change: who did what to which entity, and when.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	UserID   string    `json:"user_id"`
	Action   string    `json:"action"` // create, update, delete, retire, login, …
	Entity   string    `json:"entity"` // customer, location, device, …
	EntityID string    `json:"entity_id"`
	Detail   string    `json:"detail"` // JSON of the new state or of what changed
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Entity   string
	EntityID string
	Page
}
