package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// reqInfo is what the outer middleware learns about a request from the inner handlers:
// the matched route and the user. One pointer travels in the context and is filled in.
type reqInfo struct {
	id    string
	route string // the ServeMux pattern; "" when no route matched
	user  string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// requestID returns the request's ID, or "" outside a request.
func requestID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// middleware wraps the mux: request ID, security headers, panic recovery, metrics and
// the access log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{id: incomingRequestID(r.Header.Get("X-Request-ID"))}
		h := w.Header()
		h.Set("X-Request-ID", info.id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		rec := &recorder{ResponseWriter: w, info: info}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		s.metrics.inFlight.Add(1)
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				s.log.Error("panic", "request_id", info.id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, internalError(info.id))
				}
			}
			s.metrics.inFlight.Add(-1)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := info.route
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(r.Method, route, status, d)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", info.id), slog.String("method", r.Method),
				slog.String("route", route), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Duration("duration", d),
				slog.Int64("bytes", rec.bytes), slog.String("user", info.user))
			if p == http.ErrAbortHandler {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// incomingRequestID keeps a caller's request ID when it is short and plain, so a proxy's
// ID can be followed through the logs; otherwise it makes a new one.
func incomingRequestID(s string) string {
	if len(s) >= 1 && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return s
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wrap turns a route into a handler: it records the route, authenticates the caller
// unless the route is public, checks the role and answers errors as JSON.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		if info == nil { // Handler always installs it; this guards tests of bare routes.
			info = &reqInfo{}
		}
		info.route = r.Pattern
		if !rt.Public {
			u, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			info.user = u.Username
			if !rt.allows(u.Role) {
				s.writeError(w, r, izy.Errorf(izy.EFORBIDDEN, "the role %s may not %s %s; it needs %s", u.Role, rt.Method, rt.Pattern, rt.Auth()))
				return
			}
			r = r.WithContext(izy.NewContextWithUser(r.Context(), u))
		}
		if err := rt.handler(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// recorder remembers the status and size of a response for the log and metrics, and
// answers the mux's own 404 and 405 (no route matched) as JSON errors like every other.
type recorder struct {
	http.ResponseWriter
	info    *reqInfo
	status  int
	bytes   int64
	swallow bool // the mux's plain-text body is replaced by JSON
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status != 0 {
		return
	}
	rec.status = code
	if rec.info.route == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		rec.swallow = true
		body := errorBody{errorDetail{Code: izy.ENOTFOUND, Message: "no such endpoint; see GET / for the API"}}
		if code == http.StatusMethodNotAllowed {
			body.Error = errorDetail{Code: "method_not_allowed", Message: "this endpoint does not allow that method; allowed: " + rec.Header().Get("Allow")}
		}
		rec.Header().Del("Content-Length")
		writeJSON(rec.ResponseWriter, code, body)
		return
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.swallow {
		return len(b), nil
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
