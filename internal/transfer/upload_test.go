package transfer_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

type fragment struct{ start, end int }

// fragments cuts size bytes into pieces of n.
func fragments(size, n int) []fragment {
	var fs []fragment
	for start := 0; start < size; start += n {
		fs = append(fs, fragment{start, min(start+n, size) - 1})
	}
	return fs
}

func TestUploadOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const size, frag = 300_001, 64 << 10
	inOrder := fragments(size, frag)
	reversed := make([]fragment, len(inOrder))
	for i, f := range inOrder {
		reversed[len(inOrder)-1-i] = f
	}
	shuffled := append([]fragment(nil), inOrder...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var duplicated []fragment
	for _, f := range shuffled {
		duplicated = append(duplicated, f, f)
	}
	// Fragments of another size that straddle those already received.
	overlapping := append(fragments(size, 50_000), fragments(size, 70_000)...)
	overlapping = append(overlapping, fragment{1000, 250_000}, fragment{0, size - 1})

	for _, tc := range []struct {
		name  string
		order []fragment
	}{
		{"in order", inOrder},
		{"reversed", reversed},
		{"shuffled", shuffled},
		{"duplicates", duplicated},
		{"overlapping retries", overlapping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, transfer.Limits{MaxFragment: size})
			data := randomBytes(rng, size)
			st := e.create("alice", size, sum(data))
			if st.Complete || st.NextOffset != 0 || len(st.Received) != 0 || st.BlobExists {
				t.Fatalf("new session status = %+v", st)
			}
			for _, f := range tc.order {
				st = e.mustPut("alice", st.ID, data, f.start, f.end)
			}
			if got, want := st.Received, []transfer.Range{{0, size - 1}}; !cmp.Equal(got, want) {
				t.Fatalf("received = %v, want %v", got, want)
			}
			if !st.Complete || st.NextOffset != size || st.ReceivedBytes != size {
				t.Fatalf("status after all fragments = %+v", st)
			}
			info := e.mustClose("alice", st.ID)
			if got, want := info, (transfer.BlobInfo{SHA256: sum(data), Size: size, URL: "/bits/blobs/" + sum(data)}); got != want {
				t.Fatalf("close = %+v, want %+v", got, want)
			}
			if got := e.mustGetBlob("bob", sum(data)); !bytes.Equal(got, data) {
				t.Fatalf("blob differs from the upload (%d bytes, want %d)", len(got), size)
			}
			onDisk, err := os.ReadFile(filepath.Join(e.dir, "sha256", sum(data)[:2], sum(data)[2:4], sum(data)))
			if err != nil || !bytes.Equal(onDisk, data) {
				t.Fatalf("blob on disk: %v", err)
			}
			if got := sessionDirs(t, e.dir); len(got) != 0 {
				t.Fatalf("sessions left after close: %v", got)
			}
			if got, want := e.svc.Usage(), (transfer.Usage{BlobBytes: size, Quota: e.svc.Limits().Quota}); got != want {
				t.Fatalf("usage = %+v, want %+v", got, want)
			}
			if r := e.status("alice", st.ID); r.Status != http.StatusNotFound {
				t.Fatalf("status of a closed session: %d, want 404", r.Status)
			}
		})
	}
}

func TestUploadDeduplicates(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("the same attachment, twice")
	if info := e.upload("alice", data, 10); info.Deduplicated {
		t.Fatalf("first upload deduplicated")
	}
	st := e.create("bob", len(data), sum(data))
	if !st.BlobExists {
		t.Fatalf("create: blob_exists = false for a stored blob")
	}
	e.mustPut("bob", st.ID, data, 0, len(data)-1)
	if info := e.mustClose("bob", st.ID); !info.Deduplicated || info.SHA256 != sum(data) {
		t.Fatalf("second close = %+v, want deduplicated", info)
	}
	if got, want := e.svc.Usage().BlobBytes, int64(len(data)); got != want {
		t.Fatalf("blob bytes = %d, want %d (counted once)", got, want)
	}
}

func TestEmptyUpload(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	st := e.create("alice", 0, sum(nil))
	if !st.Complete {
		t.Fatalf("an empty session is complete at once: %+v", st)
	}
	e.mustClose("alice", st.ID)
	r := e.do("alice", "GET", "/bits/blobs/"+sum(nil), nil, nil)
	if r.Status != http.StatusOK || len(r.Body) != 0 || r.Header.Get("Content-Length") != "0" {
		t.Fatalf("get empty blob: %d %q %v", r.Status, r.Body, r.Header)
	}
}

func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := randomBytes(rand.New(rand.NewPCG(3, 4)), 200_000)
	frags := fragments(len(data), 30_000)
	st := e.create("alice", len(data), sum(data))
	// Every other fragment, then a "crash".
	for i := 0; i < len(frags); i += 2 {
		e.mustPut("alice", st.ID, data, frags[i].start, frags[i].end)
	}
	before := e.mustStatus("alice", st.ID)
	e.restart()
	after := e.mustStatus("alice", st.ID)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("status changed across the restart (-before +after):\n%s", diff)
	}
	if got, want := e.svc.Usage().ReservedBytes, int64(len(data)); got != want {
		t.Fatalf("reserved after restart = %d, want %d", got, want)
	}
	if got, want := after.NextOffset, int64(frags[0].end+1); got != want {
		t.Fatalf("next offset = %d, want %d", got, want)
	}
	// Resume: fill the gaps the server names.
	for _, r := range gaps(after.Received, len(data)) {
		e.mustPut("alice", st.ID, data, r.start, r.end)
	}
	e.restart()
	e.mustClose("alice", st.ID)
	if got := e.mustGetBlob("alice", sum(data)); !bytes.Equal(got, data) {
		t.Fatalf("blob differs after resume")
	}
	e.restart()
	if got, want := e.svc.Usage(), (transfer.Usage{BlobBytes: int64(len(data)), Quota: e.svc.Limits().Quota}); got != want {
		t.Fatalf("usage counted at start = %+v, want %+v", got, want)
	}
}

// gaps returns the runs of size bytes not in received.
func gaps(received []transfer.Range, size int) []fragment {
	var out []fragment
	next := 0
	for _, r := range received {
		if int(r.Start) > next {
			out = append(out, fragment{next, int(r.Start) - 1})
		}
		next = int(r.End) + 1
	}
	if next < size {
		out = append(out, fragment{next, size - 1})
	}
	return out
}

func TestChecksumMismatchResetsSession(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("what the client sends")
	wrong := sum([]byte("what the client meant to send"))
	st := e.create("alice", len(data), wrong)
	e.mustPut("alice", st.ID, data, 0, 9)
	if r := e.close("alice", st.ID); r.Status != http.StatusConflict || !strings.Contains(r.errorMessage(), "incomplete") {
		t.Fatalf("close of an incomplete session: %d %s, want 409 incomplete", r.Status, r.Body)
	}
	e.mustPut("alice", st.ID, data, 10, len(data)-1)
	r := e.close("alice", st.ID)
	if r.Status != http.StatusConflict || !strings.Contains(r.errorMessage(), "checksum mismatch") {
		t.Fatalf("close with a wrong checksum: %d %s, want 409 checksum mismatch", r.Status, r.Body)
	}
	after := e.mustStatus("alice", st.ID)
	if len(after.Received) != 0 || after.Complete {
		t.Fatalf("session after a mismatch = %+v, want kept and reset", after)
	}
	if r := e.do("alice", "HEAD", "/bits/blobs/"+wrong, nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("blob stored despite the mismatch: %d", r.Status)
	}
	if r := e.do("alice", "DELETE", "/bits/sessions/"+st.ID, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if got := e.svc.Usage(); got.ReservedBytes != 0 || got.BlobBytes != 0 {
		t.Fatalf("usage after cancel = %+v", got)
	}
}

func TestRetryWithDifferentBytesConflicts(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := randomBytes(rand.New(rand.NewPCG(5, 6)), 1000)
	st := e.create("alice", len(data), sum(data))
	e.mustPut("alice", st.ID, data, 100, 499)
	before := listing(t, e.dir)

	forged := append([]byte(nil), data...)
	forged[450] ^= 1
	for _, f := range []fragment{{100, 499}, {400, 600}, {0, 999}, {450, 450}} {
		r := e.put("alice", st.ID, forged, f.start, f.end, len(data))
		if r.Status != http.StatusConflict || r.errorCode() != "conflict" {
			t.Errorf("retry %d-%d with other bytes: %d %s, want 409", f.start, f.end, r.Status, r.Body)
		}
	}
	if got, want := e.mustStatus("alice", st.ID).Received, []transfer.Range{{100, 499}}; !cmp.Equal(got, want) {
		t.Fatalf("received after conflicts = %v, want %v", got, want)
	}
	// The new bytes of a refused fragment may sit unrecorded in the gaps of the data file;
	// everything else, the metadata included, stays as it was.
	if got, want := withoutData(listing(t, e.dir)), withoutData(before); got != want {
		t.Fatalf("refused retries changed the store:\nbefore:\n%s\nafter:\n%s", want, got)
	}
	e.mustPut("alice", st.ID, data, 0, 999)
	e.mustClose("alice", st.ID)
	if got := e.mustGetBlob("alice", sum(data)); !bytes.Equal(got, data) {
		t.Fatalf("stored blob differs: a conflicting retry changed received bytes")
	}
}

// Fragments of one session sent at once from many connections all land.
func TestConcurrentFragments(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := randomBytes(rand.New(rand.NewPCG(7, 8)), 500_000)
	st := e.create("alice", len(data), sum(data))
	var wg sync.WaitGroup
	for _, f := range fragments(len(data), 20_000) {
		for range 2 {
			wg.Go(func() {
				req, _ := http.NewRequest("PUT", e.srv.URL+"/bits/sessions/"+st.ID, bytes.NewReader(data[f.start:f.end+1]))
				req.Header.Set("X-Test-User", "alice")
				req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", f.start, f.end, len(data)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("put %d-%d: %d", f.start, f.end, resp.StatusCode)
				}
			})
		}
	}
	wg.Wait()
	e.mustClose("alice", st.ID)
	if got := e.mustGetBlob("alice", sum(data)); !bytes.Equal(got, data) {
		t.Fatal("blob differs")
	}
}

func TestTooManyPieces(t *testing.T) {
	const maxRanges = 20
	defer transfer.SetMaxRanges(maxRanges)()
	e := newEnv(t, transfer.Limits{})
	size := 2*maxRanges + 10
	data := make([]byte, size)
	st := e.create("alice", size, sum(data))
	for i := 0; i < maxRanges; i++ {
		e.mustPut("alice", st.ID, data, 2*i, 2*i)
	}
	r := e.put("alice", st.ID, data, size-1, size-1, size)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.errorMessage(), "too many separate pieces") {
		t.Fatalf("one piece too many: %d %s", r.Status, r.Body)
	}
	// Filling a gap is always fine.
	e.mustPut("alice", st.ID, data, 1, 1)
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t, transfer.Limits{MaxSession: 1000})
	good := sum(nil)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"not JSON", `size=3`, 400},
		{"two objects", `{"size":1,"sha256":"` + good + `"}{}`, 400},
		{"unknown field", `{"size":1,"sha256":"` + good + `","name":"x"}`, 400},
		{"no size", `{"sha256":"` + good + `"}`, 400},
		{"negative size", `{"size":-1,"sha256":"` + good + `"}`, 400},
		{"size not a number", `{"size":"1","sha256":"` + good + `"}`, 400},
		{"no sha256", `{"size":1}`, 400},
		{"upper-case sha256", `{"size":1,"sha256":"` + strings.ToUpper(good) + `"}`, 400},
		{"short sha256", `{"size":1,"sha256":"` + good[:63] + `"}`, 400},
		{"path in sha256", `{"size":1,"sha256":"../../../../etc/passwd"}`, 400},
		{"over the session limit", `{"size":1001,"sha256":"` + good + `"}`, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("alice", "POST", "/bits/sessions", nil, strings.NewReader(tc.body))
			if r.Status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.Status, r.Body, tc.status)
			}
		})
	}
	if got := sessionDirs(t, e.dir); len(got) != 0 {
		t.Fatalf("refused creates left sessions: %v", got)
	}
	if r := e.do("", "POST", "/bits/sessions", nil, strings.NewReader(`{"size":1,"sha256":"`+good+`"}`)); r.Status != http.StatusUnauthorized {
		t.Fatalf("create without a user: %d, want 401", r.Status)
	}
}

func TestContentRangeErrors(t *testing.T) {
	e := newEnv(t, transfer.Limits{MaxFragment: 100})
	data := randomBytes(rand.New(rand.NewPCG(9, 10)), 1000)
	st := e.create("alice", len(data), sum(data))
	e.mustPut("alice", st.ID, data, 0, 9)
	before := e.mustStatus("alice", st.ID)
	body10 := data[10:20]

	for _, tc := range []struct {
		name   string
		ranges []string // Content-Range headers; none for a missing header
		body   io.Reader
		status int
	}{
		{"missing", nil, bytes.NewReader(body10), 400},
		{"two headers", []string{"bytes 10-19/1000", "bytes 10-19/1000"}, bytes.NewReader(body10), 400},
		{"empty", []string{""}, bytes.NewReader(body10), 400},
		{"no total", []string{"bytes 10-19"}, bytes.NewReader(body10), 400},
		{"equals sign", []string{"bytes=10-19/1000"}, bytes.NewReader(body10), 400},
		{"other unit", []string{"bits 10-19/1000"}, bytes.NewReader(body10), 400},
		{"no dash", []string{"bytes 10/1000"}, bytes.NewReader(body10), 400},
		{"star total", []string{"bytes 10-19/*"}, bytes.NewReader(body10), 400},
		{"unsatisfied form", []string{"bytes */1000"}, bytes.NewReader(body10), 400},
		{"negative start", []string{"bytes -10-19/1000"}, bytes.NewReader(body10), 400},
		{"plus sign", []string{"bytes +10-19/1000"}, bytes.NewReader(body10), 400},
		{"spaces", []string{"bytes 10 - 19/1000"}, bytes.NewReader(body10), 400},
		{"hex", []string{"bytes 0xa-19/1000"}, bytes.NewReader(body10), 400},
		{"overflow", []string{"bytes 99999999999999999999-19/1000"}, bytes.NewReader(body10), 400},
		{"end before start", []string{"bytes 19-10/1000"}, bytes.NewReader(body10), 400},
		{"end at total", []string{"bytes 990-1000/1000"}, bytes.NewReader(data[990:]), 400},
		{"total differs from the session", []string{"bytes 10-19/1001"}, bytes.NewReader(body10), 400},
		{"body shorter", []string{"bytes 10-19/1000"}, bytes.NewReader(body10[:9]), 400},
		{"body longer", []string{"bytes 10-19/1000"}, bytes.NewReader(data[10:21]), 400},
		{"chunked body shorter", []string{"bytes 10-19/1000"}, io.MultiReader(bytes.NewReader(body10[:9])), 400},
		{"chunked body longer", []string{"bytes 10-19/1000"}, io.MultiReader(bytes.NewReader(data[10:21])), 400},
		{"over the fragment limit", []string{"bytes 10-110/1000"}, bytes.NewReader(data[10:111]), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.ranges != nil {
				h["Content-Range"] = tc.ranges
			}
			r := e.do("alice", "PUT", "/bits/sessions/"+st.ID, h, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.Status, r.Body, tc.status)
			}
			if r.errorMessage() == "" {
				t.Fatalf("no error message: %s", r.Body)
			}
			t.Logf("%d %s", r.Status, r.errorMessage())
			if diff := cmp.Diff(before, e.mustStatus("alice", st.ID)); diff != "" {
				t.Fatalf("a refused fragment changed the session (-before +after):\n%s", diff)
			}
		})
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, transfer.Limits{Quota: 1000, MaxSession: 800})
	a := e.create("alice", 600, sum(make([]byte, 600)))
	r := e.do("bob", "POST", "/bits/sessions", nil, strings.NewReader(fmt.Sprintf(`{"size":500,"sha256":%q}`, sum(make([]byte, 500)))))
	if r.Status != http.StatusRequestEntityTooLarge || r.errorCode() != "too_large" {
		t.Fatalf("create beyond the quota: %d %s, want 413", r.Status, r.Body)
	}
	e.create("bob", 400, sum(make([]byte, 400))) // exactly fills it
	if r := e.do("alice", "DELETE", "/bits/sessions/"+a.ID, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d", r.Status)
	}
	// The cancelled reservation is free again; stored blobs count too.
	data := randomBytes(rand.New(rand.NewPCG(1, 1)), 600)
	e.upload("alice", data, 100)
	if r := e.do("alice", "POST", "/bits/sessions", nil, strings.NewReader(fmt.Sprintf(`{"size":1,"sha256":%q}`, sum([]byte{0})))); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("create with the quota full of blobs and sessions: %d, want 413", r.Status)
	}
	if got, want := e.svc.Usage(), (transfer.Usage{BlobBytes: 600, ReservedBytes: 400, Quota: 1000}); got != want {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
}

func TestOwnerIsolation(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("alice's upload")
	st := e.create("alice", len(data), sum(data))
	e.mustPut("alice", st.ID, data, 0, 4)
	before := listing(t, e.dir)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/bits/sessions/" + st.ID},
		{"PUT", "/bits/sessions/" + st.ID},
		{"POST", "/bits/sessions/" + st.ID + "/close"},
		{"DELETE", "/bits/sessions/" + st.ID},
	} {
		h := http.Header{"Content-Range": {fmt.Sprintf("bytes 5-%d/%d", len(data)-1, len(data))}}
		if r := e.do("bob", tc.method, tc.path, h, bytes.NewReader(data[5:])); r.Status != http.StatusNotFound {
			t.Errorf("bob %s %s: %d %s, want 404", tc.method, tc.path, r.Status, r.Body)
		}
		if r := e.do("", tc.method, tc.path, h, bytes.NewReader(data[5:])); r.Status != http.StatusUnauthorized {
			t.Errorf("nobody %s %s: %d, want 401", tc.method, tc.path, r.Status)
		}
	}
	if after := listing(t, e.dir); after != before {
		t.Fatalf("others' requests changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// An admin may look after anyone's session.
	if got := e.mustStatus("root", st.ID); got.ReceivedBytes != 5 {
		t.Fatalf("admin status = %+v", got)
	}
	e.mustPut("root", st.ID, data, 5, len(data)-1)
	e.mustClose("root", st.ID)
	if r := e.do("", "GET", "/bits/blobs/"+sum(data), nil, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("blob without a user: %d, want 401", r.Status)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("to be cancelled")
	st := e.create("alice", len(data), sum(data))
	e.mustPut("alice", st.ID, data, 0, 3)
	r := e.do("alice", "DELETE", "/bits/sessions/"+st.ID, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if got := sessionDirs(t, e.dir); len(got) != 0 {
		t.Fatalf("sessions left after cancel: %v", got)
	}
	for _, r := range []response{
		e.status("alice", st.ID),
		e.put("alice", st.ID, data, 4, 5, len(data)),
		e.close("alice", st.ID),
		e.do("alice", "DELETE", "/bits/sessions/"+st.ID, nil, nil),
	} {
		if r.Status != http.StatusNotFound {
			t.Errorf("after cancel: %d %s, want 404", r.Status, r.Body)
		}
	}
	if got := e.svc.Usage().ReservedBytes; got != 0 {
		t.Fatalf("reserved after cancel = %d", got)
	}
}

// withoutData drops the sessions' data files from a listing.
func withoutData(l string) string {
	var keep []string
	for _, line := range strings.Split(l, "\n") {
		if !strings.Contains(line, "/data ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// A close that crashed after moving the bytes into the blob store but before removing the
// session is finished by the next close.
func TestCloseAfterCrashMidClose(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	data := []byte("moved, then the power went")
	st := e.create("alice", len(data), sum(data))
	e.mustPut("alice", st.ID, data, 0, len(data)-1)
	sha := sum(data)
	blob := filepath.Join(e.dir, "sha256", sha[:2], sha[2:4], sha)
	os.MkdirAll(filepath.Dir(blob), 0o750)
	if err := os.Rename(filepath.Join(e.dir, "sessions", st.ID, "data"), blob); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if info := e.mustClose("alice", st.ID); info.SHA256 != sha || !info.Deduplicated {
		t.Fatalf("close = %+v", info)
	}
	if got := sessionDirs(t, e.dir); len(got) != 0 {
		t.Fatalf("sessions left: %v", got)
	}
	if got := e.mustGetBlob("alice", sha); !bytes.Equal(got, data) {
		t.Fatalf("blob = %q", got)
	}
	if got, want := e.svc.Usage(), (transfer.Usage{BlobBytes: int64(len(data)), Quota: e.svc.Limits().Quota}); got != want {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
}
