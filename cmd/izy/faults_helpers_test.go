package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
)

// The fault tests run the real binaries: izytroniq serve on a SQLite data directory and
// izy as separate processes, so that a cut connection or a kill -9 hits exactly what a
// field inspector's machine would run. Both are built once per test binary.

var faultBins struct {
	once        sync.Once
	dir         string
	server, izy string
	err         error
}

const faultAdminPassword = "correct-horse-battery-fault"

// faultBinaries builds izytroniq and izy once and returns their paths.
func faultBinaries(t testing.TB) (server, cli string) {
	t.Helper()
	faultBins.once.Do(func() {
		dir, err := os.MkdirTemp("", "izy-faults-")
		if err != nil {
			faultBins.err = err
			return
		}
		faultBins.dir = dir
		faultBins.server, faultBins.izy = filepath.Join(dir, "izytroniq"), filepath.Join(dir, "izy")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, b := range []struct{ out, pkg string }{{faultBins.server, "../izytroniq"}, {faultBins.izy, "."}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput()
				if err != nil {
					errs[i] = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				}
			}()
		}
		wg.Wait()
		faultBins.err = errorsJoin(errs)
	})
	if faultBins.err != nil {
		t.Fatal(faultBins.err)
	}
	return faultBins.server, faultBins.izy
}

func errorsJoin(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if faultBins.dir != "" {
		os.RemoveAll(faultBins.dir)
	}
	os.Exit(code)
}

// faultEnv is the environment of the started processes: no IZYTRONIQ_* settings from
// the caller (they would change the server's configuration), cheap password hashing, and
// izy's retry waits shortened from 0.5 s (doubling to 30 s) to 2 ms (doubling to 120 ms).
func faultEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IZYTRONIQ_") || strings.HasPrefix(kv, "IZY_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "IZYTRONIQ_PASSWORD_ITERATIONS=1000", "IZY_RETRY_BASE=2ms")
}

// faultRNG returns a seeded RNG for a test and logs the seed; IZY_FAULT_SEED repeats a run.
func faultRNG(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IZY_FAULT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("IZY_FAULT_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("fault seed %d (repeat with IZY_FAULT_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// lockedBuffer is a bytes.Buffer for a process writing and a test reading.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultServer is an izytroniq serve process on a fixed loopback port, so that it can be
// killed and started again behind the same proxy.
type faultServer struct {
	t      testing.TB
	bin    string
	config string
	dbPath string
	port   int
	out    *lockedBuffer // the output of every start, in order
	cmd    *exec.Cmd
	done   chan struct{}
}

// startFaultServer makes a data directory with init and seed (devices, customers), then
// starts serve on it.
func startFaultServer(t testing.TB, devices, customers int) *faultServer {
	t.Helper()
	bin, _ := faultBinaries(t)
	dir := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(faultAdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &faultServer{t: t, bin: bin, config: filepath.Join(dir, "izytroniq.toml"), dbPath: filepath.Join(dir, "data", "izytroniq.db"), out: new(lockedBuffer)}
	s.runOnce("init", "--dir", dir, "--admin-password-file", pw)
	s.runOnce("seed", "--config", s.config, "--devices", strconv.Itoa(devices), "--customers", strconv.Itoa(customers), "--years", "1", "--seed", "7")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *faultServer) runOnce(args ...string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = faultEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("izytroniq %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// addr is the server's host:port.
func (s *faultServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// url is the server's base URL, without a proxy.
func (s *faultServer) url() string { return "http://" + s.addr() }

// start starts serve and waits until it answers.
func (s *faultServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve", "--config", s.config, "--listen", s.addr())
	cmd.Env = faultEnv()
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.t.Fatalf("serve ended early:\n%s", s.out)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr(), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("serve did not listen within 30 s:\n%s", s.out)
}

// kill ends serve with SIGKILL (kill -9) and waits for it.
func (s *faultServer) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}

// requests counts the server's access-log lines with status 200 whose path ends in suffix.
func (s *faultServer) requests(suffix string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg, Path string
			Status    int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "request" && rec.Status == 200 && strings.HasSuffix(rec.Path, suffix) {
			n++
		}
	}
	return n
}

// api returns an admin API client that talks to the server directly.
func (s *faultServer) api() *client.Client {
	s.t.Helper()
	c, err := client.New(s.url())
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), "admin", faultAdminPassword); err != nil {
		s.t.Fatal(err)
	}
	return c
}

// db opens the server's SQLite database read-only, for counting what it holds.
func (s *faultServer) db() *sql.DB {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { db.Close() })
	return db
}

// customers returns the seeded customers' IDs.
func (s *faultServer) customers() []string {
	s.t.Helper()
	rows, err := s.db().Query(`SELECT id FROM customers ORDER BY id`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			s.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		s.t.Fatal("the seeded server has no customers")
	}
	return ids
}

// izyProc runs the izy binary with --home home and args until it ends or ctx ends.
func izyProc(ctx context.Context, home string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, faultBins.izy, append([]string{"--home", home}, args...)...)
	cmd.Env = faultEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mustIzy runs izy as a process and fails the test on an error.
func mustIzy(t testing.TB, home string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := izyProc(ctx, home, args...)
	if err != nil {
		t.Fatalf("izy %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// izyLogin signs izy in (as a process) to url.
func izyLogin(t testing.TB, home, url string) {
	t.Helper()
	faultBinaries(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(faultAdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustIzy(t, home, "login", "--server", url, "--user", "admin", "--password-file", pw)
}

// scopeRows fetches the whole snapshot of a customer from the server through a checkout
// of its own (a second shared client), keyed entity/id.
func scopeRows(t testing.TB, c *client.Client, customerID string) map[string]izy.Row {
	t.Helper()
	ctx := context.Background()
	co, err := c.CreateCheckout(ctx, client.CheckoutRequest{ClientID: "fault-verifier-" + izy.NewID(), CustomerID: customerID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ReleaseCheckout(ctx, co.ID)
	out := map[string]izy.Row{}
	cursor := ""
	for {
		p, err := c.Snapshot(ctx, co.ID, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rows {
			k := r.Entity + "/" + r.ID
			if _, dup := out[k]; dup {
				t.Fatalf("the server's snapshot holds %s twice", k)
			}
			out[k] = r
		}
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
}

// replicaRows reads the live rows of the replica in home, keyed entity/id.
func replicaRows(t testing.TB, home string) map[string]izy.Row {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+replicaPath(home)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT entity, id, seq, coalesce(data, '') FROM records WHERE deleted = 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]izy.Row{}
	for rows.Next() {
		var r izy.Row
		var data string
		if err := rows.Scan(&r.Entity, &r.ID, &r.Seq, &data); err != nil {
			t.Fatal(err)
		}
		r.Data = json.RawMessage(data)
		out[r.Entity+"/"+r.ID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sortedChecksum is izy.RowsChecksum over the rows in key order.
func sortedChecksum(m map[string]izy.Row) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rows := make([]izy.Row, len(keys))
	for i, k := range keys {
		rows[i] = m[k]
	}
	return izy.RowsChecksum(rows)
}

// entityCounts counts rows per entity.
func entityCounts(m map[string]izy.Row) map[string]int {
	out := map[string]int{}
	for _, r := range m {
		out[r.Entity]++
	}
	return out
}

// assertSameRows fails t unless the replica holds exactly the server's rows: the same
// counts per entity, the same rows byte for byte, the same checksum.
func assertSameRows(t testing.TB, server, replica map[string]izy.Row) {
	t.Helper()
	if got, want := fmt.Sprint(entityCounts(replica)), fmt.Sprint(entityCounts(server)); got != want {
		t.Errorf("replica counts %s, server %s", got, want)
	}
	lost, extra, differ := 0, 0, 0
	for k, s := range server {
		r, ok := replica[k]
		switch {
		case !ok:
			lost++
		case r.Seq != s.Seq || !bytes.Equal(r.Data, s.Data):
			differ++
			if differ <= 3 {
				t.Errorf("%s: replica seq %d %s, server seq %d %s", k, r.Seq, r.Data, s.Seq, s.Data)
			}
		}
	}
	for k := range replica {
		if _, ok := server[k]; !ok {
			extra++
		}
	}
	if lost+extra+differ > 0 {
		t.Errorf("replica against server: %d rows lost, %d extra, %d different", lost, extra, differ)
	}
	if got, want := sortedChecksum(replica), sortedChecksum(server); got != want {
		t.Errorf("replica checksum %s, server %s", got, want)
	}
}
