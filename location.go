package izytroniq

import (
	"strings"
	"time"
)

// LocationKind is the level of a location in a customer's four-level tree.
type LocationKind string

// The four levels, from the top.
const (
	LocationProperty LocationKind = "property"
	LocationBuilding LocationKind = "building"
	LocationLevel    LocationKind = "level"
	LocationRoom     LocationKind = "room"
)

// Rank returns 1 for property … 4 for room, and 0 for an unknown kind.
func (k LocationKind) Rank() int {
	switch k {
	case LocationProperty:
		return 1
	case LocationBuilding:
		return 2
	case LocationLevel:
		return 3
	case LocationRoom:
		return 4
	}
	return 0
}

// Location is a node of a customer's location tree.
type Location struct {
	ID         string       `json:"id"`
	CustomerID string       `json:"customer_id"`
	ParentID   *string      `json:"parent_id"`
	Kind       LocationKind `json:"kind"`
	Name       string       `json:"name"`
	Version    int64        `json:"version"`
	Seq        int64        `json:"seq"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
}

// Validate checks the fields of l on their own.
func (l *Location) Validate() error {
	l.Name = strings.TrimSpace(l.Name)
	if !ValidID(l.CustomerID) {
		return Errorf(EINVALID, "customer_id must be a valid id")
	}
	if l.Kind.Rank() == 0 {
		return Errorf(EINVALID, "kind must be property, building, level or room")
	}
	if l.ParentID != nil && !ValidID(*l.ParentID) {
		return Errorf(EINVALID, "parent_id must be a valid id or null")
	}
	if l.ParentID == nil && l.Kind != LocationProperty {
		return Errorf(EINVALID, "a %s needs a parent; only a property sits at the top of the tree", l.Kind)
	}
	return checkText("name", l.Name, 1, 200)
}

// ValidateParent checks that l may sit under parent: same customer, and a deeper level
// (a room may sit directly in a building, but never a building in a room).
func (l *Location) ValidateParent(parent *Location) error {
	if parent.CustomerID != l.CustomerID {
		return Errorf(EINVALID, "parent location belongs to another customer")
	}
	if l.Kind.Rank() <= parent.Kind.Rank() {
		return Errorf(EINVALID, "a %s cannot sit under a %s", l.Kind, parent.Kind)
	}
	return nil
}

// LocationFilter selects locations for a list.
type LocationFilter struct {
	GrantedTo  string // when set, only customers this user holds a grant for
	CustomerID string
	ParentID   string // direct children of this location
	Page
}
