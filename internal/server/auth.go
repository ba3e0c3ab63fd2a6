package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	izy "github.com/izytroniq/izytroniq"
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
