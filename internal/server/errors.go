package server

import (
	"context"
	"errors"
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// httpStatus is the one place where an error code becomes an HTTP status.
func httpStatus(code string) int {
	switch code {
	case izy.EINVALID:
		return http.StatusBadRequest
	case izy.ENOTFOUND:
		return http.StatusNotFound
	case izy.ECONFLICT:
		return http.StatusConflict
	case izy.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case izy.EFORBIDDEN:
		return http.StatusForbidden
	case izy.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case izy.ERATELIMIT:
		return http.StatusTooManyRequests
	case izy.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON answer of every failed API request.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err as {"error":{"code","message"}}. Internal errors are logged
// with the request ID and answered with a generic message, never with their text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = izy.Errorf(izy.EUNAVAILABLE, "the request was cancelled or timed out")
	}
	code, msg := izy.ErrorCode(err), izy.ErrorMessage(err)
	if code == izy.EINTERNAL {
		id := requestID(r.Context())
		s.log.Error("internal error", "err", err, "request_id", id, "method", r.Method, "path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, internalError(id))
		return
	}
	if code == izy.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="izytroniq"`)
	}
	writeJSON(w, httpStatus(code), errorBody{errorDetail{Code: code, Message: msg}})
}

// internalError is the answer to a failure the caller cannot act on; the details are in
// the log under the request ID.
func internalError(requestID string) errorBody {
	return errorBody{errorDetail{Code: izy.EINTERNAL, Message: "internal error; the server log has the details under request id " + requestID}}
}
