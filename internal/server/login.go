package server

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
)

// Login throttling: after FreeLoginFailures failures in a row a username waits
// 2^(n-FreeLoginFailures) seconds after its last failure, at most MaxLoginDelay. The count
// lives in the database, so every server process sharing it agrees.
const (
	FreeLoginFailures = 5
	MaxLoginDelay     = 15 * time.Minute
)

// loginRequest is the body of POST /api/v1/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (l *loginRequest) validate() error {
	l.Username = strings.TrimSpace(l.Username)
	if l.Username == "" || l.Password == "" {
		return izy.Errorf(izy.EINVALID, "username and password are required")
	}
	if len(l.Username) > 64 || len(l.Password) > 1024 {
		return izy.Errorf(izy.EINVALID, "username or password is too long")
	}
	return nil
}

// decodeLogin decodes and validates a login body.
func decodeLogin(body []byte) (*loginRequest, error) {
	var l loginRequest
	if err := decodeJSON(body, &l); err != nil {
		return nil, err
	}
	return &l, l.validate()
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      *izy.User `json:"user"`
}

// loginDelay is how long a username must wait after n failures in a row.
func loginDelay(n int) time.Duration {
	if n < FreeLoginFailures {
		return 0
	}
	exp := n - FreeLoginFailures
	if exp > 20 {
		return MaxLoginDelay
	}
	return min(time.Duration(math.Pow(2, float64(exp)))*time.Second, MaxLoginDelay)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeLogin(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	n, last, err := s.store.LoginFailures(ctx, req.Username)
	if err != nil {
		return err
	}
	if wait := last.Add(loginDelay(n)).Sub(now); n >= FreeLoginFailures && wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return izy.Errorf(izy.ERATELIMIT, "too many failed logins for this username; try again in %d seconds", int(math.Ceil(wait.Seconds())))
	}
	u, hash, err := s.store.UserByUsername(ctx, req.Username)
	switch izy.ErrorCode(err) {
	case "":
	case izy.ENOTFOUND:
		u, hash = nil, s.dummyHash()
	default:
		return err
	}
	ok := password.Check(hash, req.Password)
	if !ok || u == nil || u.Disabled {
		if _, err := s.store.RecordLoginFailure(ctx, req.Username, now); err != nil {
			return err
		}
		s.log.Info("login failed", "username", req.Username, "request_id", requestID(ctx))
		return izy.Errorf(izy.EUNAUTHORIZED, "wrong username or password, or the account is disabled")
	}
	if n > 0 {
		if err := s.store.ClearLoginFailures(ctx, req.Username); err != nil {
			return err
		}
	}
	ctx = izy.NewContextWithUser(ctx, u) // the audit log names who signed in
	token, tokenHash := newToken()
	t := &izy.Token{ID: izy.NewID(), UserID: u.ID, Name: "login", CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
	if err := s.store.CreateToken(ctx, t, tokenHash); err != nil {
		return err
	}
	if info := infoFrom(ctx); info != nil {
		info.user = u.Username
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: t.ExpiresAt.UTC(), User: u})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	token, err := bearerToken(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteToken(r.Context(), hashToken(token)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
