package server

import (
	"net/http"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Conventions shared by the resource handlers:
//   - create answers 201 with the stored row and a Location header;
//   - PUT replaces every writable field, PATCH changes only the fields given; both need
//     the "version" the caller last read, and a stale one is 409 with nothing changed;
//   - fields the server owns (seq, timestamps, due dates, results) may be sent back as
//     read and are ignored, so that a fetched object can be edited and returned whole.

var zeroTime time.Time

// checkUpdate checks the id and version of an update body against the stored row.
func checkUpdate(bodyID, pathID string, version int64) error {
	if bodyID != "" && bodyID != pathID {
		return izy.Errorf(izy.EINVALID, "id in the body does not match the id in the path")
	}
	if version < 1 {
		return izy.Errorf(izy.EINVALID, "version is required: send the version you last read, so that nobody's change is overwritten unseen")
	}
	return nil
}

// created answers 201 with v and where to find it.
func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}
