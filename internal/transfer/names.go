package transfer

import (
	"path/filepath"

	izy "github.com/izytroniq/izytroniq"
)

// Every path below the store is built here, and only from names that passed a strict
// check first: a session ID is a canonical lower-case UUID, a blob name is 64 lower-case
// hex digits. Neither can hold a separator, a dot, a drive letter or a NUL, so no request
// can steer a path anywhere else, whatever it encodes. The store's own names are fixed.
const (
	blobsDir    = "sha256"       // blobs: sha256/ab/cd/abcd…
	sessionsDir = "sessions"     // upload sessions: sessions/<id>/
	tmpDir      = "tmp"          // probe files of Health
	sessionFile = "session.json" // a session's metadata and received ranges
	sessionTemp = "session.json.tmp"
	dataFile    = "data" // a session's bytes, at their final offsets
)

// validSHA256 reports whether s is a SHA-256 digest in 64 lower-case hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validSessionID reports whether s can name a session: a canonical lower-case UUID.
func validSessionID(s string) bool { return izy.ValidID(s) }

// blobElems returns the path elements of the blob with digest sum.
func blobElems(sum string) ([]string, error) {
	if !validSHA256(sum) {
		return nil, izy.Errorf(izy.EINVALID, "a blob is named by its SHA-256 in 64 lower-case hex digits")
	}
	return []string{blobsDir, sum[0:2], sum[2:4], sum}, nil
}

// sessionElems returns the path elements of the session id's directory, or of a file in it.
func sessionElems(id string, file ...string) ([]string, error) {
	if !validSessionID(id) {
		return nil, izy.Errorf(izy.EINVALID, "a session id is a UUID in lower-case canonical form")
	}
	return append([]string{sessionsDir, id}, file...), nil
}

func join(elems []string) string { return filepath.Join(elems...) }
