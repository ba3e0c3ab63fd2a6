// Package license reads, signs and verifies Izytroniq licences and decides what they
// allow: the edition, the concurrent-user and offline seats, and the expiry.
package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/release"
)

// Edition is a product edition a licence grants.
type Edition string

// The editions. Only Enterprise Ultimate allows offline checkout.
const (
	Business           Edition = "Business"
	EnterprisePremium  Edition = "Enterprise Premium"
	EnterpriseUltimate Edition = "Enterprise Ultimate"
)

// Editions lists every edition, lowest first.
var Editions = []Edition{Business, EnterprisePremium, EnterpriseUltimate}

// Evaluation is the edition the server reports without a valid licence.
const Evaluation = "evaluation"

// MaxFileSize bounds a licence file; anything larger is refused unread.
const MaxFileSize = 64 << 10

// ExpiringWithin is how close to its expiry a licence counts as expiring.
const ExpiringWithin = 30 * 24 * time.Hour

// signedPrefix starts the signed encoding, so a signature made for anything else (a
// release manifest, another format version) never verifies as a licence.
const signedPrefix = "izytroniq-license-v1\n"

// dateLayout is the layout of issued and expires.
const dateLayout = "2006-01-02"

// License is a licence: who may run which edition with how many seats until when,
// and the key that signed it.
type License struct {
	ID           string  `json:"id"`
	Customer     string  `json:"customer"`
	Edition      Edition `json:"edition"`
	Seats        int     `json:"seats"`         // concurrent users
	OfflineSeats int     `json:"offline_seats"` // client IDs that may check out
	Issued       string  `json:"issued"`        // YYYY-MM-DD
	Expires      string  `json:"expires"`       // YYYY-MM-DD, the last day it is valid (UTC)
	KeyID        string  `json:"key_id"`        // release.KeyID of the signing key
	Signature    string  `json:"signature"`     // base64 ed25519 signature of SignedBytes
}

// fields are the keys of a licence file, all required, nothing else allowed.
var fields = []string{"id", "customer", "edition", "seats", "offline_seats", "issued", "expires", "key_id", "signature"}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	keyIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// SignedBytes is exactly what the signature covers: the line "izytroniq-license-v1",
// then one line "name=value" per field in this order — id, customer, edition, seats,
// offline_seats, issued, expires, key_id — each ending in "\n", numbers in decimal,
// strings as they are (Validate forbids control characters, so a value cannot break a
// line).
func (l *License) SignedBytes() []byte {
	var b bytes.Buffer
	b.WriteString(signedPrefix)
	for _, kv := range [][2]string{
		{"id", l.ID}, {"customer", l.Customer}, {"edition", string(l.Edition)},
		{"seats", strconv.Itoa(l.Seats)}, {"offline_seats", strconv.Itoa(l.OfflineSeats)},
		{"issued", l.Issued}, {"expires", l.Expires}, {"key_id", l.KeyID},
	} {
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(kv[1])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Validate checks every field but the signature's validity.
func (l *License) Validate() error {
	switch {
	case !idPattern.MatchString(l.ID):
		return fmt.Errorf("id %q: want 1 to 64 letters, digits, '.', '_' or '-'", l.ID)
	case strings.TrimSpace(l.Customer) == "" || utf8.RuneCountInString(l.Customer) > 200 || !utf8.ValidString(l.Customer):
		return fmt.Errorf("customer: want 1 to 200 characters of UTF-8 text")
	case strings.ContainsFunc(l.Customer, unicode.IsControl):
		return fmt.Errorf("customer: must not contain control characters")
	case !slices.Contains(Editions, l.Edition):
		return fmt.Errorf("edition %q is not one of %s", l.Edition, editionList())
	case l.Seats < 1 || l.Seats > 1_000_000:
		return fmt.Errorf("seats: %d is outside 1 … 1000000", l.Seats)
	case l.OfflineSeats < 0 || l.OfflineSeats > 1_000_000:
		return fmt.Errorf("offline_seats: %d is outside 0 … 1000000", l.OfflineSeats)
	case !keyIDPattern.MatchString(l.KeyID):
		return fmt.Errorf("key_id %q: want 16 lower-case hex digits", l.KeyID)
	}
	issued, err := parseDate("issued", l.Issued)
	if err != nil {
		return err
	}
	expires, err := parseDate("expires", l.Expires)
	if err != nil {
		return err
	}
	if expires.Before(issued) {
		return fmt.Errorf("expires %s is before issued %s", l.Expires, l.Issued)
	}
	return nil
}

func parseDate(name, s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("%s %q: want a date YYYY-MM-DD", name, s)
	}
	return t, nil
}

func editionList() string {
	var s []string
	for _, e := range Editions {
		s = append(s, strconv.Quote(string(e)))
	}
	return strings.Join(s, ", ")
}

// ParseEdition returns the edition named s, ignoring case.
func ParseEdition(s string) (Edition, error) {
	for _, e := range Editions {
		if strings.EqualFold(strings.TrimSpace(s), string(e)) {
			return e, nil
		}
	}
	return "", fmt.Errorf("edition %q is not one of %s", s, editionList())
}

// Parse decodes a licence file strictly: one JSON object holding exactly the licence
// fields, valid values, a signature of the right size, nothing after it. It does not
// check the signature against a key; Verify does.
func Parse(data []byte) (*License, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("licence file is %d bytes, more than the %d a licence can be", len(data), MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("licence file is not a JSON object: %w", err)
	}
	if raw == nil {
		return nil, errors.New("licence file is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("licence file has data after the JSON object")
	}
	for k, v := range raw {
		if string(v) == "null" {
			return nil, fmt.Errorf("licence field %s is null", k)
		}
		if !slices.Contains(fields, k) {
			return nil, fmt.Errorf("licence file has an unknown field %q", k)
		}
	}
	var missing []string
	for _, k := range fields {
		if _, ok := raw[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("licence file lacks %s", strings.Join(missing, ", "))
	}
	var l License
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"id", &l.ID}, {"customer", &l.Customer}, {"edition", &l.Edition}, {"seats", &l.Seats},
		{"offline_seats", &l.OfflineSeats}, {"issued", &l.Issued}, {"expires", &l.Expires},
		{"key_id", &l.KeyID}, {"signature", &l.Signature},
	} {
		if err := json.Unmarshal(raw[f.name], f.dst); err != nil {
			return nil, fmt.Errorf("licence field %s: %s is not a %s", f.name, truncate(raw[f.name]), kind(f.dst))
		}
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("licence: %w", err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(l.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("licence signature: want %d bytes in standard base64", ed25519.SignatureSize)
	}
	return &l, nil
}

func kind(dst any) string {
	if _, ok := dst.(*int); ok {
		return "whole number"
	}
	return "string"
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// ErrUntrusted means a licence is signed by a key that is not trusted.
var ErrUntrusted = errors.New("licence is signed by a key that is not trusted")

// Verify checks that l is signed by one of keys.
func (l *License) Verify(keys []ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.Strict().DecodeString(l.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("licence signature is malformed")
	}
	for _, k := range keys {
		if release.KeyID(k) != l.KeyID {
			continue
		}
		if !ed25519.Verify(k, l.SignedBytes(), sig) {
			return fmt.Errorf("licence signature does not match its contents (key %s): the file was changed after it was issued", l.KeyID)
		}
		return nil
	}
	return fmt.Errorf("%w: key %s is not among the %d in license.trusted_keys", ErrUntrusted, l.KeyID, len(keys))
}

// Sign sets l's key ID and signature with priv after validating it.
func (l *License) Sign(priv ed25519.PrivateKey) error {
	l.KeyID = release.KeyID(priv.Public().(ed25519.PublicKey))
	if err := l.Validate(); err != nil {
		return err
	}
	l.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, l.SignedBytes()))
	return nil
}

// Marshal encodes a signed licence as its file.
func (l *License) Marshal() []byte {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		panic(err) // a struct of strings and ints always encodes
	}
	return append(b, '\n')
}

// Issue returns a new licence signed with priv, issued on now's date (UTC).
func Issue(priv ed25519.PrivateKey, customer string, edition Edition, seats, offlineSeats int, expires string, now time.Time) (*License, error) {
	l := &License{ID: izy.NewID(), Customer: customer, Edition: edition, Seats: seats, OfflineSeats: offlineSeats,
		Issued: now.UTC().Format(dateLayout), Expires: expires}
	if err := l.Sign(priv); err != nil {
		return nil, err
	}
	return l, nil
}

// ExpiresAt is the first instant the licence is no longer valid: the day after Expires,
// 00:00 UTC.
func (l *License) ExpiresAt() time.Time {
	t, _ := time.Parse(dateLayout, l.Expires)
	return t.AddDate(0, 0, 1)
}

// DaysLeft is the number of whole days from now until the licence expires (0 once it has).
func (l *License) DaysLeft(now time.Time) int {
	d := l.ExpiresAt().Sub(now)
	if d <= 0 {
		return 0
	}
	return int(d / (24 * time.Hour))
}

// Expired reports whether the licence's last day has passed at now.
func (l *License) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt()) }

// ReadFile reads and parses the licence file at path, refusing files over MaxFileSize
// without reading them whole.
func ReadFile(path string) (*License, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read licence %s: %w", path, err)
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("licence %s: %w", path, err)
	}
	return l, nil
}

// ReadTrustedKeys reads the public keys of every file in paths (files written by
// `izytroniq license keygen`).
func ReadTrustedKeys(paths []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read trusted licence key: %w", err)
		}
		ks, err := release.ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("trusted licence key %s: %w", p, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}
