package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// tokenLen is the length of a bearer token: 32 random bytes in unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// newToken returns a fresh bearer token and the hash under which it is stored.
func newToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken is the SHA-256 (hex) of a token; a stolen database holds no usable tokens.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// bearerToken returns the token of the Authorization header, or an EUNAUTHORIZED error.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return "", izy.Errorf(izy.EUNAUTHORIZED, "sign in first: send Authorization: Bearer TOKEN (POST /api/v1/login gives one)")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", izy.Errorf(izy.EUNAUTHORIZED, "the Authorization header must be: Bearer TOKEN")
	}
	token = strings.TrimSpace(token)
	if len(token) != tokenLen {
		return "", izy.Errorf(izy.EUNAUTHORIZED, "the token is invalid or has expired; sign in again")
	}
	if _, err := base64.RawURLEncoding.DecodeString(token); err != nil {
		return "", izy.Errorf(izy.EUNAUTHORIZED, "the token is invalid or has expired; sign in again")
	}
	return token, nil
}

// authenticate resolves the user of the request's bearer token.
func (s *Server) authenticate(r *http.Request) (*izy.User, error) {
	token, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByTokenHash(r.Context(), hashToken(token), s.now())
	if izy.ErrorCode(err) == izy.EUNAUTHORIZED || izy.ErrorCode(err) == izy.ENOTFOUND {
		return nil, izy.Errorf(izy.EUNAUTHORIZED, "the token is invalid or has expired; sign in again")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled { // the store should not return one; refuse anyway
		return nil, izy.Errorf(izy.EUNAUTHORIZED, "the account is disabled")
	}
	return u, nil
}

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

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, izy.UserFromContext(r.Context()))
	return nil
}

// passwordChange is the body of PUT /api/v1/me/password.
type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func decodePasswordChange(body []byte) (*passwordChange, error) {
	var p passwordChange
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	if p.CurrentPassword == "" {
		return nil, izy.Errorf(izy.EINVALID, "current_password is required")
	}
	return &p, izy.ValidatePassword(p.NewPassword)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodePasswordChange(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	me := izy.UserFromContext(ctx)
	_, hash, err := s.store.UserByUsername(ctx, me.Username)
	if err != nil {
		return err
	}
	if !password.Check(hash, req.CurrentPassword) {
		return izy.Errorf(izy.EFORBIDDEN, "current_password is wrong")
	}
	newHash, err := password.Hash(req.NewPassword, s.cfg.PasswordIterations)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, me.ID, newHash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
