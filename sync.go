package izytroniq

import (
	"encoding/json"
	"time"
)

// The sync wire protocol between the server and the field client (izy). It has its own
// version, reported in the handshake. The server accepts uploads of the previous version
// and converts them (see docs/sync-protocol.md); golden payloads of every version live in
// internal/syncer/testdata.
const (
	ProtocolVersion         = 2
	PreviousProtocolVersion = 1
)

// Checkout modes.
const (
	CheckoutShared    = "shared"    // others may edit online; conflicts are detected at check-in
	CheckoutExclusive = "exclusive" // online edits to the scope are refused, naming the holder
)

// Sync states, as the original product names them; reported at /syncservice and per client.
const (
	SyncReady            = "ready"
	SyncUploading        = "uploading"
	SyncMerging          = "merging"
	SyncConflictsPending = "conflicts-pending"
	SyncDownloading      = "downloading"
	SyncApplying         = "applying"
)

// Checkout is a visible lease of a scope (a customer, or a location subtree) by a client.
type Checkout struct {
	ID            string     `json:"id"`
	ClientID      string     `json:"client_id"`
	ClientName    string     `json:"client_name"`
	UserID        string     `json:"user_id"`
	Username      string     `json:"username"`
	CustomerID    string     `json:"customer_id"`
	LocationID    *string    `json:"location_id"` // nil: the whole customer
	Mode          string     `json:"mode"`
	Protocol      int        `json:"protocol_version"`
	State         string     `json:"state"`
	SnapshotSeq   int64      `json:"snapshot_seq"` // the server seq when the snapshot began
	AckedSeq      int64      `json:"acked_seq"`    // the client holds every change up to here
	CreatedAt     time.Time  `json:"created_at"`
	LastSeenAt    time.Time  `json:"last_seen_at"`
	ReleasedAt    *time.Time `json:"released_at"`
	OpenConflicts int        `json:"open_conflicts"`
}

// Row is one record in a snapshot or change page. Data is the entity's JSON as the API
// answers it (Customer, Location, Device, Instrument, Test with measurements), which holds
// the row's "id" and "seq"; a tombstone has Deleted set and no Data. On the wire rows go
// grouped by entity without an envelope (see AppendRows).
type Row struct {
	Entity  string          // customer, location, device, instrument, test
	ID      string          // the data's "id"
	Seq     int64           // the data's "seq"
	Deleted bool            // a tombstone
	Data    json.RawMessage // nil for a tombstone
}

// SyncPage is one page of a snapshot (in key order: entity rank, then id) or of the change
// feed (in seq order). Count and Checksum let the client prove it holds every row.
type SyncPage struct {
	Rows     []Row  `json:"rows"`
	Count    int    `json:"count"`
	Checksum string `json:"checksum"` // RowsChecksum(Rows): SHA-256 of the "rows" bytes
	// Snapshot: Next is the cursor of the next page, "" after the last page.
	Next string `json:"next,omitempty"`
	// Change feed: the client asks next for since=UpTo; More says another page is ready.
	UpTo int64 `json:"up_to,omitempty"`
	More bool  `json:"more,omitempty"`
	// Totals (per entity) of the whole snapshot, sent with its last page.
	Totals map[string]int64 `json:"totals,omitempty"`

	raw      []byte // the rows' encoding, set by Seal
	received string // the checksum of the rows' bytes as received, set by UnmarshalJSON
}

// Mutation operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete" // devices: retire; locations: delete
	OpTest   = "test"   // record a test; append-only, never conflicts
)

// Mutation is one change made offline. ID is made by the client and makes the mutation
// idempotent. For an update, Fields holds the new values of the changed fields and Base
// their values in the client's copy at BaseVersion, so the server can merge field by field.
type Mutation struct {
	ID          string                     `json:"mutation_id"`
	Op          string                     `json:"op"`
	Entity      string                     `json:"entity"` // location, device, test
	EntityID    string                     `json:"id"`
	BaseVersion int64                      `json:"base_version,omitempty"`
	Fields      map[string]json.RawMessage `json:"fields,omitempty"`
	Base        map[string]json.RawMessage `json:"base,omitempty"`
	CreatedAt   time.Time                  `json:"created_at"`
}

// Batch is one upload: idempotent by ID (a retry answers the stored result).
type Batch struct {
	ID        string     `json:"batch_id"`
	Protocol  int        `json:"protocol_version"`
	Mutations []Mutation `json:"mutations"`
}

// Mutation outcomes. Nothing is discarded: conflicts and rejections are stored whole.
const (
	MutationApplied  = "applied"
	MutationMerged   = "merged"
	MutationConflict = "conflict"
	MutationRejected = "rejected"
)

// MutationResult is the outcome of one mutation.
type MutationResult struct {
	MutationID string `json:"mutation_id"`
	Status     string `json:"status"`
	Entity     string `json:"entity"`
	EntityID   string `json:"id"`
	Version    int64  `json:"version,omitempty"` // the entity's version after applying
	ConflictID string `json:"conflict_id,omitempty"`
	Message    string `json:"message,omitempty"`
}

// BatchResult answers an upload.
type BatchResult struct {
	BatchID string           `json:"batch_id"`
	Results []MutationResult `json:"results"`
	Seq     int64            `json:"seq"` // the server seq after applying
	// Rows are the rows of the checkout's scope as the batch left them (each with its new
	// seq): the tests it recorded, the devices it edited or whose due date a test moved.
	// The client stores them, and the change feed of the same checkout leaves them out
	// unless they change again, so an upload does not come back as a download. Protocol 2
	// checkouts only.
	Rows Rows `json:"rows,omitempty"`
}

// Rows are rows in the grouped wire encoding of AppendRows (JSON: the "rows" of a page).
type Rows []Row

// MarshalJSON encodes rows with AppendRows.
func (rs Rows) MarshalJSON() ([]byte, error) { return AppendRows(nil, rs), nil }

// UnmarshalJSON decodes rows with DecodeRows; it keeps a copy of b.
func (rs *Rows) UnmarshalJSON(b []byte) error {
	rows, err := DecodeRows(append([]byte(nil), b...))
	if err != nil {
		return err
	}
	*rs = rows
	return nil
}

// Conflict kinds.
const (
	ConflictField      = "field"       // the same field changed on both sides
	ConflictDeleteEdit = "delete_edit" // deleted on one side, edited on the other
	ConflictDuplicate  = "duplicate"   // the same serial number created twice
)

// Conflict resolutions, as in the original product.
const (
	ResolveKeepServer = "keep_server"
	ResolveTakeClient = "take_client"
	ResolveMerge      = "merge"
	ResolveCreateNew  = "create_new"
)

// Conflict is a mutation that could not be applied on its own.
type Conflict struct {
	ID         string          `json:"id"`
	CheckoutID string          `json:"checkout_id"`
	MutationID string          `json:"mutation_id"`
	Kind       string          `json:"kind"`
	Entity     string          `json:"entity"`
	EntityID   string          `json:"entity_id"`
	Fields     []FieldConflict `json:"fields"`
	Mutation   Mutation        `json:"mutation"`
	Status     string          `json:"status"` // open, resolved
	Resolution string          `json:"resolution,omitempty"`
	ResolvedBy string          `json:"resolved_by,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ResolvedAt *time.Time      `json:"resolved_at"`
}

// FieldConflict shows one field's base, server and client values.
type FieldConflict struct {
	Field  string          `json:"field"`
	Base   json.RawMessage `json:"base"`
	Server json.RawMessage `json:"server"`
	Client json.RawMessage `json:"client"`
}
