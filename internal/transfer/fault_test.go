package transfer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/faultnet"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

// faultyClient talks to the service through a faultnet proxy that cuts connections at
// random byte offsets, and retries the way a real client must: an upload resumes from
// the server's received ranges, a download from the last byte it holds.
type faultyClient struct {
	t      *testing.T
	rng    *rand.Rand
	proxy  *faultnet.Proxy
	base   string
	client *http.Client
	odds   float64 // chance that a request gets a cut armed
	span   int64   // largest offset of a cut into a download's answer

	failures int // requests that broke
}

// arm maybe arms a cut for the next request: in the request (up to reqLen bytes into it)
// or in the answer (up to respLen bytes into it).
func (c *faultyClient) arm(reqLen, respLen int64) { c.armWith(reqLen, respLen, c.odds, 0.5) }

// armWith arms a cut with the given odds, in the answer with odds inAnswer.
func (c *faultyClient) armWith(reqLen, respLen int64, odds, inAnswer float64) {
	if c.rng.Float64() >= odds {
		return
	}
	if c.rng.Float64() >= inAnswer {
		c.proxy.CutAfter(faultnet.ClientToServer, c.rng.Int64N(reqLen))
	} else {
		c.proxy.CutAfter(faultnet.ServerToClient, c.rng.Int64N(respLen))
	}
}

// send makes one request, cut or not, on its own connection. It returns the status and
// body, or ok false if the connection broke.
func (c *faultyClient) send(method, path string, header http.Header, body []byte, reqLen, respLen int64) (status int, respBody []byte, ok bool) {
	c.t.Helper()
	c.arm(reqLen+int64(len(body)), respLen)
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("X-Test-User", "alice")
	resp, err := c.client.Do(req)
	if err == nil {
		respBody, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if got := c.proxy.Armed(); got != 0 {
		c.t.Fatalf("%d armed cuts left after a request: the request did not use exactly one connection", got)
	}
	if err != nil {
		c.failures++
		return 0, nil, false
	}
	return resp.StatusCode, respBody, true
}

// must repeats a request until an answer arrives whole.
func (c *faultyClient) must(method, path string, header http.Header, body []byte, respLen int64) (int, []byte) {
	c.t.Helper()
	for range 1000 {
		if status, b, ok := c.send(method, path, header, body, 300, respLen); ok {
			return status, b
		}
	}
	c.t.Fatalf("%s %s: no answer in 1000 tries", method, path)
	return 0, nil
}

// upload sends data in fragments of frag bytes. After every broken request it asks for the
// session's status and sends only what the server lacks, and checks that no resume sends
// more than the one fragment that was in flight.
func (c *faultyClient) upload(data []byte, frag int) {
	c.t.Helper()
	sha := sum(data)
	status, b := c.must("POST", "/bits/sessions", nil, []byte(fmt.Sprintf(`{"size":%d,"sha256":%q}`, len(data), sha)), 700)
	if status != http.StatusCreated {
		c.t.Fatalf("create: %d %s", status, b)
	}
	var st transfer.SessionStatus
	json.Unmarshal(b, &st)
	id := st.ID

	sent := map[int]bool{}  // fragments sent at least once
	resentSinceFailure := 0 // fragments sent again since the last broken request
	for !st.Complete {
		start := int(st.NextOffset) // this client fills in order: the first gap is the next fragment
		i := start / frag
		end := min(start+frag, len(data)) - 1
		if sent[i] {
			if resentSinceFailure++; resentSinceFailure > 1 {
				c.t.Fatalf("a resume sent %d fragments again, want at most 1", resentSinceFailure)
			}
		}
		sent[i] = true
		h := http.Header{"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", start, end, len(data))}}
		status, b, ok := c.send("PUT", "/bits/sessions/"+id, h, data[start:end+1], 300, 700)
		if ok && status != http.StatusOK {
			c.t.Fatalf("put %d-%d: %d %s", start, end, status, b)
		}
		if !ok {
			resentSinceFailure = 0
			status, b = c.must("GET", "/bits/sessions/"+id, nil, nil, 700)
			if status != http.StatusOK {
				c.t.Fatalf("status: %d %s", status, b)
			}
		}
		st = transfer.SessionStatus{}
		json.Unmarshal(b, &st)
		if got := receivedBytes(st.Received); got != st.ReceivedBytes {
			c.t.Fatalf("status: received_bytes %d, ranges hold %d", st.ReceivedBytes, got)
		}
	}
	if got, want := st.Received, []transfer.Range{{0, int64(len(data)) - 1}}; len(got) != 1 || got[0] != want[0] {
		c.t.Fatalf("received = %v, want %v", got, want)
	}
	for {
		status, b, ok := c.send("POST", "/bits/sessions/"+id+"/close", nil, nil, 300, 400)
		if ok && status == http.StatusOK {
			return
		}
		if ok && status != http.StatusNotFound {
			c.t.Fatalf("close: %d %s", status, b)
		}
		// The answer to an earlier close was lost, or this one says the session is gone
		// because that close succeeded: the blob tells.
		if status, _ := c.must("HEAD", "/bits/blobs/"+sha, nil, nil, 400); status == http.StatusOK {
			return
		}
		if ok {
			c.t.Fatalf("close: session gone and no blob")
		}
	}
}

func receivedBytes(rs []transfer.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.End - r.Start + 1
	}
	return n
}

// download fetches the blob, resuming with Range and If-Range after every break from
// the first byte it does not hold.
func (c *faultyClient) download(sha string, size int) []byte {
	c.t.Helper()
	etag := `"` + sha + `"`
	got := make([]byte, 0, size)
	for tries := 0; len(got) < size; tries++ {
		if tries > 10_000 {
			c.t.Fatal("download makes no progress")
		}
		h := http.Header{}
		if len(got) > 0 {
			h.Set("Range", fmt.Sprintf("bytes=%d-", len(got)))
			h.Set("If-Range", etag)
		}
		// Most downloads break, and in the answer, so that each keeps only part of the blob.
		c.armWith(300, min(c.span, int64(size-len(got))+400), 0.95, 0.9)
		req, _ := http.NewRequest("GET", c.base+"/bits/blobs/"+sha, nil)
		req.Header = h
		req.Header.Set("X-Test-User", "alice")
		resp, err := c.client.Do(req)
		if err != nil {
			c.failures++
			continue
		}
		want := http.StatusOK
		if len(got) > 0 {
			want = http.StatusPartialContent
			if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", len(got), size-1, size) {
				c.t.Fatalf("resume at %d: Content-Range %q", len(got), cr)
			}
		}
		if resp.StatusCode != want || resp.Header.Get("ETag") != etag {
			c.t.Fatalf("download at %d: %d ETag %q", len(got), resp.StatusCode, resp.Header.Get("ETag"))
		}
		buf := bytes.NewBuffer(got)
		_, err = io.Copy(buf, resp.Body) // keeps every byte that arrived, up to the break
		resp.Body.Close()
		got = buf.Bytes()
		if len(got) > size {
			c.t.Fatalf("downloaded %d bytes of a %d-byte blob", len(got), size)
		}
		if err != nil {
			c.failures++
		}
	}
	return got
}

// Upload and download ~1 MiB blobs in 64 KiB fragments through a proxy that cuts
// connections at random offsets, until at least 100 cuts happened in uploads and
// downloads together. Every blob must arrive whole and exact. Set IZY_FAULT_SEED to
// repeat a run.
func TestFaultyNetwork(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IZY_FAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (IZY_FAULT_SEED=%d repeats this run)", seed, seed)
	defer func() {
		if t.Failed() {
			t.Logf("failed with IZY_FAULT_SEED=%d", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0x1257))

	e := newEnv(t, transfer.Limits{})
	proxy, err := faultnet.Listen(e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := &faultyClient{
		t: t, rng: rng, proxy: proxy, base: "http://" + proxy.Addr(),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		odds:   0.6, span: 64 << 10,
	}

	var upCuts, downCuts int
	for round := 0; proxy.Cuts() < 100 || round < 2; round++ {
		if round == 20 {
			t.Fatalf("only %d cuts after %d rounds", proxy.Cuts(), round)
		}
		data := randomBytes(rng, 1<<20+rng.IntN(4096))
		sha := sum(data)

		before := proxy.Cuts()
		c.upload(data, 64<<10)
		upCuts += proxy.Cuts() - before

		before = proxy.Cuts()
		got := c.download(sha, len(data))
		downCuts += proxy.Cuts() - before

		h := sha256.Sum256(got)
		if len(got) != len(data) || hex.EncodeToString(h[:]) != sha || !bytes.Equal(got, data) {
			t.Fatalf("round %d: downloaded %d bytes with SHA-256 %x, want %d bytes with %s", round, len(got), h, len(data), sha)
		}
		onDisk := e.mustGetBlob("alice", sha) // straight, without the proxy
		if !bytes.Equal(onDisk, data) {
			t.Fatalf("round %d: stored blob differs from the upload", round)
		}
	}
	t.Logf("%d cuts (%d in uploads, %d in downloads), %d broken requests, %d connections",
		proxy.Cuts(), upCuts, downCuts, c.failures, proxy.Accepted())
	if upCuts == 0 || downCuts == 0 {
		t.Fatalf("cuts in uploads %d, in downloads %d: want both", upCuts, downCuts)
	}
	// Sessions whose creation answer was lost stay until they expire; no other is left.
	if n, err := e.svc.ExpireSessions(time.Now().Add(48 * time.Hour)); err != nil {
		t.Fatal(err)
	} else if left := sessionDirs(t, e.dir); len(left) != 0 {
		t.Fatalf("sessions left after expiry: %v", left)
	} else {
		t.Logf("%d sessions orphaned by lost create answers expired", n)
	}
}
