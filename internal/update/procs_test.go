package update_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/update"
)

// Real server binaries, built once per test binary on first use:
//
//	old:      this tree at version 1.0.0 (schema N)
//	expand:   1.1.0 with -tags izytroniq_testmigration: one more (expand) migration, N+1
//	contract: 1.2.0 with -tags izytroniq_testmigration,izytroniq_testcontract: N+1 and a
//	          contract migration N+2 that rewrites customer names
//
// The tags add migrations from internal/sqldb/testmigrations; no release has them.
var builds = map[string]*buildOnce{
	"old":      {version: "1.0.0"},
	"expand":   {version: "1.1.0", tags: "izytroniq_testmigration"},
	"contract": {version: "1.2.0", tags: "izytroniq_testmigration,izytroniq_testcontract"},
}

type buildOnce struct {
	version, tags string
	once          sync.Once
	path          string
	err           error
	out           []byte
}

var buildDir = sync.OnceValue(func() string {
	d, err := os.MkdirTemp("", "izytroniq-update-test-")
	if err != nil {
		panic(err)
	}
	return d
})

func TestMain(m *testing.M) {
	code := m.Run()
	if d := buildDir(); d != "" {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// serverBinary returns the path of a built server binary (see builds).
func serverBinary(t testing.TB, name string) (path, version string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the server")
	}
	b := builds[name]
	b.once.Do(func() {
		b.path = filepath.Join(buildDir(), "izytroniq-"+name)
		args := []string{"build", "-o", b.path, "-ldflags", "-X main.version=" + b.version}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		cmd := exec.Command("go", append(args, "github.com/izytroniq/izytroniq/cmd/izytroniq")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build %s: %v\n%s", name, b.err, b.out)
	}
	return b.path, b.version
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// procSwitcher is the Switcher of the tests: it runs real server processes on one
// address. Its "hand-over" stops the old process and starts the new one (there is no
// socket to pass), and like the real one it puts the old one back when the new one does
// not answer /livez in time.
type procSwitcher struct {
	t       testing.TB
	addr    string
	config  string
	env     []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	bin     string
	out     *bytes.Buffer
	exited  chan struct{}
	history []string // binaries started, in order
}

var _ update.Switcher = (*procSwitcher)(nil)

func newProcSwitcher(t testing.TB, in *installation) *procSwitcher {
	s := &procSwitcher{t: t, addr: freeAddr(t), config: in.opts.ConfigPath,
		env: append(os.Environ(), "IZYTRONIQ_DB="+in.dsn, "IZYTRONIQ_DATA_DIR="+in.opts.DataDir, "IZYTRONIQ_PASSWORD_ITERATIONS=1000")}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func (s *procSwitcher) url() string { return "http://" + s.addr }

func (s *procSwitcher) Running() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0, nil
	}
	select {
	case <-s.exited:
		return 0, nil
	default:
		return s.cmd.Process.Pid, nil
	}
}

// start starts bin serving and waits until /livez answers; ok false if it exits first
// or does not answer within wait.
func (s *procSwitcher) start(bin string, wait time.Duration) error {
	cmd := exec.Command(bin, "serve", "--config", s.config, "--listen", s.addr)
	cmd.Env = s.env
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.bin, s.out, s.exited = cmd, bin, out, exited
	s.history = append(s.history, bin)
	s.mu.Unlock()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited: %s", bin, out.String())
		default:
		}
		if resp, err := http.Get(s.url() + "/livez"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stopCmd()
	return fmt.Errorf("%s did not answer /livez within %s", bin, wait)
}

func (s *procSwitcher) Start(_ context.Context, bin string) error {
	return s.start(bin, 20*time.Second)
}

func (s *procSwitcher) Handover(_ context.Context, bin string, timeout time.Duration) (int, error) {
	s.mu.Lock()
	old := s.bin
	s.mu.Unlock()
	s.stopCmd()
	if err := s.start(bin, min(timeout, 5*time.Second)); err != nil {
		if old != "" {
			s.start(old, 20*time.Second) // the old one keeps serving
		}
		return 0, err
	}
	pid, _ := s.Running()
	return pid, nil
}

func (s *procSwitcher) Stop(context.Context) error { s.stopCmd(); return nil }

func (s *procSwitcher) stopCmd() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// serving returns the version the server at s reports on /readyz, "" when none answers.
func (s *procSwitcher) serving(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(s.url() + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct{ Status, Version string }
	if err := jsonDecode(resp, &h); err != nil || h.Status != "pass" {
		return ""
	}
	return h.Version
}
