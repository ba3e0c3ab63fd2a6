package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the izytroniq binary the process tests start; it is built at most once
// per test binary, on first use.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "izytroniq-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// binary returns the path of the izytroniq binary built from this package.
func binary(t testing.TB) string {
	t.Helper()
	exe := filepath.Join(binDir, "izytroniq")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", exe, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return exe
}

// testPasswordIterations keeps password hashing fast in tests.
const testPasswordIterations = "1000"

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is an environment with only the given variables, plus fast password hashing.
func testEnv(vars map[string]string) (*env, *syncBuffer, *syncBuffer) {
	all := map[string]string{"IZYTRONIQ_PASSWORD_ITERATIONS": testPasswordIterations}
	for k, v := range vars {
		all[k] = v
	}
	return bareEnv(all)
}

// bareEnv is an environment with exactly the given variables.
func bareEnv(all map[string]string) (*env, *syncBuffer, *syncBuffer) {
	var out, errOut syncBuffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errOut,
		getenv: func(k string) string { return all[k] },
		environ: func() []string {
			var kv []string
			for k, v := range all {
				kv = append(kv, k+"="+v)
			}
			slices.Sort(kv)
			return kv
		},
	}
	return e, &out, &errOut
}

// withDataDir gives a command without a configuration file a temporary data directory,
// so that no test writes logs into the source tree.
func withDataDir(t testing.TB, vars map[string]string, args []string) map[string]string {
	if slices.Contains(args, "--config") || vars["IZYTRONIQ_DATA_DIR"] != "" || vars["IZYTRONIQ_CONFIG"] != "" {
		return vars
	}
	m := map[string]string{"IZYTRONIQ_DATA_DIR": t.TempDir()}
	for k, v := range vars {
		m[k] = v
	}
	return m
}

// runTest runs the program in this process and returns its output and error.
func runTest(t testing.TB, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	e, out, errOut := testEnv(withDataDir(t, vars, args))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = runEnv(ctx, args, e)
	return out.String(), errOut.String(), err
}

// mustRun is runTest that fails t on an error.
func mustRun(t testing.TB, vars map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := runTest(t, vars, args...)
	if err != nil {
		t.Fatalf("izytroniq %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const adminPassword = "correct-horse-battery"

// initDir runs `izytroniq init` in a new directory with the admin password adminPassword
// and returns the configuration's path.
func initDir(t testing.TB, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	pw := writeFile(t, t.TempDir(), "pw", adminPassword+"\n")
	args := append([]string{"init", "--dir", dir, "--admin-password-file", pw}, extra...)
	mustRun(t, nil, args...)
	return filepath.Join(dir, DefaultConfigFile)
}

// serveInProcess runs `izytroniq serve` in this process on a free port until the test
// ends, and returns its base URL.
func serveInProcess(t testing.TB, vars map[string]string, args ...string) string {
	t.Helper()
	e, out, errOut := testEnv(withDataDir(t, vars, args))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runEnv(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), e) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30 s of its context ending")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := servingAddr(out.String()); addr != "" {
			return "http://" + addr
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within 30 s\nstdout:\n%s\nstderr:\n%s", out, errOut)
	return ""
}

// servingAddr finds the address in the server's "serving" log line.
func servingAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" && rec.Addr != "" {
			return rec.Addr
		}
	}
	return ""
}

// proc is a running izytroniq process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error
}

// processEnv is the environment of started processes: this one's, without IZYTRONIQ_*
// variables that would change their configuration, plus vars.
func processEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IZYTRONIQ_") && !strings.HasPrefix(kv, "IZYTRONIQ_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "IZYTRONIQ_PASSWORD_ITERATIONS="+testPasswordIterations)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// start starts the binary with args; the process is killed when the test ends.
func start(t testing.TB, vars map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = processEnv(vars)
	cmd.Dir = t.TempDir() // where a default ./data would go
	p := &proc{cmd: cmd, out: new(syncBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor waits until the output contains s, failing t when the process ends first or
// after a minute.
func (p *proc) waitFor(t testing.TB, s string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(p.out.String(), s) {
		select {
		case <-p.done:
			if strings.Contains(p.out.String(), s) {
				return
			}
			t.Fatalf("process ended (%v) before printing %q; output:\n%s", p.err, s, p.out)
		case <-deadline:
			t.Fatalf("no %q within a minute; output:\n%s", s, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// baseURL waits for the server's "serving" log line and returns its URL.
func (p *proc) baseURL(t testing.TB) string {
	t.Helper()
	p.waitFor(t, `"msg":"serving"`)
	return "http://" + servingAddr(p.out.String())
}

// wait waits for the process to end and returns its exit code.
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process did not end within %s; output:\n%s", timeout, p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// terminate sends SIGTERM (an interrupt on Windows, which has no SIGTERM delivery).
func (p *proc) terminate(t testing.TB) {
	t.Helper()
	sig := os.Signal(syscall.SIGTERM)
	if runtime.GOOS == "windows" {
		sig = os.Interrupt
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// runProcess runs the binary to its end and returns its combined output and exit code.
func runProcess(t testing.TB, vars map[string]string, args ...string) (string, int) {
	t.Helper()
	p := start(t, vars, args...)
	code := p.wait(t, 2*time.Minute)
	return p.out.String(), code
}

// client talks JSON to a server.
type client struct {
	t     testing.TB
	base  string
	token string
}

// do sends body as JSON and decodes the answer into out (when not nil), failing t when the
// status is not want.
func (c *client) do(method, path string, body, out any, want int) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// login signs in and returns a client carrying the token.
func login(t testing.TB, base, username, password string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	var resp struct{ Token string }
	c.do("POST", "/api/v1/login", map[string]string{"username": username, "password": password}, &resp, http.StatusOK)
	if resp.Token == "" {
		t.Fatal("login answered no token")
	}
	c.token = resp.Token
	return c
}
