package update_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/update"
	"github.com/izytroniq/izytroniq/internal/update/updatetest"
)

// live is an installation with a real old server (1.0.0) running from a flat install
// directory, some data, and no service registration: the Linux hand-over path.
type live struct {
	*installation
	root    string // the install root; the old binary is root/izytroniq
	oldBin  string
	sw      *procSwitcher
	cfg     []byte
	before  map[string][]string
	n       int // the old binary's schema
	dialect string
}

func newLive(t *testing.T, dialect string) *live {
	t.Helper()
	oldSrc, oldVersion := serverBinary(t, "old")
	in := newInstallation(t, dialect)
	l := &live{installation: in, root: filepath.Join(in.dir, "opt"), n: sqldb.LatestSchemaVersion(), dialect: dialect}
	os.MkdirAll(l.root, 0o755)
	l.oldBin = filepath.Join(l.root, "izytroniq")
	if err := os.WriteFile(l.oldBin, mustRead(t, oldSrc), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(in.opts.DataDir, service.RecordFile))
	for i := range 3 {
		c := &izy.Customer{Number: fmt.Sprint("C", i), Name: fmt.Sprint("Customer ", i)}
		if err := in.db.CreateCustomer(testCtx(), c); err != nil {
			t.Fatal(err)
		}
	}
	l.sw = newProcSwitcher(t, in)
	if err := l.sw.Start(context.Background(), l.oldBin); err != nil {
		t.Fatal(err)
	}
	o := &in.opts
	o.DryRun, o.CurrentVersion, o.CurrentBinary, o.InstallDir = false, oldVersion, l.oldBin, l.root
	o.ServiceManager = &fakeManager{} // not registered: a warning, not a failure
	o.Switcher, o.ServerURL = l.sw, l.sw.url()
	o.VerifyTimeout, o.HandoverTimeout = 15*time.Second, 5*time.Second
	l.cfg = mustRead(t, o.ConfigPath)
	l.before = in.dump(t)
	in.db.Close() // as in production, only the server and the update hold the database
	return l
}

// script is a server "binary" that runs real for `db …` and does what serve says
// for `serve`.
func script(real, serve string) []byte {
	return []byte("#!/bin/sh\nif [ \"$1\" = serve ]; then\n" + serve + "\nfi\nexec " + real + " \"$@\"\n")
}

// pkgOf writes a package signed by key 0 whose server is bin, for version v.
func (l *live) pkgOf(t *testing.T, v string, bin []byte, schema int) string {
	t.Helper()
	_, priv := updatetest.Key(0)
	return l.pkg(t, updatetest.Spec{Version: v, SchemaVersion: schema, Key: priv, Server: bin})
}

func (l *live) schema(t *testing.T) int {
	t.Helper()
	db := sqldbtest.MustOpenDSN(t, l.dsn)
	defer db.Close()
	v, err := db.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// assertKept: the configuration is byte-identical and every row is as before (but
// update_history and tables the migrations added).
func (l *live) assertKept(t *testing.T) {
	t.Helper()
	if !bytes.Equal(mustRead(t, l.opts.ConfigPath), l.cfg) {
		t.Error("the configuration file changed")
	}
	after := l.dump(t)
	for tb, rows := range l.before {
		if got, want := strings.Join(after[tb], "\n"), strings.Join(rows, "\n"); got != want && tb != "database_info" && tb != "schema_migrations" {
			t.Errorf("table %s changed:\n%s\nwant\n%s", tb, got, want)
		}
	}
}

func (l *live) journal(t *testing.T) map[string]any {
	t.Helper()
	var j map[string]any
	if err := json.Unmarshal(mustRead(t, filepath.Join(l.opts.DataDir, "update", "journal.json")), &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func (l *live) pointer(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(l.root, "current"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (l *live) lastHistory(t *testing.T) sqldb.UpdateRecord {
	t.Helper()
	db := sqldbtest.MustOpenDSN(t, l.dsn)
	defer db.Close()
	h, err := db.ListUpdates(context.Background(), 1)
	if err != nil || len(h) == 0 {
		t.Fatalf("history: %v %v", h, err)
	}
	return h[0]
}

// TestUpdateLive: 1.0.0 serving → 1.1.0 with a real (expand) migration, handed over,
// verified; data and configuration kept, pointer and journal say so.
func TestUpdateLive(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			l := newLive(t, dialect)
			newBin, newVersion := serverBinary(t, "expand")
			o := l.opts
			o.PackagePath = l.pkgOf(t, newVersion, mustRead(t, newBin), l.n+1)
			res, err := update.Run(context.Background(), o)
			if err != nil {
				t.Fatalf("Run: %v\n%s\n%+v", err, report(res), res.Phases)
			}
			if res.Outcome != update.OutcomeSuccess || !res.ConfigUnchanged {
				t.Fatalf("result %+v", res)
			}
			if got := l.sw.serving(t); got != newVersion {
				t.Errorf("serving %q, want %s", got, newVersion)
			}
			if got := l.pointer(t); got != newVersion {
				t.Errorf("pointer %q", got)
			}
			if got := l.sw.bin; got != filepath.Join(l.root, "versions", newVersion, "izytroniq") {
				t.Errorf("running %s", got)
			}
			if got := l.schema(t); got != l.n+1 {
				t.Errorf("schema %d, want %d", got, l.n+1)
			}
			if j := l.journal(t); j["outcome"] != update.OutcomeSuccess || j["backup_id"] == "" {
				t.Errorf("journal %v", j)
			}
			if _, err := os.Stat(filepath.Join(l.root, "versions", newVersion+".staging")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("staging directory left: %v", err)
			}
			var names []string
			for _, p := range res.Phases {
				names = append(names, p.Name)
			}
			if got, want := strings.Join(names, " "), "verify-package preflight backup stage migrate switch verify"; got != want {
				t.Errorf("phases %s, want %s", got, want)
			}
			if h := l.lastHistory(t); h.Outcome != update.OutcomeSuccess || h.ToVersion != newVersion || len(h.Phases) != 7 {
				t.Errorf("history %+v", h)
			}
			l.assertKept(t)
		})
	}
}

// TestUpdateRollback: each way the new version can fail after the migration ends with
// the old version serving, the pointer back, nothing lost, and says what it kept. An
// expand migration stays applied (the old binary runs on it); a contract migration is
// undone by restoring the backup.
func TestUpdateRollback(t *testing.T) {
	type tc struct {
		name       string
		build      string
		serve      func(old string) string // the script's serve branch
		env        []string
		wantPhase  string
		wantSchema func(n int) int
		wantMsg    string
	}
	cases := []tc{
		{name: "new binary never ready", build: "expand", serve: func(string) string { return "exec sleep 60" },
			wantPhase: "switch", wantSchema: func(n int) int { return n + 1 }, wantMsg: "did not answer"},
		{name: "new binary exits", build: "expand", serve: func(string) string { return "exit 3" },
			wantPhase: "switch", wantSchema: func(n int) int { return n + 1 }, wantMsg: "exited"},
		{name: "wrong version answers", build: "expand", serve: func(old string) string { return "exec " + old + " \"$@\"" },
			wantPhase: "verify", wantSchema: func(n int) int { return n + 1 }, wantMsg: "answers as version \"1.0.0\""},
		{name: "contract migration restored", build: "contract", serve: func(string) string { return "exec sleep 60" },
			wantPhase: "switch", wantSchema: func(n int) int { return n }, wantMsg: "restored the database from backup"},
		{name: "db upgrade reaches the wrong schema", build: "old", serve: func(string) string { return "exit 1" },
			wantPhase: "migrate", wantSchema: func(n int) int { return n }, wantMsg: "after db upgrade the schema is"},
		{name: "database unreachable during migration", build: "expand", serve: func(string) string { return "exit 1" },
			env:       []string{"IZYTRONIQ_DB=postgres://nobody@127.0.0.1:1/none?connect_timeout=2"},
			wantPhase: "migrate", wantSchema: func(n int) int { return n }, wantMsg: "db upgrade failed"},
	}
	for _, c := range cases {
		for _, dialect := range sqldbtest.Dialects() {
			if dialect == sqldb.Postgres && c.name != "contract migration restored" {
				continue // the other cases do not depend on the database
			}
			t.Run(c.name+"/"+dialect, func(t *testing.T) {
				l := newLive(t, dialect)
				real, newVersion := serverBinary(t, c.build)
				if c.build == "old" {
					newVersion = "1.1.0" // the package's; its binary migrates like 1.0.0
				}
				o := l.opts
				schema := l.n + 1 // what the package claims
				if c.build == "contract" {
					schema = l.n + 2
				}
				o.PackagePath = l.pkgOf(t, newVersion, script(real, c.serve(l.oldBin)), schema)
				o.MigrateEnv = c.env
				o.VerifyTimeout = 3 * time.Second
				res, err := update.Run(context.Background(), o)
				if !errors.Is(err, update.ErrRolledBack) {
					t.Fatalf("Run = %v, want ErrRolledBack\n%+v", err, res)
				}
				if res.Outcome != update.OutcomeRolledBack || !strings.Contains(res.Message, "the "+c.wantPhase+" phase failed") ||
					!strings.Contains(res.Message, c.wantMsg) || !strings.Contains(res.Message, "kept: backup ") {
					t.Fatalf("outcome %s, message:\n%s", res.Outcome, res.Message)
				}
				if got := l.sw.serving(t); got != "1.0.0" {
					t.Errorf("serving %q, want 1.0.0", got)
				}
				if got := l.pointer(t); got != "" {
					t.Errorf("pointer %q, want none (the flat install)", got)
				}
				if got, want := l.schema(t), c.wantSchema(l.n); got != want {
					t.Errorf("schema %d, want %d", got, want)
				}
				if j := l.journal(t); j["outcome"] != update.OutcomeRolledBack {
					t.Errorf("journal %v", j)
				}
				if h := l.lastHistory(t); h.Outcome != update.OutcomeRolledBack {
					t.Errorf("history %+v", h)
				}
				l.assertKept(t)
				for _, p := range res.Phases {
					t.Logf("phase %-14s %-5s %s", p.Name, p.Outcome, p.Duration.Round(time.Millisecond))
				}
				t.Logf("message: %s", res.Message)
			})
		}
	}
}

// TestUpdateServicePath: with a registered service and no hand-over (Windows), the
// update repoints the service, records the new path and restarts it; on failure it
// repoints and restarts it back.
func TestUpdateServicePath(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "success", true: "rollback"}[fail], func(t *testing.T) {
			l := newLive(t, sqldb.SQLite)
			l.sw.Stop(context.Background())
			svc := &fakeService{name: "izytroniq", binary: l.oldBin, procs: l.sw}
			if err := svc.Restart(context.Background(), "izytroniq"); err != nil {
				t.Fatal(err)
			}
			spec := service.Spec{Name: "izytroniq", BinaryPath: l.oldBin, User: "izytroniq", WorkingDir: l.opts.DataDir}
			if err := service.Record(l.opts.DataDir, spec); err != nil {
				t.Fatal(err)
			}
			real, newVersion := serverBinary(t, "expand")
			bin := mustRead(t, real)
			if fail {
				bin = script(real, "exit 2")
			}
			o := l.opts
			o.Switcher, o.ServiceManager, o.ServiceControl = nil, svc, svc
			o.PackagePath = l.pkgOf(t, newVersion, bin, l.n+1)
			res, err := update.Run(context.Background(), o)
			newPath := filepath.Join(l.root, "versions", newVersion, "izytroniq")
			rec, _ := service.LoadRecord(l.opts.DataDir)
			if !fail {
				if err != nil {
					t.Fatalf("Run: %v\n%+v", err, res)
				}
				if got := l.sw.serving(t); got != newVersion || svc.binary != newPath || rec.BinaryPath != newPath || rec.User != "izytroniq" {
					t.Fatalf("serving %q, service runs %s, record %+v", got, svc.binary, rec)
				}
				return
			}
			if !errors.Is(err, update.ErrRolledBack) {
				t.Fatalf("Run = %v\n%+v", err, res)
			}
			if got := l.sw.serving(t); got != "1.0.0" || svc.binary != l.oldBin || rec.BinaryPath != l.oldBin {
				t.Fatalf("serving %q, service runs %s, record %+v\n%s", got, svc.binary, rec, res.Message)
			}
			if got := strings.Join(svc.repoints, " "); got != newPath+" "+l.oldBin {
				t.Errorf("repoints %s", got)
			}
		})
	}
}

// TestUpdateConcurrent: five updates at once on one installation: one proceeds, the
// others stop at once naming its pid; the database is migrated once.
func TestUpdateConcurrent(t *testing.T) {
	l := newLive(t, sqldb.SQLite)
	newBin, newVersion := serverBinary(t, "expand")
	o := l.opts
	o.PackagePath = l.pkgOf(t, newVersion, mustRead(t, newBin), l.n+1)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = update.Run(context.Background(), o)
		}()
	}
	close(start)
	wg.Wait()
	ok, busy := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, update.ErrBusy) && strings.Contains(err.Error(), fmt.Sprintf("another update is running (pid %d)", os.Getpid())):
			busy++
		default:
			t.Errorf("Run: %v", err)
		}
	}
	if ok != 1 || busy != 4 {
		t.Fatalf("%d succeeded, %d busy; want 1 and 4", ok, busy)
	}
	var n int
	raw := l.raw(t)
	defer raw.Close()
	err := raw.QueryRow("SELECT count(*) FROM schema_migrations WHERE version = ?", l.n+1).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("migration %d recorded %d times (%v)", l.n+1, n, err)
	}
}
