package transfer_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/transfer"
)

func TestExpireSessions(t *testing.T) {
	e := newEnv(t, transfer.Limits{IdleTimeout: time.Hour})
	data := []byte("0123456789")
	idle := e.create("alice", len(data), sum(data))
	busy := e.create("bob", len(data), sum(data))
	start := time.Now()

	// Leftovers that expiry must judge: a creation that crashed before its metadata, and
	// something that is no session at all.
	orphan := "0190a000-0000-7000-8000-0000000000f1"
	os.Mkdir(filepath.Join(e.dir, "sessions", orphan), 0o700)
	old := start.Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(e.dir, "sessions", orphan), old, old)
	os.Mkdir(filepath.Join(e.dir, "sessions", "not-a-session"), 0o700)

	if n, err := e.svc.ExpireSessions(start.Add(30 * time.Minute)); err != nil || n != 1 {
		t.Fatalf("expire within the idle time: %d %v, want only the orphan", n, err)
	}
	// A fragment keeps a session alive.
	time.Sleep(10 * time.Millisecond)
	st := e.mustPut("bob", busy.ID, data, 0, 4)
	if !st.ExpiresAt.After(start.Add(time.Hour)) {
		t.Fatalf("expires_at = %v, want after %v", st.ExpiresAt, start.Add(time.Hour))
	}
	if n, err := e.svc.ExpireSessions(start.Add(time.Hour + 5*time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("expire the idle session: %d %v, want 1", n, err)
	}
	if r := e.status("alice", idle.ID); r.Status != http.StatusNotFound {
		t.Fatalf("expired session: %d, want 404", r.Status)
	}
	if got, want := sessionDirs(t, e.dir), []string{busy.ID, "not-a-session"}; !slices.Equal(got, want) {
		t.Fatalf("sessions = %v, want %v", got, want)
	}
	if got, want := e.svc.Usage().ReservedBytes, int64(len(data)); got != want {
		t.Fatalf("reserved = %d, want %d", got, want)
	}
	if n, err := e.svc.ExpireSessions(time.Now().Add(2 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("expire the rest: %d %v, want 1", n, err)
	}
	if got := e.svc.Usage().ReservedBytes; got != 0 {
		t.Fatalf("reserved = %d, want 0", got)
	}
}

func TestRunExpires(t *testing.T) {
	e := newEnv(t, transfer.Limits{IdleTimeout: time.Millisecond})
	e.create("alice", 1, sum([]byte{1}))
	done := make(chan struct{})
	go func() { e.svc.Run(t.Context(), 5*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(sessionDirs(t, e.dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not expire the session")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, transfer.Limits{})
	if err := e.svc.Health(); err != nil {
		t.Fatalf("health: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(e.dir, "tmp")); len(left) != 0 {
		t.Fatalf("health left %d probe files", len(left))
	}
	// A store where the probe cannot be written (a file where the tmp directory belongs;
	// unlike a read-only mode, that stops root too).
	tmp := filepath.Join(e.dir, "tmp")
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	writeFile(t, tmp, nil)
	if err := e.svc.Health(); err == nil {
		t.Fatal("health passed with an unwritable store")
	}
}

func TestNewLimits(t *testing.T) {
	dir := t.TempDir()
	if _, err := transfer.New(dir, transfer.Limits{MaxFragment: -1}, nil); err == nil {
		t.Fatal("New accepted a negative limit")
	}
	svc, err := transfer.New(dir, transfer.Limits{Quota: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	want := transfer.DefaultLimits()
	want.Quota = 5
	if got := svc.Limits(); got != want {
		t.Fatalf("limits = %+v, want %+v", got, want)
	}
}
