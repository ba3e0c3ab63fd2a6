package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/faultnet"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// fakeRetrier is a retrier on a fake clock: sleeping moves the clock and records the wait.
func fakeRetrier(budget time.Duration) (*retrier, *[]time.Duration, *bytes.Buffer) {
	var waits []time.Duration
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &retrier{budget: budget, base: 500 * time.Millisecond, max: 30 * time.Second, out: &out,
		now:  func() time.Time { return clock },
		rand: func() float64 { return 1 }, // no jitter: the full wait
		sleep: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			clock = clock.Add(d)
			return ctx.Err()
		}}
	return r, &waits, &out
}

var errCut = &client.NetError{Op: "POST /api/v1/checkouts/x/uploads", Err: errors.New("read: connection reset by peer")}

func statusErr(status int, retryAfter time.Duration) error {
	return &client.StatusError{Status: status, RetryAfter: retryAfter, Err: izy.Errorf(izy.EUNAVAILABLE, "status %d", status)}
}

func TestRetryBackoff(t *testing.T) {
	r, _, _ := fakeRetrier(time.Minute)
	for _, c := range []struct {
		attempt  int
		min, max time.Duration
	}{{1, 250 * time.Millisecond, 500 * time.Millisecond}, {2, 500 * time.Millisecond, time.Second},
		{4, 2 * time.Second, 4 * time.Second}, {7, 15 * time.Second, 30 * time.Second}, {30, 15 * time.Second, 30 * time.Second}} {
		for _, f := range []float64{0, 0.5, 0.999999} {
			r.rand = func() float64 { return f }
			if got := r.backoff(c.attempt); got < c.min || got > c.max {
				t.Errorf("backoff(%d) with jitter %v = %v, want within [%v, %v]", c.attempt, f, got, c.min, c.max)
			}
		}
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	r, waits, out := fakeRetrier(5 * time.Minute)
	calls := 0
	err := r.do(context.Background(), func() error {
		calls++
		if calls <= 4 {
			return errCut
		}
		return nil
	})
	if err != nil || calls != 5 {
		t.Fatalf("do = %v after %d calls, want success after 5", err, calls)
	}
	if got, want := fmt.Sprint(*waits), "[500ms 1s 2s 4s]"; got != want {
		t.Errorf("waits = %s, want %s", got, want)
	}
	if !strings.Contains(out.String(), "connection lost, retrying in 4.0 s (attempt 5)\n") {
		t.Errorf("progress = %q, want the wait and the attempt", out.String())
	}
	if r.retries != 4 {
		t.Errorf("retries = %d, want 4", r.retries)
	}
}

func TestRetryWhichFailures(t *testing.T) {
	for _, c := range []struct {
		err   error
		retry bool
	}{
		{errCut, true},
		{statusErr(http.StatusRequestTimeout, 0), true},
		{statusErr(http.StatusTooManyRequests, 0), true},
		{statusErr(http.StatusBadGateway, 0), true},
		{statusErr(http.StatusServiceUnavailable, 0), true},
		{statusErr(http.StatusGatewayTimeout, 0), true},
		{statusErr(http.StatusBadRequest, 0), false},
		{statusErr(http.StatusUnauthorized, 0), false},
		{statusErr(http.StatusForbidden, 0), false},
		{statusErr(http.StatusNotFound, 0), false},
		{statusErr(http.StatusConflict, 0), false},
		{statusErr(http.StatusRequestEntityTooLarge, 0), false},
		{statusErr(http.StatusInternalServerError, 0), false},
		{izy.Errorf(izy.EINVALID, "bad"), false},
	} {
		r, _, _ := fakeRetrier(time.Minute)
		calls := 0
		err := r.do(context.Background(), func() error {
			calls++
			if calls == 1 {
				return c.err
			}
			return nil
		})
		if got, want := calls > 1, c.retry; got != want {
			t.Errorf("%v: retried %v, want %v (err %v)", c.err, got, want, err)
		}
	}
}

func TestRetryAfterAndBudget(t *testing.T) {
	// A 503 with Retry-After waits as long as the server asks.
	r, waits, out := fakeRetrier(time.Minute)
	calls := 0
	r.do(context.Background(), func() error {
		calls++
		if calls == 1 {
			return statusErr(http.StatusServiceUnavailable, 7*time.Second)
		}
		return nil
	})
	if got, want := fmt.Sprint(*waits), "[7s]"; got != want {
		t.Errorf("waits = %s, want %s", got, want)
	}
	if !strings.Contains(out.String(), "the server is unavailable (503), retrying in 7.0 s (attempt 2)") {
		t.Errorf("progress = %q", out.String())
	}

	// The budget ends the retries; the error is the last one, still a network error.
	r, waits, _ = fakeRetrier(20 * time.Second)
	err := r.do(context.Background(), func() error { return errCut })
	var g *gaveUpError
	if !errors.As(err, &g) || !client.IsNetError(err) {
		t.Fatalf("do = %v, want a network error after giving up", err)
	}
	var total time.Duration
	for _, w := range *waits {
		total += w
	}
	if total > 20*time.Second || len(*waits) < 4 {
		t.Errorf("waited %v in %d waits, want at most the budget of 20 s in several", total, len(*waits))
	}

	// --retry-for 0 does not retry.
	r, waits, _ = fakeRetrier(0)
	calls = 0
	r.do(context.Background(), func() error { calls++; return errCut })
	if calls != 1 || len(*waits) != 0 {
		t.Errorf("budget 0: %d calls, %d waits, want 1 and 0", calls, len(*waits))
	}

	// A cancelled command stops at once.
	r, _, _ = fakeRetrier(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = r.do(ctx, func() error { calls++; cancel(); return errCut })
	if calls != 1 || err == nil {
		t.Errorf("cancelled: %d calls (%v), want 1 and an error", calls, err)
	}
}

func TestFmtWait(t *testing.T) {
	for d, want := range map[time.Duration]string{4 * time.Second: "4.0 s", 30 * time.Second: "30 s", 500 * time.Millisecond: "0.5 s", 10 * time.Millisecond: "10 ms"} {
		if got := fmtWait(d); got != want {
			t.Errorf("fmtWait(%v) = %q, want %q", d, got, want)
		}
	}
}

// izyEnv runs izy in this process with extra environment variables over the process's.
func izyEnv(home string, vars map[string]string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	err := runEnv(context.Background(), append([]string{"--home", home}, args...), &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: getenv})
	return stdout.String(), stderr.String(), err
}

var fastRetry = map[string]string{"IZY_RETRY_BASE": "2ms"}

// flaky answers the first n requests with status (and Retry-After: 0 when ra), then
// passes every request on to h; it counts the requests by path.
type flaky struct {
	h      http.Handler
	n      atomic.Int64
	status int
	paths  func(string) bool
	seen   atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.paths == nil || f.paths(r.URL.Path) {
		f.seen.Add(1)
		if f.n.Add(-1) >= 0 {
			w.WriteHeader(f.status)
			io.WriteString(w, "<html>bad gateway</html>")
			return
		}
	}
	f.h.ServeHTTP(w, r)
}

// TestRetryEndToEnd runs whole izy commands in this process against a real server behind
// a gateway that answers 502 and 503 at first, and behind a proxy that cuts connections;
// each command completes by itself. A wrong password is tried exactly once.
func TestRetryEndToEnd(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		hs := startServer(t, db)
		api := apiClient(t, hs.URL)
		f := makeFixture(t, api, 5)
		fl := &flaky{h: hs.Config.Handler, status: http.StatusBadGateway}
		gw := httptest.NewServer(fl)
		t.Cleanup(gw.Close)
		home := t.TempDir()

		// A wrong password is not retried, even when a gateway failed first.
		fl.n.Store(2)
		fl.paths = func(p string) bool { return p == "/api/v1/login" }
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("wrong\n"), 0o600)
		_, errOut, err := izyEnv(home, fastRetry, "login", "--server", gw.URL, "--user", "admin", "--password-file", pw)
		if izy.ErrorCode(err) != izy.EUNAUTHORIZED {
			t.Fatalf("login with a wrong password: %v, want unauthorized", err)
		}
		if got, want := fl.seen.Load(), int64(3); got != want {
			t.Errorf("login requests = %d, want %d (two 502s, then one 401)", got, want)
		}
		if got := strings.Count(errOut, "the server is unavailable (502), retrying in"); got != 2 {
			t.Errorf("stderr has %d retry lines, want 2:\n%s", got, errOut)
		}
		os.WriteFile(pw, []byte(testPassword+"\n"), 0o600)
		if _, errOut, err := izyEnv(home, fastRetry, "login", "--server", gw.URL, "--user", "admin", "--password-file", pw); err != nil {
			t.Fatalf("login: %v\n%s", err, errOut)
		}

		// Checkout: the create answers 503 three times (the server applies nothing), then
		// snapshot pages are cut.
		fl.seen.Store(0)
		fl.n.Store(3)
		fl.status = http.StatusServiceUnavailable
		fl.paths = func(p string) bool { return p == "/api/v1/checkouts" }
		out, errOut, err := izyEnv(home, fastRetry, "checkout", "--customer", f.customer.ID, "--json")
		if err != nil {
			t.Fatalf("checkout: %v\n%s", err, errOut)
		}
		if !strings.Contains(out, f.customer.ID) || fl.seen.Load() != 4 {
			t.Fatalf("checkout after three 503s: %d requests, %s", fl.seen.Load(), out)
		}
		list, err := api.Checkouts(context.Background(), nil)
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("open checkouts = %v (%v), want 1", list, err)
		}

		// --retry-for 0 fails at once and says how to go on.
		fl.seen.Store(0)
		fl.n.Store(1)
		fl.paths = func(p string) bool { return strings.HasSuffix(p, "/handshake") }
		_, _, err = izyEnv(home, fastRetry, "sync", "--retry-for", "0")
		if err == nil || fl.seen.Load() != 1 {
			t.Fatalf("sync --retry-for 0 with a 503: %v after %d requests, want a failure after 1", err, fl.seen.Load())
		}
		// A server that stays unavailable: izy gives up after --retry-for and says so.
		fl.seen.Store(0)
		fl.n.Store(1 << 30)
		_, _, err = izyEnv(home, fastRetry, "sync", "--retry-for", "40ms")
		fl.n.Store(0)
		if err == nil || !strings.Contains(izy.ErrorMessage(err), "gave up after") || !strings.Contains(izy.ErrorMessage(err), "run the command again later") || fl.seen.Load() < 3 {
			t.Fatalf("sync against a server that stays unavailable: %v after %d requests", err, fl.seen.Load())
		}

		// Sync through a proxy that cuts connections: recorded tests go up once.
		u := strings.TrimPrefix(hs.URL, "http://")
		px, err := faultnet.Listen(u)
		if err != nil {
			t.Fatal(err)
		}
		defer px.Close()
		cfg := mustConfig(t, home)
		cfg.Server = "http://" + px.Addr()
		if err := cfg.save(home); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 6 {
			var tr testResult
			izyJSON(t, home, &tr, "test", f.devices[i%len(f.devices)].ID, "--measure", "protective_conductor_resistance=0.12ohm", "--measure", "insulation_resistance=2.5MΩ")
			ids = append(ids, tr.ID)
		}
		for i := range 8 {
			dir := faultnet.ServerToClient
			if i%2 == 0 {
				dir = faultnet.ClientToServer
			}
			px.CutAfter(dir, int64(100+i*150))
		}
		out, errOut, err = izyEnv(home, fastRetry, "sync", "--batch", "1", "--json")
		if err != nil {
			t.Fatalf("sync through cuts: %v\n%s", err, errOut)
		}
		if px.Cuts() == 0 || !strings.Contains(errOut, "connection lost, retrying in") {
			t.Errorf("%d cuts; stderr %q, want cuts and retry lines", px.Cuts(), errOut)
		}
		for _, id := range ids {
			if _, err := api.Test(context.Background(), id); err != nil {
				t.Errorf("test %s on the server: %v", id, err)
			}
		}
		var st statusResult
		izyJSON(t, home, &st, "status")
		if st.Pending != 0 || len(st.Checkouts) != 1 || st.Checkouts[0].SyncState != izy.SyncReady {
			t.Errorf("status after sync = %+v", st)
		}
		t.Logf("%d cuts; %d lines of retries", px.Cuts(), strings.Count(errOut, "retrying"))
	})
}
