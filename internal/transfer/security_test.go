package transfer_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

// rawRequest sends the request line and headers exactly as given (no client-side
// cleaning or escaping), follows redirects the way a browser would (as GET) and returns
// the last status.
func rawRequest(tb testing.TB, addr, method, target string, header http.Header, body []byte) (int, []byte) {
	tb.Helper()
	for hop := 0; ; hop++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, len(body))
		header.Write(&b)
		b.WriteString("\r\n")
		b.Write(body)
		c.Write(b.Bytes())
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
		if err != nil {
			c.Close()
			tb.Fatalf("%s %q: %v", method, target, err)
		}
		rb, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode/100 != 3 || hop == 5 {
			return resp.StatusCode, rb
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			tb.Fatalf("redirect to %q: %v", resp.Header.Get("Location"), err)
		}
		method, target, body = "GET", loc.EscapedPath(), nil
		if loc.RawQuery != "" {
			target += "?" + loc.RawQuery
		}
	}
}

// pathTricks are raw path segments that try to leave the store or to reach a file that is
// not a session or a blob. valid names a real session and blob for tricks built on them.
func pathTricks(validID, validSHA string) []string {
	return []string{
		"..",
		".",
		"../../outside/secret",
		"..%2f..%2foutside%2fsecret",
		"..%2F..%2Foutside%2Fsecret",
		"%2e%2e",
		"%2e%2e%2f%2e%2e%2foutside%2fsecret",
		"%2E%2E%2F%2E%2E%2Foutside",
		"%252e%252e%252f", // encoded twice
		"..%5c..%5coutside%5csecret",
		`..\..\outside\secret`,
		"%5c%5cserver%5cshare",
		"%2fetc%2fpasswd",
		"/etc/passwd", // makes //: cleaned by the mux
		"C:%5cWindows%5cwin.ini",
		"C:",
		"%00",
		validID + "%00",
		validSHA + "%00",
		"a%00b",
		validID + "%2f..%2f..%2fsha256",
		validID + "%2fsession.json",
		validSHA + "%2f..",
		validSHA[:2] + "%2f" + validSHA[2:4] + "%2f" + validSHA,
		"sha256%2f" + validSHA[:2],
		"session.json",
		"data",
		"tmp",
		strings.ToUpper(validID),
		strings.ToUpper(validSHA),
		" " + validID,
		validID + "%20",
		strings.Repeat("a", 5000),
		strings.Repeat("..%2f", 1000) + "etc%2fpasswd",
		strings.Repeat("0", 4096),
		"~root",
		"%c0%ae%c0%ae", // overlong UTF-8 dots
		"NUL",
		"CON",
	}
}

// Every trick, on every route, ends in 400 or 404 and leaves the store and its
// surroundings exactly as they were.
func TestPathTricks(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("a stored blob")
	e.upload("alice", data, 5)
	open := e.create("alice", 10, sum([]byte("0123456789")))
	addr := e.srv.Listener.Addr().String()
	base := filepath.Dir(e.dir)
	before := listing(t, base)

	for _, trick := range pathTricks(open.ID, sum(data)) {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/bits/sessions/" + trick},
			{"PUT", "/bits/sessions/" + trick},
			{"POST", "/bits/sessions/" + trick + "/close"},
			{"DELETE", "/bits/sessions/" + trick},
			{"GET", "/bits/blobs/" + trick},
			{"HEAD", "/bits/blobs/" + trick},
		} {
			h := http.Header{"X-Test-User": {"alice"}, "Content-Range": {"bytes 0-9/10"}}
			status, body := rawRequest(t, addr, rt.method, rt.path, h, []byte("0123456789"))
			ok := status == http.StatusBadRequest || status == http.StatusNotFound
			// ServeMux cleans /bits/sessions/. to /bits/sessions, where only POST is routed:
			// its 405 comes before any handler runs.
			ok = ok || trick == "." && status == http.StatusMethodNotAllowed
			if !ok {
				t.Errorf("%s %.80s: status %d %s, want 400 or 404", rt.method, rt.path, status, body)
			}
			if bytes.Contains(body, []byte("outside the store")) || bytes.Contains(body, []byte("root:")) {
				t.Errorf("%s %.80s: answered with a file's content", rt.method, rt.path)
			}
		}
	}
	if after := listing(t, base); after != before {
		t.Fatalf("path tricks changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// The handlers refuse every malformed name themselves, whatever the router in front of
// them lets through (here: none, the path value is set directly).
func TestHandlersRefuseMalformedNames(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("a stored blob")
	e.upload("alice", data, 5)
	open := e.create("alice", 10, sum([]byte("0123456789")))
	base := filepath.Dir(e.dir)
	before := listing(t, base)
	ctx := izy.NewContextWithUser(t.Context(), users["alice"])

	var names []string
	for _, trick := range pathTricks(open.ID, sum(data)) {
		if v, err := url.PathUnescape(trick); err == nil {
			names = append(names, v)
		}
		names = append(names, trick)
	}
	names = append(names, "", "/", `\`, filepath.Join(e.outside, "secret"), e.dir, "../"+open.ID,
		"sessions/"+open.ID, open.ID+"/", open.ID+"\x00", "\x00"+sum(data), sum(data)+"\n")
	for _, name := range names {
		if transfer.ValidSessionID(name) || transfer.ValidSHA256(name) {
			continue // the unescaped form of a harmless trick
		}
		for _, tc := range []struct {
			key string
			h   func(http.ResponseWriter, *http.Request) error
		}{
			{"id", e.svc.GetSession},
			{"id", e.svc.PutFragment},
			{"id", e.svc.CloseSession},
			{"id", e.svc.CancelSession},
			{"sha256", e.svc.GetBlob},
		} {
			r := httptest.NewRequestWithContext(ctx, "PUT", "/bits/x", strings.NewReader("0123456789"))
			r.Header.Set("Content-Range", "bytes 0-9/10")
			r.SetPathValue(tc.key, name)
			w := httptest.NewRecorder()
			err := tc.h(w, r)
			if got, want := izy.ErrorCode(err), izy.EINVALID; got != want {
				t.Errorf("%s=%q: error %v (%s), want %s", tc.key, name, err, got, want)
			}
			if w.Body.Len() != 0 {
				t.Errorf("%s=%q: handler wrote %q", tc.key, name, w.Body.String())
			}
		}
	}
	if after := listing(t, base); after != before {
		t.Fatalf("malformed names changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func symlink(tb testing.TB, target, link string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		tb.Skipf("cannot make symlinks here: %v", err)
	}
}

func writeFile(tb testing.TB, name string, b []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Links planted in the store are never followed: not out of it, not even within it.
func TestPlantedSymlinks(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	stored := []byte("a real blob")
	e.upload("alice", stored, 100)
	blobFile := func(sha string) string { return filepath.Join(e.dir, "sha256", sha[:2], sha[2:4], sha) }
	secret := filepath.Join(e.outside, "secret")

	// A blob that is a link to a file outside.
	linkedFile := sum([]byte("link to a file outside"))
	symlink(t, secret, blobFile(linkedFile))
	// A blob below a directory that is a link to a directory outside.
	linkedDir := sum([]byte("link to a directory outside"))
	writeFile(t, filepath.Join(e.outside, "tree", linkedDir[2:4], linkedDir), []byte("outside the store"))
	symlink(t, filepath.Join(e.outside, "tree"), filepath.Join(e.dir, "sha256", linkedDir[:2]))
	// A blob that is a relative link to a real blob inside the store.
	linkedInside := sum([]byte("link inside the store"))
	rel, _ := filepath.Rel(filepath.Dir(blobFile(linkedInside)), blobFile(sum(stored)))
	symlink(t, rel, blobFile(linkedInside))

	// A session directory that is a link to a forged session outside.
	forgedID := "0190a000-0000-7000-8000-00000000f0f0"
	forged := filepath.Join(e.outside, "forged")
	meta, _ := json.Marshal(map[string]any{"format": 1, "id": forgedID, "owner": users["alice"].ID, "size": 17,
		"sha256": sum([]byte("outside the store")), "received": []any{}, "created_at": time.Now(), "updated_at": time.Now()})
	writeFile(t, filepath.Join(forged, "session.json"), meta)
	writeFile(t, filepath.Join(forged, "data"), []byte("outside the store"))
	symlink(t, forged, filepath.Join(e.dir, "sessions", forgedID))
	// A real session whose metadata is a link, and one whose data file is a link.
	metaLinked := e.create("alice", 17, sum([]byte("outside the store")))
	os.Remove(filepath.Join(e.dir, "sessions", metaLinked.ID, "session.json"))
	symlink(t, filepath.Join(forged, "session.json"), filepath.Join(e.dir, "sessions", metaLinked.ID, "session.json"))
	dataLinked := e.create("alice", 17, sum([]byte("outside the store")))
	os.Remove(filepath.Join(e.dir, "sessions", dataLinked.ID, "data"))
	symlink(t, secret, filepath.Join(e.dir, "sessions", dataLinked.ID, "data"))

	base := filepath.Dir(e.dir)
	before := listing(t, base)
	for _, sha := range []string{linkedFile, linkedDir, linkedInside} {
		for _, method := range []string{"GET", "HEAD"} {
			r := e.do("alice", method, "/bits/blobs/"+sha, nil, nil)
			if r.Status != http.StatusNotFound || bytes.Contains(r.Body, []byte("outside")) || bytes.Contains(r.Body, stored) {
				t.Errorf("%s blob behind a link: %d %q, want 404", method, r.Status, r.Body)
			}
		}
	}
	// Sessions reached through a link, or whose metadata is a link, do not exist. A session
	// whose data file is a link has real metadata to show, but its bytes are never read or
	// written, and cancelling it removes the link, not what it points to.
	for _, tc := range []struct {
		id                   string
		get, put, close, del int
	}{
		{forgedID, 404, 404, 404, 404},
		{metaLinked.ID, 404, 404, 404, 404},
		{dataLinked.ID, 200, 404, 404, 200},
	} {
		for _, user := range []string{"alice", "root"} {
			for _, req := range []struct {
				method, path string
				want         int
			}{
				{"GET", "/bits/sessions/" + tc.id, tc.get},
				{"PUT", "/bits/sessions/" + tc.id, tc.put},
				{"POST", "/bits/sessions/" + tc.id + "/close", tc.close},
			} {
				h := http.Header{"Content-Range": {"bytes 0-16/17"}}
				var body io.Reader
				if req.method == "PUT" {
					body = strings.NewReader("overwritten!!!!!!")
				}
				if r := e.do(user, req.method, req.path, h, body); r.Status != req.want {
					t.Errorf("%s %s as %s: %d %s, want %d", req.method, req.path, user, r.Status, r.Body, req.want)
				}
			}
		}
		if r := e.do("alice", "DELETE", "/bits/sessions/"+tc.id, nil, nil); r.Status != tc.del {
			t.Errorf("DELETE %s: %d %s, want %d", tc.id, r.Status, r.Body, tc.del)
		}
	}
	if n, err := e.svc.ExpireSessions(time.Now().Add(1000 * time.Hour)); err != nil {
		t.Fatalf("expire: %v", err)
	} else {
		t.Logf("expiry removed %d sessions", n)
	}
	after := listing(t, base)
	// Expiry may remove the two damaged sessions inside the store (their links with them);
	// everything outside the store, and the links' targets, stay.
	for _, line := range strings.Split(before, "\n") {
		if strings.HasPrefix(line, "outside") && !strings.Contains(after, line) {
			t.Errorf("outside the store, %q changed or went", line)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "outside the store" {
		t.Fatalf("the file outside was changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(e.dir, "sessions", forgedID)); err != nil {
		t.Fatalf("expiry touched the planted link of a session directory: %v", err)
	}

	// Closing an upload whose blob name is taken by a link replaces the link, not its target.
	content := []byte("outside the store") // hashes to the name the forged session uses
	target := sum(content)
	symlink(t, secret, blobFile(target))
	e.upload("bob", content, 100)
	if fi, err := os.Lstat(blobFile(target)); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("blob after replacing a link: %v %v", fi, err)
	}
	if got := e.mustGetBlob("alice", target); !bytes.Equal(got, content) {
		t.Fatalf("blob = %q", got)
	}
}

// A store directory whose parts are not what they should be is refused at start.
func TestNewRefusesLinkedStoreDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	os.MkdirAll(dir, 0o755)
	symlink(t, t.TempDir(), filepath.Join(dir, "sessions"))
	if _, err := transfer.New(dir, transfer.Limits{}, nil); err == nil {
		t.Fatal("New accepted a sessions directory that is a link")
	}
}
