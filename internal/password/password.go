// Package password hashes passwords slowly (PBKDF2-HMAC-SHA256) and checks them in
// constant time. The cost is stored in each hash, so it can be raised without breaking
// existing passwords.
package password

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultIterations follows the OWASP recommendation for PBKDF2-HMAC-SHA256.
const DefaultIterations = 600_000

// Hash returns "pbkdf2-sha256$ITER$SALT$KEY" for p.
func Hash(p string, iterations int) (string, error) {
	if iterations < 1 {
		iterations = DefaultIterations
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, p, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Check reports whether p matches hash. A malformed hash never matches.
func Check(hash, p string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if errors.Join(err1, err2) != nil || len(want) != 32 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, p, salt, iter, 32)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Dummy runs a check against a fixed hash, so that a login for an unknown user takes as
// long as one for a known user.
func Dummy(p string, iterations int) {
	h, _ := Hash("dummy-password", iterations)
	Check(h, p)
}
