package izytroniq

import (
	"strings"
	"unicode/utf8"
)

// checkText checks that a text field is valid UTF-8 without control characters and has
// between min and max characters.
func checkText(field, s string, min, max int) error {
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		if min == 1 {
			return Errorf(EINVALID, "%s is required", field)
		}
		return Errorf(EINVALID, "%s must have at least %d characters", field, min)
	}
	if n > max {
		return Errorf(EINVALID, "%s must have at most %d characters (has %d)", field, max, n)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
		return Errorf(EINVALID, "%s contains control characters", field)
	}
	return nil
}

// Page asks for one page of a list: at most Limit items after Cursor.
type Page struct {
	Cursor string // opaque; from the previous page's next_cursor
	Limit  int    // 1..MaxPageLimit; 0 means DefaultPageLimit
}

// Page size limits.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Normalize applies the default limit and rejects out-of-range values.
func (p *Page) Normalize() error {
	if p.Limit == 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return Errorf(EINVALID, "limit must be between 1 and %d", MaxPageLimit)
	}
	if len(p.Cursor) > 200 {
		return Errorf(EINVALID, "cursor is not valid")
	}
	return nil
}
