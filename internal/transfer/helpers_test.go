package transfer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

// The users of the tests, picked by the X-Test-User header; no header, no user.
var users = map[string]*izy.User{
	"alice": {ID: "0190a000-0000-7000-8000-00000000a11c", Username: "alice", Role: izy.RoleInspector},
	"bob":   {ID: "0190a000-0000-7000-8000-000000000b0b", Username: "bob", Role: izy.RoleInspector},
	"root":  {ID: "0190a000-0000-7000-8000-0000000000ad", Username: "root", Role: izy.RoleAdmin},
}

// statusOf maps error codes as internal/server does; the test needs its own copy because
// the server package wraps routes in its own way.
func statusOf(code string) int {
	switch code {
	case izy.EINVALID:
		return http.StatusBadRequest
	case izy.ENOTFOUND:
		return http.StatusNotFound
	case izy.ECONFLICT:
		return http.StatusConflict
	case izy.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case izy.EFORBIDDEN:
		return http.StatusForbidden
	case izy.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case izy.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wrap turns a transfer handler into an http.HandlerFunc: the user from X-Test-User into
// the context, a returned error into {"error":{...}} with its status.
func wrap(tb testing.TB, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u := users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(izy.NewContextWithUser(r.Context(), u))
		}
		err := h(w, r)
		if err == nil {
			return
		}
		code := izy.ErrorCode(err)
		if code == izy.EINTERNAL {
			tb.Logf("internal error: %v", err)
		}
		var b errorBody
		b.Error.Code, b.Error.Message = code, izy.ErrorMessage(err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(statusOf(code))
		json.NewEncoder(w).Encode(b)
	}
}

func mux(tb testing.TB, svc *transfer.Service) *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range svc.Routes() {
		m.Handle(rt.Method+" "+rt.Pattern, wrap(tb, rt.Handler))
	}
	return m
}

// env is a transfer service in a temporary directory behind a real HTTP server.
type env struct {
	tb      testing.TB
	dir     string // the store
	outside string // a directory beside the store that nothing may touch
	limits  transfer.Limits
	svc     *transfer.Service
	handler atomic.Pointer[http.ServeMux]
	srv     *httptest.Server
	client  *http.Client
}

func newEnv(tb testing.TB, limits transfer.Limits) *env {
	tb.Helper()
	base := tb.TempDir()
	e := &env{tb: tb, dir: filepath.Join(base, "blobs"), outside: filepath.Join(base, "outside"), limits: limits}
	if err := os.Mkdir(e.outside, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.outside, "secret"), []byte("outside the store"), 0o644); err != nil {
		tb.Fatal(err)
	}
	e.open()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.Load().ServeHTTP(w, r)
	}))
	e.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tb.Cleanup(func() {
		e.srv.Close()
		e.svc.Close()
	})
	return e
}

func (e *env) open() {
	e.tb.Helper()
	svc, err := transfer.New(e.dir, e.limits, slog.New(slog.DiscardHandler))
	if err != nil {
		e.tb.Fatalf("new service: %v", err)
	}
	e.svc = svc
	e.handler.Store(mux(e.tb, svc))
}

// restart replaces the service by a new one on the same directory, as a server restart
// would; the HTTP address stays.
func (e *env) restart() {
	e.tb.Helper()
	if err := e.svc.Close(); err != nil {
		e.tb.Fatal(err)
	}
	e.open()
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) errorCode() string {
	var b errorBody
	json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

func (r response) errorMessage() string {
	var b errorBody
	json.Unmarshal(r.Body, &b)
	return b.Error.Message
}

// do sends a request as user (or nobody for "") and reads the whole answer.
func (e *env) do(user, method, path string, header http.Header, body io.Reader) response {
	e.tb.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func decode[T any](tb testing.TB, r response) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// create starts a session as user for data and expects 201.
func (e *env) create(user string, size int, sha string) transfer.SessionStatus {
	e.tb.Helper()
	r := e.do(user, "POST", "/bits/sessions", nil, strings.NewReader(fmt.Sprintf(`{"size":%d,"sha256":%q}`, size, sha)))
	if r.Status != http.StatusCreated {
		e.tb.Fatalf("create session: status %d %s", r.Status, r.Body)
	}
	return decode[transfer.SessionStatus](e.tb, r)
}

// put sends data[start:end+1] as a fragment of a total-byte upload.
func (e *env) put(user, id string, data []byte, start, end, total int) response {
	e.tb.Helper()
	h := http.Header{"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", start, end, total)}}
	return e.do(user, "PUT", "/bits/sessions/"+id, h, bytes.NewReader(data[start:end+1]))
}

func (e *env) mustPut(user, id string, data []byte, start, end int) transfer.SessionStatus {
	e.tb.Helper()
	r := e.put(user, id, data, start, end, len(data))
	if r.Status != http.StatusOK {
		e.tb.Fatalf("put %d-%d: status %d %s", start, end, r.Status, r.Body)
	}
	return decode[transfer.SessionStatus](e.tb, r)
}

func (e *env) status(user, id string) response {
	e.tb.Helper()
	return e.do(user, "GET", "/bits/sessions/"+id, nil, nil)
}

func (e *env) mustStatus(user, id string) transfer.SessionStatus {
	e.tb.Helper()
	r := e.status(user, id)
	if r.Status != http.StatusOK {
		e.tb.Fatalf("status: %d %s", r.Status, r.Body)
	}
	return decode[transfer.SessionStatus](e.tb, r)
}

func (e *env) close(user, id string) response {
	e.tb.Helper()
	return e.do(user, "POST", "/bits/sessions/"+id+"/close", nil, nil)
}

func (e *env) mustClose(user, id string) transfer.BlobInfo {
	e.tb.Helper()
	r := e.close(user, id)
	if r.Status != http.StatusOK {
		e.tb.Fatalf("close: %d %s", r.Status, r.Body)
	}
	return decode[transfer.BlobInfo](e.tb, r)
}

// upload sends data in fragments of size frag in order and closes the session.
func (e *env) upload(user string, data []byte, frag int) transfer.BlobInfo {
	e.tb.Helper()
	st := e.create(user, len(data), sum(data))
	for start := 0; start < len(data); start += frag {
		e.mustPut(user, st.ID, data, start, min(start+frag, len(data))-1)
	}
	return e.mustClose(user, st.ID)
}

func (e *env) mustGetBlob(user, sha string) []byte {
	e.tb.Helper()
	r := e.do(user, "GET", "/bits/blobs/"+sha, nil, nil)
	if r.Status != http.StatusOK {
		e.tb.Fatalf("get blob: %d %s", r.Status, r.Body)
	}
	return r.Body
}

// listing describes every entry below dir (links not followed): path, type, size and,
// for files, a hash of the content. Two equal listings mean nothing changed.
func listing(tb testing.TB, dir string) string {
	tb.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", filepath.ToSlash(rel), fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + sum(b)[:16]
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sessionDirs returns the names in the store's sessions directory.
func sessionDirs(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "sessions"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
