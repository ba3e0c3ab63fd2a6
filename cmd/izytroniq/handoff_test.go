//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/handoff"
)

// The hand-over tests start real serve processes from binaries built with different
// versions, put them under load with keep-alive connections, and switch binaries with
// handoff.Request, as `izytroniq update` does.

var versionBuilds sync.Map // version -> func() (string, error)

// binaryVersion builds izytroniq with main.version set to v (once per test binary).
func binaryVersion(t testing.TB, v string) string {
	t.Helper()
	f, _ := versionBuilds.LoadOrStore(v, sync.OnceValues(func() (string, error) {
		exe := filepath.Join(binDir, "v"+v, "izytroniq")
		cmd := exec.Command("go", "build", "-o", exe, "-ldflags", "-X main.version="+v, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build: %v\n%s", err, out)
		}
		return exe, nil
	}))
	exe, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// handoffServer is a serve process started from a given binary; after a hand-over the
// process serving is another one, found through the pidfile.
type handoffServer struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	runDir  string
	base    string
}

func startHandoffServer(t *testing.T, exe, config string) *handoffServer {
	return startHandoffServerScheme(t, exe, config, "http")
}

func startHandoffServerScheme(t *testing.T, exe, config, scheme string) *handoffServer {
	t.Helper()
	s := &handoffServer{
		logPath: filepath.Join(t.TempDir(), "serve.log"),
		done:    make(chan struct{}),
		runDir:  handoff.RunDir(filepath.Join(filepath.Dir(config), "data")),
	}
	// A file, not a pipe: the new process inherits it and outlives this one, so a pipe
	// would keep Wait waiting for its copying goroutine.
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(exe, "serve", "--config", config, "--listen", "127.0.0.1:0")
	s.cmd.Env = processEnv(nil)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if pid, err := handoff.Running(s.runDir); err == nil && pid != s.cmd.Process.Pid {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("serve output:\n%s", s.output())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if addr := servingAddr(s.output()); addr != "" {
			s.base = scheme + "://" + addr
			break
		}
		select {
		case <-s.done:
			t.Fatalf("serve ended early:\n%s", s.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within a minute:\n%s", s.output())
		}
	}
	// Ready writes the pidfile once Serve accepts.
	for {
		if pid, err := handoff.Running(s.runDir); err == nil && pid == s.cmd.Process.Pid {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pidfile naming %d in %s:\n%s", s.cmd.Process.Pid, s.runDir, s.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *handoffServer) output() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// exitCode waits for the process started from the first binary to end.
func (s *handoffServer) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("process %d did not exit within %s", s.cmd.Process.Pid, timeout)
		return -1
	}
}

// loadGen sends GET /api/v1/devices/{id} and POST /api/v1/tests from many goroutines over
// keep-alive connections until stopped, and records every failure and latency.
type loadGen struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
	samples  []sample
}

type sample struct {
	at  time.Time
	dur time.Duration
}

func startLoad(t *testing.T, base, token, deviceID string, workers int) *loadGen {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"device_id": deviceID, "date": izy.Today().String(), "standard": "VDE 0701-0702:2008",
		"visual_ok": true, "functional_ok": true,
		"measurements": []map[string]any{
			{"kind": "protective_conductor_resistance", "value": 120, "unit": "mΩ"},
			{"kind": "insulation_resistance", "value": 2.5, "unit": "MΩ"},
			{"kind": "protective_conductor_current", "value": 0.4, "unit": "mA"},
		},
	})
	return startLoadWith(t, &http.Transport{}, workers, func(i int) (*http.Request, int) {
		if i%2 == 0 {
			req, _ := http.NewRequest("GET", base+"/api/v1/devices/"+deviceID, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			return req, http.StatusOK
		}
		req, _ := http.NewRequest("POST", base+"/api/v1/tests", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		return req, http.StatusCreated
	})
}

// startLoadWith runs workers that send what next makes (worker i's next request and
// the status it must answer) through tr, keeping a keep-alive connection per worker.
func startLoadWith(t *testing.T, tr *http.Transport, workers int, next func(i int) (*http.Request, int)) *loadGen {
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = 2*workers, 2*workers, time.Minute
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	l := &loadGen{stop: make(chan struct{})}
	for i := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var local []sample
			defer func() {
				l.mu.Lock()
				l.samples = append(l.samples, local...)
				l.mu.Unlock()
			}()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, want := next(i)
				start := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != want {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				l.requests.Add(1)
				if err != nil {
					l.mu.Lock()
					l.failures = append(l.failures, fmt.Sprintf("%s %s at %s: %v", req.Method, req.URL.Path, start.Format("15:04:05.000"), err))
					l.mu.Unlock()
					continue
				}
				local = append(local, sample{start, time.Since(start)})
			}
		}()
	}
	return l
}

// finish stops the load and waits for the workers.
func (l *loadGen) finish() {
	close(l.stop)
	l.wg.Wait()
}

// stats returns the count and p99 latency of the requests started in [from, to).
func (l *loadGen) stats(from, to time.Time) (int, time.Duration) {
	var d []time.Duration
	for _, s := range l.samples {
		if !s.at.Before(from) && s.at.Before(to) {
			d = append(d, s.dur)
		}
	}
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return len(d), d[len(d)*99/100]
}

// waitRequests waits until the load has sent n more requests.
func (l *loadGen) waitRequests(n int64) {
	target := l.requests.Load() + n
	for l.requests.Load() < target {
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *loadGen) checkNoFailures(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.failures); n > 0 {
		t.Errorf("%d of %d requests failed; first ones:\n%s", n, l.requests.Load(), strings.Join(l.failures[:min(n, 10)], "\n"))
	}
}

// serverVersion asks the handshake which version serves.
func serverVersion(t *testing.T, c *client) string {
	t.Helper()
	var hs struct {
		ServerVersion string `json:"server_version"`
	}
	c.do("POST", "/api/v1/handshake", map[string]any{"client_version": "1.0.0", "protocol_version": izy.ProtocolVersion, "client_id": izy.NewID()}, &hs, http.StatusOK)
	return hs.ServerVersion
}

// handoffSetup builds the binaries, starts version a under load and returns what the
// tests need.
func handoffSetup(t *testing.T, a string) (*handoffServer, *client, *loadGen) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds binaries and starts processes")
	}
	exeA := binaryVersion(t, a)
	config := initDir(t)
	srv := startHandoffServer(t, exeA, config)
	c := login(t, srv.base, "admin", adminPassword)
	deviceID, _ := recordTest(t, c, c)
	if got := serverVersion(t, c); got != a {
		t.Fatalf("server version %q before the hand-over, want %q", got, a)
	}
	workers := 48
	if n, err := strconv.Atoi(os.Getenv("IZYTRONIQ_TEST_HANDOFF_WORKERS")); err == nil && n > 0 {
		workers = n // for measurements, e.g. the 200 clients of SPEC §9
	}
	l := startLoad(t, srv.base, c.token, deviceID, workers)
	t.Cleanup(func() {
		select {
		case <-l.stop:
		default:
			l.finish()
		}
	})
	l.waitRequests(1000)
	return srv, c, l
}

// TestHandoffUnderLoad switches a loaded server from binary A to binary B: no request
// fails, the pidfile names the new process, B's version answers, and A exits 0.
func TestHandoffUnderLoad(t *testing.T) {
	const a, b = "9.1.0-a", "9.2.0-b"
	exeB := binaryVersion(t, b)
	srv, c, l := handoffSetup(t, a)
	oldPID := srv.cmd.Process.Pid
	steady := time.Now() // after the warm-up in handoffSetup
	l.waitRequests(1500)

	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newPID, err := handoff.Request(ctx, srv.runDir, exeB, 20*time.Second)
	answered := time.Now()
	if err != nil {
		t.Fatalf("hand-over: %v", err)
	}
	code := srv.exitCode(t, 30*time.Second)
	exited := time.Now()
	l.waitRequests(1000)
	l.finish()
	end := time.Now()

	if code != 0 {
		t.Errorf("old process exit code %d, want 0", code)
	}
	if newPID == oldPID || newPID <= 0 {
		t.Errorf("new pid %d, old pid %d", newPID, oldPID)
	}
	if pid, err := handoff.Running(srv.runDir); err != nil || pid != newPID {
		t.Errorf("Running = %d, %v; want the new pid %d", pid, err, newPID)
	}
	if got := serverVersion(t, c); got != b {
		t.Errorf("server version %q after the hand-over, want %q", got, b)
	}
	l.checkNoFailures(t)
	// Figures for BENCHMARKS.md: before the request, the hand-over (request
	// to answer), the drain (answer to the old process's exit), and after.
	ms := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	nBefore, p99Before := l.stats(steady, begin)
	nSwitch, p99Switch := l.stats(begin, answered)
	nDrain, p99Drain := l.stats(answered, exited)
	nAfter, p99After := l.stats(exited, end)
	t.Logf("hand-over requested at %s, answered in %s, old process gone after %s", begin.Format("15:04:05.000"), answered.Sub(begin).Round(time.Millisecond), exited.Sub(begin).Round(time.Millisecond))
	t.Logf("requests: %d in all, %d failed; before: %d (p99 %s); hand-over: %d (p99 %s); drain: %d (p99 %s); after: %d (p99 %s)",
		l.requests.Load(), len(l.failures), nBefore, ms(p99Before), nSwitch, ms(p99Switch), nDrain, ms(p99Drain), nAfter, ms(p99After))
	for _, want := range []string{`"msg":"hand-over: new process ready"`, `"msg":"hand-over: stopped accepting; draining"`, `"msg":"stopped"`} {
		if !strings.Contains(srv.output(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// TestHandoffToBrokenBinary: a new binary that exits at once, or never gets ready, is
// killed; Request says why, and the old process keeps serving without a failed request.
func TestHandoffToBrokenBinary(t *testing.T) {
	const a = "9.1.0-a"
	srv, c, l := handoffSetup(t, a)
	oldPID := srv.cmd.Process.Pid
	dir := t.TempDir()
	exits := writeScript(t, dir, "exits", "#!/bin/sh\necho 'broken build' >&2\nexit 3\n")
	hangs := writeScript(t, dir, "hangs", "#!/bin/sh\nexec sleep 60\n")
	for _, tc := range []struct {
		binary  string
		timeout time.Duration
		want    string
	}{
		{exits, 20 * time.Second, "ended before it was ready (exit status 3)"},
		{hangs, 500 * time.Millisecond, "was not ready within 500ms; killed it"},
		{filepath.Join(dir, "missing"), time.Second, "no such file"},
	} {
		_, err := handoff.Request(context.Background(), srv.runDir, tc.binary, tc.timeout)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Request(%s) = %v, want an error with %q", filepath.Base(tc.binary), err, tc.want)
		}
		if pid, err := handoff.Running(srv.runDir); err != nil || pid != oldPID {
			t.Errorf("after the failed hand-over to %s: Running = %d, %v; want %d", filepath.Base(tc.binary), pid, err, oldPID)
		}
		l.waitRequests(300)
	}
	l.finish()
	select {
	case <-srv.done:
		t.Fatalf("the old process ended")
	default:
	}
	if got := serverVersion(t, c); got != a {
		t.Errorf("server version %q, want %q", got, a)
	}
	l.checkNoFailures(t)
	t.Logf("%d requests, %d failed", l.requests.Load(), len(l.failures))
}

func writeScript(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHandoffConcurrentRequests: of two Requests at once, one hands over and the other
// is told a hand-over is already in progress.
func TestHandoffConcurrentRequests(t *testing.T) {
	const a, b = "9.1.0-a", "9.2.0-b"
	exeB := binaryVersion(t, b)
	srv, _, l := handoffSetup(t, a)
	type result struct {
		pid int
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			pid, err := handoff.Request(context.Background(), srv.runDir, exeB, 20*time.Second)
			results <- result{pid, err}
		}()
	}
	r1, r2 := <-results, <-results
	if r1.err != nil {
		r1, r2 = r2, r1
	}
	if r1.err != nil || r1.pid <= 0 {
		t.Fatalf("no Request succeeded: %v; %v", r1.err, r2.err)
	}
	if !errors.Is(r2.err, handoff.ErrInProgress) || !strings.Contains(r2.err.Error(), "hand-over already in progress") {
		t.Fatalf("second Request = %d, %v; want ErrInProgress", r2.pid, r2.err)
	}
	t.Logf("loser: %v", r2.err)
	if code := srv.exitCode(t, 30*time.Second); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	l.waitRequests(300)
	l.finish()
	l.checkNoFailures(t)
	if pid, err := handoff.Running(srv.runDir); err != nil || pid != r1.pid {
		t.Errorf("Running = %d, %v; want %d", pid, err, r1.pid)
	}
}

// TestHandoffTLS: the inherited listener serves TLS in the new process too, and
// clients on HTTP/1.1 keep-alive or HTTP/2 connections lose no request.
func TestHandoffTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and starts processes")
	}
	t.Run("HTTP/1.1", func(t *testing.T) { testHandoffTLS(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testHandoffTLS(t, true) })
}

func testHandoffTLS(t *testing.T, h2 bool) {
	const a, b = "9.1.0-a", "9.2.0-b"
	exeA, exeB := binaryVersion(t, a), binaryVersion(t, b)
	config := initDir(t)
	cert, key := doctorCert(t, t.TempDir(), time.Now().Add(365*24*time.Hour))
	conf, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := strings.Replace(string(conf), "[tls]\n", "[tls]\ncert = "+strconv.Quote(cert)+"\nkey = "+strconv.Quote(key)+"\n", 1)
	tlsConf = strings.Replace(tlsConf, "cert = \"\"\nkey = \"\"\n", "", 1)
	if err := os.WriteFile(config, []byte(tlsConf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startHandoffServerScheme(t, exeA, config, "https")
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: h2}
	version := func() string {
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := hc.Get(srv.base + "/livez")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got, want := resp.ProtoMajor, map[bool]int{false: 1, true: 2}[h2]; got != want {
			t.Errorf("HTTP/%d, want HTTP/%d", got, want)
		}
		var h struct{ Version string }
		json.NewDecoder(resp.Body).Decode(&h)
		return h.Version
	}
	if got := version(); got != a {
		t.Fatalf("version %q over TLS before, want %q", got, a)
	}
	l := startLoadWith(t, tr.Clone(), 16, func(int) (*http.Request, int) {
		req, _ := http.NewRequest("GET", srv.base+"/livez", nil)
		return req, http.StatusOK
	})
	l.waitRequests(300)
	newPID, err := handoff.Request(context.Background(), srv.runDir, exeB, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := srv.exitCode(t, 30*time.Second); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	l.waitRequests(300)
	l.finish()
	l.checkNoFailures(t)
	tr.CloseIdleConnections()
	if got := version(); got != b {
		t.Errorf("version %q over TLS after the hand-over to %d, want %q", got, newPID, b)
	}
	t.Logf("%d requests over TLS, %d failed", l.requests.Load(), len(l.failures))
}
