package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// query reads the query parameters of a list request. Every parameter must be one the
// endpoint knows, given once; the first problem found is kept in err.
type query struct {
	v   url.Values
	err error
}

// parseQuery rejects unknown and repeated parameters; "limit" and "cursor" are always known.
func parseQuery(r *http.Request, known ...string) *query {
	q := &query{}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		q.err = izy.Errorf(izy.EINVALID, "malformed query string")
		return q
	}
	q.v = v
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name != "limit" && name != "cursor" && !slices.Contains(known, name) {
			q.fail("unknown query parameter %q; this endpoint knows %s", name, strings.Join(slices.Concat(known, []string{"limit", "cursor"}), ", "))
			return q
		}
		if len(v[name]) > 1 {
			q.fail("query parameter %q is given more than once", name)
			return q
		}
	}
	return q
}

func (q *query) fail(format string, args ...any) {
	if q.err == nil {
		q.err = izy.Errorf(izy.EINVALID, format, args...)
	}
}

// str returns a text parameter of at most 200 characters.
func (q *query) str(name string) string {
	s := q.v.Get(name)
	if len([]rune(s)) > 200 {
		q.fail("%s must have at most 200 characters", name)
		return ""
	}
	return s
}

// id returns an ID parameter, or "" when absent.
func (q *query) id(name string) string {
	s := q.v.Get(name)
	if s != "" && !izy.ValidID(s) {
		q.fail("%s must be a valid id", name)
		return ""
	}
	return s
}

// oneOf returns a parameter that must be one of allowed, or "" when absent.
func (q *query) oneOf(name string, allowed ...string) string {
	s := q.v.Get(name)
	if s != "" && !slices.Contains(allowed, s) {
		q.fail("%s must be one of %s", name, strings.Join(allowed, ", "))
		return ""
	}
	return s
}

// colour reads "colour", or its American spelling "color".
func (q *query) colour() izy.Colour {
	name := "colour"
	if q.v.Has("color") {
		if q.v.Has("colour") {
			q.fail("give colour or color, not both")
			return ""
		}
		name = "color"
	}
	return izy.Colour(q.oneOf(name, "green", "yellow", "orange", "red"))
}

// page reads limit and cursor.
func (q *query) page() izy.Page {
	var p izy.Page
	if s := q.v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			q.fail("limit must be a whole number between 1 and %d", izy.MaxPageLimit)
			return p
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not "default"
		}
		p.Limit = n
	}
	p.Cursor = q.v.Get("cursor")
	if err := p.Normalize(); err != nil {
		q.fail("%s", izy.ErrorMessage(err))
	}
	return p
}

// pathID returns the {id} of the request path, or an EINVALID error.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !izy.ValidID(id) {
		return "", izy.Errorf(izy.EINVALID, "%q in the path is not a valid id", truncate(id, 40))
	}
	return id, nil
}

// versionParam reads the optional ?version= of a DELETE; 0 means "whatever is current".
func versionParam(r *http.Request) (int64, error) {
	q := parseQuery(r, "version")
	if q.err != nil {
		return 0, q.err
	}
	s := q.v.Get("version")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, izy.Errorf(izy.EINVALID, "version must be a positive whole number")
	}
	return v, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
