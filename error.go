package izytroniq

import (
	"errors"
	"fmt"
)

// Error codes. Exactly one function (in internal/server) maps them to HTTP statuses.
const (
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the thing does not exist or is not visible to the caller
	ECONFLICT     = "conflict"     // stale version, duplicate key, or a state that forbids the change
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated, but the role or grant does not allow it
	ETOOLARGE     = "too_large"    // a body or a value exceeds a limit
	ERATELIMIT    = "rate_limited" // too many attempts, try again later
	EUNAVAILABLE  = "unavailable"  // a dependency (database) is down or the schema is not current
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details only in the log
)

// Error is the domain error: a code for programs and a message for people.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("izytroniq: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic message
// that reveals nothing about an internal error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
