package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	izy "github.com/izytroniq/izytroniq"
)

// readBody checks the Content-Type and reads at most max bytes of the request body.
// A missing Content-Type and curl's default (form-urlencoded, what `curl -d` sends) are read
// as JSON too: authentication is by bearer token, never by cookie, so the strict rule would
// buy no protection against cross-site requests and would only trip up scripts. Any other
// declared type (text/plain, multipart, XML, …) is refused.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
			return nil, izy.Errorf(izy.EINVALID, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, izy.Errorf(izy.ETOOLARGE, "request body exceeds %d bytes", tooLarge.Limit)
		}
		return nil, izy.Errorf(izy.EINVALID, "reading request body: %v", err)
	}
	return body, nil
}

// decodeJSON decodes one JSON object from body into v. Fields v does not know, values
// of the wrong type, a missing or empty body and anything after the object are errors
// whose message names what is wrong. v may hold values already (a PATCH decodes onto
// the current state): fields absent from body keep them.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return izy.Errorf(izy.EINVALID, "request body is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		// encoding/json would quietly replace the broken bytes with U+FFFD.
		return izy.Errorf(izy.EINVALID, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return izy.Errorf(izy.EINVALID, "unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return nil
}

// jsonError turns an encoding/json error into a message for the caller.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var domain *izy.Error
	switch {
	case errors.As(err, &domain):
		return domain
	case errors.As(err, &syntax):
		return izy.Errorf(izy.EINVALID, "malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return izy.Errorf(izy.EINVALID, "malformed JSON: the body ends before the object does")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return izy.Errorf(izy.EINVALID, "request body must be a JSON object, not %s", typ.Value)
		}
		return izy.Errorf(izy.EINVALID, "field %q must be %s, not %s", typ.Field, jsonTypeName(typ.Type.String()), typ.Value)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return izy.Errorf(izy.EINVALID, "unknown field %s", msg)
	}
	return izy.Errorf(izy.EINVALID, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonTypeName names a Go type the way a JSON client thinks of it.
func jsonTypeName(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "string" || strings.HasSuffix(t, "Class") || strings.HasSuffix(t, "Kind") || strings.HasSuffix(t, "Role") || strings.HasSuffix(t, "Colour"):
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["):
		return "an object"
	}
	return "an object"
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

// writeJSONAs answers v as JSON with status and a JSON media type.
func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here (a type that cannot be marshalled).
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// list is the answer of every list endpoint.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// newList wraps a page; items is never null and next_cursor is null on the last page.
func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}
