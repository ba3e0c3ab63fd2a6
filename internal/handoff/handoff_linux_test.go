//go:build linux

package handoff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a tiny server that uses this package the way serve does
// (HANDOFF_TEST_HELPER=serve), copied to .../a/izytroniq and .../b/izytroniq so that
// Running takes it for izytroniq and the two copies answer with different names.
const (
	envHelper   = "HANDOFF_TEST_HELPER"
	envRunDir   = "HANDOFF_TEST_RUNDIR"
	envAddrFile = "HANDOFF_TEST_ADDR_FILE"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envHelper) {
	case "serve":
		os.Exit(helperServe())
	case "sleep":
		time.Sleep(time.Minute)
		os.Exit(0)
	case "validate":
		fmt.Println(ValidateBinary(os.Args[len(os.Args)-1]))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperServe() int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ln, inherited, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	if !inherited {
		if err := os.WriteFile(os.Getenv(envAddrFile), []byte(ln.Addr().String()), 0o644); err != nil {
			log.Error("addr file", "err", err)
			return 1
		}
	}
	u, err := New(os.Getenv(envRunDir), log)
	if err != nil {
		log.Error("new", "err", err)
		return 1
	}
	defer u.Stop()
	exe, _ := os.Executable()
	name := filepath.Base(filepath.Dir(exe))
	var closing atomic.Bool
	u.OnDrain(func() { closing.Store(true) })
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if closing.Load() {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprintf(w, "%s %d", name, os.Getpid())
	})}
	go func() {
		if err := u.Ready(); err != nil {
			log.Error("ready", "err", err)
		}
	}()
	go func() {
		<-u.Exit()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// helper is a started copy of the test binary.
type helper struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// copyTestBinary copies this test binary to dir/name/izytroniq.
func copyTestBinary(t *testing.T, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name, "izytroniq")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func startHelper(t *testing.T, exe, mode string, env []string, args ...string) *helper {
	t.Helper()
	h := &helper{done: make(chan struct{}), log: filepath.Join(t.TempDir(), "log")}
	f, err := os.Create(h.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h.cmd = exec.Command(exe, args...)
	h.cmd.Env = append(append(os.Environ(), envHelper+"="+mode), env...)
	h.cmd.Stdout, h.cmd.Stderr = f, f
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.done
		if t.Failed() {
			b, _ := os.ReadFile(h.log)
			t.Logf("%s output:\n%s", exe, b)
		}
	})
	return h
}

// waitUntil polls cond every 10 ms for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serving starts helper a as "izytroniq serve" and returns it, its run directory, its
// address and the datagrams it and its successors send to a NOTIFY_SOCKET.
func serving(t *testing.T, exe string) (*helper, string, string, func() []string) {
	t.Helper()
	dir := t.TempDir()
	runDir := RunDir(dir)
	addrFile := filepath.Join(dir, "addr")
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var mu sync.Mutex
	var notes []string
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			notes = append(notes, string(buf[:n]))
			mu.Unlock()
		}
	}()
	h := startHelper(t, exe, "serve", []string{envRunDir + "=" + runDir, envAddrFile + "=" + addrFile, "NOTIFY_SOCKET=" + sock}, "serve")
	waitUntil(t, "the pidfile", func() bool {
		pid, err := Running(runDir)
		return err == nil && pid == h.cmd.Process.Pid
	})
	addr, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid, err := Running(runDir); err == nil && pid != h.cmd.Process.Pid {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return h, runDir, "http://" + string(addr), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), notes...)
	}
}

// hammer sends GETs over keep-alive connections from n goroutines until stop closes and
// returns the number of requests and failures.
func hammer(base string, n int, stop chan struct{}) func() (int64, []error) {
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	var count atomic.Int64
	var mu sync.Mutex
	var errs []error
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// POST: not retried by the transport, so a closed keep-alive shows.
				resp, err := hc.Post(base, "text/plain", strings.NewReader("x"))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				count.Add(1)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	return func() (int64, []error) {
		wg.Wait()
		tr.CloseIdleConnections()
		return count.Load(), errs
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHandOver(t *testing.T) {
	dir := t.TempDir()
	a, b := copyTestBinary(t, dir, "a"), copyTestBinary(t, dir, "b")
	h, runDir, base, notes := serving(t, a)
	oldPID := h.cmd.Process.Pid
	if got, want := get(t, base), fmt.Sprintf("a %d", oldPID); got != want {
		t.Fatalf("before: %q, want %q", got, want)
	}
	stop := make(chan struct{})
	done := hammer(base, 8, stop)
	time.Sleep(100 * time.Millisecond) // some load before the hand-over
	newPID, err := Request(context.Background(), runDir, b, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the old process did not exit")
	}
	close(stop)
	n, errs := done()
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	if got, want := get(t, base), fmt.Sprintf("b %d", newPID); got != want {
		t.Errorf("after: %q, want %q", got, want)
	}
	if pid, err := Running(runDir); err != nil || pid != newPID {
		t.Errorf("Running = %d, %v; want %d", pid, err, newPID)
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	// The old process repeats the new MAINPID, so systemd has it before the old one exits.
	want := []string{fmt.Sprintf("READY=1\nMAINPID=%d", oldPID), fmt.Sprintf("READY=1\nMAINPID=%d", newPID), fmt.Sprintf("MAINPID=%d", newPID)}
	waitUntil(t, "the notifications", func() bool { return len(notes()) >= 3 })
	if got := notes(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sd_notify got %q, want %q", got, want)
	}
	if ents, _ := os.ReadDir(runDir); len(ents) != 1 {
		t.Errorf("run directory holds %v, want only the pidfile", ents)
	}
	t.Logf("%d requests during the hand-over, %d failed", n, len(errs))
}

// TestReloadWithoutRequest: SIGHUP without a request file (systemctl reload) starts
// the server's own binary again.
func TestReloadWithoutRequest(t *testing.T) {
	a := copyTestBinary(t, t.TempDir(), "a")
	h, runDir, base, _ := serving(t, a)
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the old process did not exit")
	}
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	pid, err := Running(runDir)
	if err != nil || pid == h.cmd.Process.Pid {
		t.Fatalf("Running = %d, %v; want a new process", pid, err)
	}
	if got, want := get(t, base), fmt.Sprintf("a %d", pid); got != want {
		t.Errorf("after: %q, want %q", got, want)
	}
}

// TestHandOverFailureKeepsServing: a binary that exits, and a second request while the
// first waits, both leave the old process serving.
func TestHandOverFailureKeepsServing(t *testing.T) {
	dir := t.TempDir()
	a := copyTestBinary(t, dir, "a")
	h, runDir, base, _ := serving(t, a)
	oldPID := h.cmd.Process.Pid
	exits := filepath.Join(dir, "exits")
	os.WriteFile(exits, []byte("#!/bin/sh\nexit 7\n"), 0o755)
	hangs := filepath.Join(dir, "hangs")
	os.WriteFile(hangs, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755)

	_, err := Request(context.Background(), runDir, exits, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), fmt.Sprintf("process %d is still serving", oldPID)) {
		t.Fatalf("Request(exits) = %v", err)
	}

	errc := make(chan error, 1)
	go func() {
		_, err := Request(context.Background(), runDir, hangs, time.Second)
		errc <- err
	}()
	waitUntil(t, "the first request", func() bool {
		_, err := os.Stat(filepath.Join(runDir, RequestFileName))
		return err == nil
	})
	if _, err := Request(context.Background(), runDir, a, time.Second); !errors.Is(err, ErrInProgress) {
		t.Errorf("concurrent Request = %v, want ErrInProgress", err)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "not ready within 1s") {
		t.Errorf("Request(hangs) = %v", err)
	}

	// A request written by another account (not root, not the server's) is refused.
	if os.Geteuid() == 0 {
		path := filepath.Join(runDir, RequestFileName)
		os.WriteFile(path, []byte(`{"id":"hostile","binary":"`+exits+`"}`), 0o644)
		os.Chown(path, 65534, 65534)
		h.cmd.Process.Signal(syscall.SIGHUP)
		var res *HandoffResult
		waitUntil(t, "the refusal", func() bool {
			res, err = readResult(resultPath(runDir, "hostile"))
			return err == nil
		})
		if res.OK || !strings.Contains(res.Error, "belongs to uid 65534") {
			t.Errorf("result of a request by nobody: %+v", res)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the refused request is still there: %v", err)
		}
	}
	if got, want := get(t, base), fmt.Sprintf("a %d", oldPID); got != want {
		t.Errorf("after: %q, want %q", got, want)
	}
	if pid, err := Running(runDir); err != nil || pid != oldPID {
		t.Errorf("Running = %d, %v; want %d", pid, err, oldPID)
	}
}

func TestRunningNotOurProcess(t *testing.T) {
	dir := t.TempDir()
	runDir := RunDir(dir)
	os.MkdirAll(runDir, 0o755)
	izy := copyTestBinary(t, dir, "a")
	other := filepath.Join(dir, "other")
	os.Rename(copyTestBinary(t, dir, "o"), other)

	// A process that ended: its pid is free (or reused by something else).
	gone := exec.Command("/bin/true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pid     func() int
		wantErr string
	}{
		{"exited", func() int { return gone.Process.Pid }, "is not running"},
		{"not izytroniq", func() int { return startHelper(t, other, "sleep", nil, "serve").cmd.Process.Pid }, "not izytroniq"},
		{"izytroniq but not serve", func() int { return startHelper(t, izy, "sleep", nil, "version").cmd.Process.Pid }, "not izytroniq serve"},
		{"this test", os.Getpid, "not izytroniq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid := tc.pid()
			writePIDFile(runDir, pid)
			waitUntil(t, "the process to start", func() bool {
				b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				return tc.name == "exited" || strings.Contains(string(b), filepath.Base(filepath.Dir(izy))) || strings.Contains(string(b), "other") || pid == os.Getpid()
			})
			_, err := Running(runDir)
			if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Running = %v, want ErrNotRunning with %q", err, tc.wantErr)
			}
			if _, err := Request(context.Background(), runDir, izy, time.Second); !errors.Is(err, ErrNotRunning) {
				t.Fatalf("Request = %v, want ErrNotRunning", err)
			}
		})
	}
	// The same check passes for izytroniq serve.
	h := startHelper(t, izy, "sleep", nil, "serve")
	writePIDFile(runDir, h.cmd.Process.Pid)
	waitUntil(t, "izytroniq serve", func() bool {
		pid, err := Running(runDir)
		return err == nil && pid == h.cmd.Process.Pid
	})
}

func TestClaimRequestReplacesAbandoned(t *testing.T) {
	dir := t.TempDir()
	const pid = 1234
	for _, tc := range []struct {
		name    string
		old     string // request file content
		age     time.Duration
		wantErr error
	}{
		{"pending", fmt.Sprintf(`{"id":"old","pid":%d,"created":%q}`, pid, time.Now().UTC().Format(time.RFC3339Nano)), 0, ErrInProgress},
		{"other server", fmt.Sprintf(`{"id":"old","pid":%d,"created":%q}`, pid+1, time.Now().UTC().Format(time.RFC3339Nano)), 0, nil},
		{"expired", fmt.Sprintf(`{"id":"old","pid":%d,"timeout_ms":1000,"created":%q}`, pid, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)), 0, nil},
		{"unreadable, fresh", `{"id":`, 0, ErrInProgress},
		{"unreadable, old", `{"id":`, 2 * time.Minute, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, RequestFileName)
			os.WriteFile(path, []byte(tc.old), 0o644)
			mt := time.Now().Add(-tc.age)
			os.Chtimes(path, mt, mt)
			req := &HandoffRequest{ID: newID(), PID: pid, Created: time.Now()}
			err := claimRequest(dir, req, pid)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("claimRequest = %v, want %v", err, tc.wantErr)
			}
			got, _ := readRequest(dir)
			if tc.wantErr == nil && (got == nil || got.ID != req.ID) {
				t.Fatalf("request file holds %+v, want ours", got)
			}
			os.Remove(path)
		})
	}
}

func TestNotifySystemdAbstractSocket(t *testing.T) {
	name := "@izytroniq-handoff-test-" + strconv.Itoa(os.Getpid())
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	if err := notifySystemd("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := notifySystemd("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}

func TestRequestValidatesFirst(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ binary, want string }{
		{"relative/izytroniq", "not an absolute path"},
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "not a regular file"},
	} {
		if _, err := Request(context.Background(), dir, tc.binary, time.Second); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Request(%q) = %v, want %q", tc.binary, err, tc.want)
		}
	}
	if _, err := Request(context.Background(), dir, "/bin/true", time.Hour); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Request with a 1 h timeout = %v", err)
	}
}

// TestValidateBinaryOtherAccount: a binary only root may execute is refused when the
// server runs as another account (root itself passes any execute bit).
func TestValidateBinaryOtherAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	dir, err := os.MkdirTemp("", "handoff-account-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self := copyTestBinary(t, dir, "a")
	rootOnly := filepath.Join(dir, "root-only")
	if err := os.WriteFile(rootOnly, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{rootOnly, "not executable for this account: permission denied"},
		{self, "<nil>"},
	} {
		cmd := exec.Command(self, tc.path)
		cmd.Env = append(os.Environ(), envHelper+"=validate")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("as nobody, ValidateBinary(%s) printed %q (%v), want %q", filepath.Base(tc.path), out, err, tc.want)
		}
	}
}

// TestHandOverAnswerThenExit: a server with nothing to drain writes its answer and exits
// at once; Request, having just missed the answer, finds the process gone — and must
// still report the hand-over as done (it was: the new process serves).
func TestHandOverAnswerThenExit(t *testing.T) {
	dir := t.TempDir()
	a, b := copyTestBinary(t, dir, "a"), copyTestBinary(t, dir, "b")
	h, runDir, base, _ := serving(t, a)
	first := true
	testHookNoResult = func() {
		if !first {
			return
		}
		first = false
		select { // the old process answers and exits while Request looks away
		case <-h.done:
		case <-time.After(20 * time.Second):
			t.Error("the old process did not exit")
		}
	}
	defer func() { testHookNoResult = nil }()
	newPID, err := Request(context.Background(), runDir, b, 10*time.Second)
	if err != nil {
		t.Fatalf("Request = %v; want the new process", err)
	}
	if got, want := get(t, base), fmt.Sprintf("b %d", newPID); got != want {
		t.Errorf("after: %q, want %q", got, want)
	}
}
