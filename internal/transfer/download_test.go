package transfer_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/transfer"
)

func TestDownload(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := randomBytes(rand.New(rand.NewPCG(11, 12)), 100_000)
	sha := sum(data)
	e.upload("alice", data, 40_000)
	etag := `"` + sha + `"`
	path := "/bits/blobs/" + sha

	t.Run("HEAD", func(t *testing.T) {
		r := e.do("bob", "HEAD", path, nil, nil)
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Fatalf("HEAD: %d with %d body bytes", r.Status, len(r.Body))
		}
		for k, want := range map[string]string{
			"Content-Length": strconv.Itoa(len(data)),
			"Etag":           etag,
			"Accept-Ranges":  "bytes",
			"Content-Type":   "application/octet-stream",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})

	for _, tc := range []struct {
		name         string
		header       http.Header
		status       int
		body         []byte
		contentRange string
	}{
		{"whole", nil, 200, data, ""},
		{"range", http.Header{"Range": {"bytes=10-19"}}, 206, data[10:20], "bytes 10-19/100000"},
		{"open range", http.Header{"Range": {"bytes=99990-"}}, 206, data[99990:], "bytes 99990-99999/100000"},
		{"suffix range", http.Header{"Range": {"bytes=-5"}}, 206, data[len(data)-5:], "bytes 99995-99999/100000"},
		{"range past the end is clipped", http.Header{"Range": {"bytes=99999-200000"}}, 206, data[99999:], "bytes 99999-99999/100000"},
		{"If-Range with the ETag", http.Header{"Range": {"bytes=50000-"}, "If-Range": {etag}}, 206, data[50000:], "bytes 50000-99999/100000"},
		{"If-Range with another ETag", http.Header{"Range": {"bytes=50000-"}, "If-Range": {`"` + sum(nil) + `"`}}, 200, data, ""},
		{"If-Range with a weak ETag", http.Header{"Range": {"bytes=50000-"}, "If-Range": {"W/" + etag}}, 200, data, ""},
		{"If-None-Match", http.Header{"If-None-Match": {etag}}, 304, nil, ""},
		{"If-Match another", http.Header{"If-Match": {`"x"`}}, 412, nil, ""},
		{"unsatisfiable range", http.Header{"Range": {"bytes=100000-"}}, 416, nil, "bytes */100000"},
		{"other range unit", http.Header{"Range": {"lines=1-2"}}, 416, nil, ""}, // ServeContent refuses what RFC 9110 would ignore
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("bob", "GET", path, tc.header, nil)
			if r.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", r.Status, tc.status, r.Body)
			}
			if tc.body != nil && !bytes.Equal(r.Body, tc.body) {
				t.Fatalf("body: %d bytes, want %d", len(r.Body), len(tc.body))
			}
			if got := r.Header.Get("Content-Range"); got != tc.contentRange {
				t.Fatalf("Content-Range = %q, want %q", got, tc.contentRange)
			}
			if r.Status < 300 && r.Header.Get("ETag") != etag {
				t.Fatalf("ETag = %q, want %q", r.Header.Get("ETag"), etag)
			}
		})
	}

	t.Run("multi-range", func(t *testing.T) {
		r := e.do("bob", "GET", path, http.Header{"Range": {"bytes=0-1,500-599,-3"}}, nil)
		if r.Status != http.StatusPartialContent {
			t.Fatalf("status = %d, want 206", r.Status)
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type = %q, want multipart/byteranges", r.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		want := []struct {
			cr   string
			body []byte
		}{
			{"bytes 0-1/100000", data[0:2]},
			{"bytes 500-599/100000", data[500:600]},
			{"bytes 99997-99999/100000", data[99997:]},
		}
		for i, w := range want {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			b, _ := io.ReadAll(p)
			if got := p.Header.Get("Content-Range"); got != w.cr || !bytes.Equal(b, w.body) {
				t.Fatalf("part %d: %q with %d bytes, want %q with %d", i, got, len(b), w.cr, len(w.body))
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Fatalf("more parts than asked for: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			user, method, path string
			status             int
		}{
			{"bob", "GET", "/bits/blobs/" + sum([]byte("never stored")), 404},
			{"bob", "HEAD", "/bits/blobs/" + sum([]byte("never stored")), 404},
			{"bob", "GET", "/bits/blobs/" + strings.ToUpper(sha), 400},
			{"bob", "GET", "/bits/blobs/" + sha[:63], 400},
			{"bob", "GET", "/bits/blobs/" + sha + "0", 400},
			{"", "GET", path, 401},
			{"", "HEAD", path, 401},
		} {
			if r := e.do(tc.user, tc.method, tc.path, nil, nil); r.Status != tc.status {
				t.Errorf("%s %s as %q: %d, want %d", tc.method, tc.path, tc.user, r.Status, tc.status)
			}
		}
	})
}
