//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/handoff"
	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/update/updatetest"
)

// These tests update real installations with real packages made by release.Build (what
// `izytroniq release build` runs): 1.0.0 from this tree, and 1.1.0 built with
// GOFLAGS=-tags=izytroniq_testmigration, which adds one real (expand) migration from
// internal/sqldb/testmigrations. Both are built once per test binary, for linux/amd64
// and the server only, since building is slow on small machines.

type releases struct {
	oldPkg, newPkg string // the packages
	oldBin         string // 1.0.0's server binary, extracted
	err            error
}

var releasesOnce = sync.OnceValue(func() *releases {
	r := &releases{}
	dir := filepath.Join(binDir, "releases")
	_, priv := updatetest.Key(0)
	src, err := filepath.Abs("../..")
	if err != nil {
		r.err = err
		return r
	}
	// GOFLAGS only for the newer build: a wrapper around the go command.
	tagged := filepath.Join(binDir, "go-testmigration")
	if err := os.WriteFile(tagged, []byte("#!/bin/sh\nGOFLAGS=-tags=izytroniq_testmigration exec go \"$@\"\n"), 0o755); err != nil {
		r.err = err
		return r
	}
	build := func(v, gotool string) (string, error) {
		p, _, err := release.Build(context.Background(), release.BuildOptions{SourceDir: src, Version: v, OutDir: dir,
			Platforms: []release.Platform{{OS: "linux", Arch: "amd64"}}, Commands: []string{"izytroniq"}, SigningKey: priv, GoTool: gotool})
		return p, err
	}
	if r.oldPkg, r.err = build("1.0.0", "go"); r.err != nil {
		return r
	}
	if r.newPkg, r.err = build("1.1.0", tagged); r.err != nil {
		return r
	}
	pub, _ := updatetest.Key(0)
	pkg, err := release.Open(r.oldPkg, []ed25519.PublicKey{pub})
	if err != nil {
		r.err = err
		return r
	}
	x := filepath.Join(dir, "old")
	if r.err = pkg.Extract(x); r.err != nil {
		return r
	}
	r.oldBin = filepath.Join(x, "linux-amd64", "izytroniq")
	r.err = os.Chmod(r.oldBin, 0o755)
	return r
})

func testReleases(t *testing.T) *releases {
	t.Helper()
	if testing.Short() {
		t.Skip("builds two releases")
	}
	r := releasesOnce()
	if r.err != nil {
		t.Fatalf("build the test releases: %v", r.err)
	}
	return r
}

// install is a versioned installation of 1.0.0 with data, serving on a fixed port.
type install struct {
	t       *testing.T
	rel     *releases
	root    string // ROOT/versions/1.0.0/izytroniq, ROOT/current
	bin     string
	config  string
	cfg     []byte
	data    string
	base    string
	runDir  string
	logPath string
}

func newInstall(t *testing.T) *install {
	t.Helper()
	rel := testReleases(t)
	in := &install{t: t, rel: rel, root: filepath.Join(t.TempDir(), "opt")}
	in.bin = filepath.Join(in.root, "versions", "1.0.0", "izytroniq")
	os.MkdirAll(filepath.Dir(in.bin), 0o755)
	b, err := os.ReadFile(rel.oldBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in.bin, b, 0o755)
	os.WriteFile(filepath.Join(in.root, "current"), []byte("1.0.0\n"), 0o644)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, _ := updateFixture(t) // init, plus [update] trusted_keys naming key 0
	in.config = cfg
	in.data = filepath.Join(filepath.Dir(cfg), "data")
	old, _ := os.ReadFile(cfg)
	in.cfg = []byte(strings.Replace(string(old), "listen = ", "listen = \""+addr+"\"\n# was: listen = ", 1))
	os.WriteFile(cfg, in.cfg, 0o600)
	in.base = "http://" + addr
	in.runDir = handoff.RunDir(in.data)
	mustRun(t, nil, "seed", "--config", cfg, "--customers", "3", "--devices", "50")
	in.logPath = filepath.Join(t.TempDir(), "serve.log")
	in.serve()
	t.Cleanup(func() {
		if pid, err := handoff.Running(in.runDir); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(in.logPath)
			t.Logf("serve log:\n%s", lastN(string(b), 40))
		}
	})
	if got := in.serving(); got != "1.0.0" {
		t.Fatalf("serving %q", got)
	}
	return in
}

func lastN(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// serve starts the installed binary in the background as a service would.
func (in *install) serve() {
	t := in.t
	f, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(in.bin, "serve", "--config", in.config)
	cmd.Env = processEnv(nil)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if pid, err := handoff.Running(in.runDir); err == nil && pid == cmd.Process.Pid {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not start")
}

// serving is the version /readyz reports, "" when nothing passes.
func (in *install) serving() string {
	// A fresh connection each time: a kept-alive one would reach the process that
	// accepted it, which may be the old one, still draining.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(in.base + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct{ Status, Version string }
	if json.NewDecoder(resp.Body).Decode(&h) != nil || h.Status != "pass" {
		return ""
	}
	return h.Version
}

func (in *install) pointer() string {
	b, _ := os.ReadFile(filepath.Join(in.root, "current"))
	return strings.TrimSpace(string(b))
}

// update runs the installed 1.0.0 binary's update as a process.
func (in *install) update(env map[string]string, args ...string) (string, *os.ProcessState) {
	cmd := exec.Command(in.bin, append([]string{"update", "--config", in.config, "--package", in.rel.newPkg, "--verify-timeout", "20s"}, args...)...)
	cmd.Env = processEnv(env)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState
}

// customers counts the customers, through a separate connection.
func (in *install) customers() int {
	db, err := sql.Open("sqlite", filepath.Join(in.data, "izytroniq.db"))
	if err != nil {
		in.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM customers").Scan(&n); err != nil {
		in.t.Fatal(err)
	}
	return n
}

// assertConverged: one version serves and the pointer names it, the journal is closed,
// the data and the configuration are as before.
func (in *install) assertConverged(customers int) string {
	t := in.t
	t.Helper()
	v := in.serving()
	if v != "1.0.0" && v != "1.1.0" {
		t.Fatalf("serving %q", v)
	}
	if p := in.pointer(); p != v {
		t.Errorf("pointer %q, serving %s", p, v)
	}
	var j struct{ Outcome string }
	b, _ := os.ReadFile(filepath.Join(in.data, "update", "journal.json"))
	if err := json.Unmarshal(b, &j); err != nil || j.Outcome == "" {
		t.Errorf("journal not closed: %s", b)
	}
	if got := in.customers(); got != customers {
		t.Errorf("%d customers, want %d", got, customers)
	}
	if b, _ := os.ReadFile(in.config); !bytes.Equal(b, in.cfg) {
		t.Error("the configuration changed")
	}
	return v
}

// TestUpdateE2E: `izytroniq update` against a running serve hands over to the new
// version, which serves with the new schema; the configuration is byte-identical.
//
// It runs under load: workers on keep-alive connections read a device and record tests
// throughout, and not one request may fail (SPEC §9: 0 failed requests on Linux).
func TestUpdateE2E(t *testing.T) {
	in := newInstall(t)
	c := login(t, in.base, "admin", adminPassword)
	deviceID, _ := recordTest(t, c, c)
	workers := 32
	if n, err := strconv.Atoi(os.Getenv("IZYTRONIQ_TEST_HANDOFF_WORKERS")); err == nil && n > 0 {
		workers = n
	}
	load := startLoad(t, in.base, c.token, deviceID, workers)
	load.waitRequests(500)
	n := in.customers()
	from := time.Now()
	out, st := in.update(nil)
	to := time.Now()
	load.waitRequests(500) // the new version serves the load
	load.finish()
	load.checkNoFailures(t)
	nBefore, p99Before := load.stats(time.Time{}, from)
	nDuring, p99During := load.stats(from, to)
	t.Logf("load: %d workers; before the update %d requests, p99 %s; during it (%s) %d requests, p99 %s; %d failed",
		workers, nBefore, p99Before, to.Sub(from).Round(time.Millisecond), nDuring, p99During, len(load.failures))
	if st.ExitCode() != 0 {
		t.Fatalf("update: exit %d\n%s", st.ExitCode(), out)
	}
	for _, want := range []string{"PHASE", "backup", "stage", "migrate", "switch", "verify", "Outcome: succeeded", "handed its socket over"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if v := in.assertConverged(n); v != "1.1.0" {
		t.Fatalf("serving %s after the update\n%s", v, out)
	}
	// The new binary's own post-update check is green (the service and the licence only
	// warn: nothing is registered here and licences do not exist yet) ...
	newBin := filepath.Join(in.root, "versions", "1.1.0", "izytroniq")
	cmd := exec.Command(newBin, "check", "--config", in.config, "--url", in.base, "--json")
	cmd.Env = processEnv(nil)
	b, err := cmd.Output()
	var rep struct {
		Checks []struct{ Name, Status, Detail string }
	}
	if jerr := json.Unmarshal(b, &rep); jerr != nil || len(rep.Checks) == 0 {
		t.Fatalf("check after the update: %v, %v\n%s", err, jerr, b)
	}
	for _, r := range rep.Checks {
		if r.Status == "fail" || (r.Status == "warn" && r.Name != "service" && r.Name != "licence") {
			t.Errorf("check after the update: %s: %s (%s)", r.Name, r.Status, r.Detail)
		}
	}
	// ... and the history holds the attempt.
	cmd = exec.Command(newBin, "update", "history", "--config", in.config, "--json")
	cmd.Env = processEnv(nil)
	b, err = cmd.Output()
	if err != nil || !strings.Contains(string(b), `"succeeded"`) || !strings.Contains(string(b), `"1.1.0"`) {
		t.Errorf("update history: %v\n%s", err, b)
	}
	t.Logf("%s", out)
}

// TestUpdateCrash: kill -9 of update at every point, then update again: it converges,
// with the old or the new version serving and nothing lost.
func TestUpdateCrash(t *testing.T) {
	points := []string{"verify-package:after", "preflight:after", "backup:before", "backup:after", "stage:before", "stage:after",
		"migrate:before", fmt.Sprintf("migration:%d", sqldb.LatestSchemaVersion()+1), "migrate:after", "switch:before", "switch:pointer", "switch:after", "verify:before", "verify:after"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			in := newInstall(t)
			n := in.customers()
			out, st := in.update(map[string]string{"IZYTRONIQ_UPDATE_CRASH_AT": point})
			ws, _ := st.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("update did not kill itself at %s: %v\n%s", point, st, out)
			}
			out, st = in.update(nil)
			if st.ExitCode() != 0 {
				t.Fatalf("update again: exit %d\n%s", st.ExitCode(), out)
			}
			v := in.assertConverged(n)
			t.Logf("after a crash at %s: %s serves; %s", point, v, lastN(strings.TrimSpace(out), 1))
			if v == "1.0.0" {
				// Rolled back: the next update goes through.
				if out, st := in.update(nil); st.ExitCode() != 0 || !strings.Contains(out, "Outcome: succeeded") {
					t.Fatalf("update after the rollback: exit %d\n%s", st.ExitCode(), out)
				}
				if v := in.assertConverged(n); v != "1.1.0" {
					t.Fatalf("serving %s after the retry", v)
				}
			}
		})
	}
}

// TestUpdateFiveAtOnce: five update processes on one installation: one updates, the
// others stop at once saying which process runs; the migration is applied once.
func TestUpdateFiveAtOnce(t *testing.T) {
	in := newInstall(t)
	type result struct {
		out  string
		code int
	}
	res := make([]result, 5)
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, st := in.update(nil)
			res[i] = result{out, st.ExitCode()}
		}()
	}
	wg.Wait()
	ok, busy := 0, 0
	for _, r := range res {
		switch {
		case r.code == 0 && strings.Contains(r.out, "Outcome: succeeded"):
			ok++
		case r.code != 0 && strings.Contains(r.out, "another update is running (pid "):
			busy++
		default:
			t.Errorf("exit %d:\n%s", r.code, r.out)
		}
	}
	if ok != 1 || busy != 4 {
		t.Fatalf("%d updated, %d stopped; want 1 and 4", ok, busy)
	}
	db, err := sql.Open("sqlite", filepath.Join(in.data, "izytroniq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var applied int
	db.QueryRow("SELECT count(*) FROM schema_migrations WHERE name LIKE '%test_expand%'").Scan(&applied)
	if applied != 1 {
		t.Errorf("the new migration is recorded %d times", applied)
	}
	if v := in.serving(); v != "1.1.0" {
		t.Errorf("serving %q", v)
	}
}

// TestUpdateFullDisk: the install directory on a 1 MiB tmpfs, where the staged binary
// does not fit: the update stops, changes nothing, leaves no staging directory, and 1.0.0
// keeps serving. (A full disk during the backup: internal/update's TestFullDiskBackup;
// here the preflight's free-space check would stop it first.)
func TestUpdateFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	for _, where := range []string{"stage"} {
		t.Run(where, func(t *testing.T) {
			in := newInstall(t)
			n := in.customers()
			mnt := filepath.Join(t.TempDir(), "small")
			os.MkdirAll(mnt, 0o755)
			size := "1m"
			if where == "backup" {
				size = "64k"
			}
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", mnt).Run() })
			args := []string{}
			if where == "stage" {
				// Move the installation onto the small file system.
				root := filepath.Join(mnt, "opt")
				os.MkdirAll(filepath.Join(root, "versions", "1.0.0"), 0o755)
				os.WriteFile(filepath.Join(root, "current"), []byte("1.0.0\n"), 0o644)
				args = append(args, "--install-dir", root)
			} else {
				// The backups directory is the small file system.
				os.Remove(filepath.Join(in.data, "backups"))
				if err := os.Symlink(mnt, filepath.Join(in.data, "backups")); err != nil {
					t.Fatal(err)
				}
			}
			out, st := in.update(nil, args...)
			if st.ExitCode() == 0 || !strings.Contains(out, "Outcome: stopped") || !strings.Contains(out, "no space left on device") ||
				!strings.Contains(out, "nothing in the installation was changed") {
				t.Fatalf("exit %d:\n%s", st.ExitCode(), out)
			}
			if v := in.assertConverged(n); v != "1.0.0" {
				t.Errorf("serving %s", v)
			}
			entries, _ := filepath.Glob(filepath.Join(mnt, "opt", "versions", "*"))
			if len(entries) != 1 {
				t.Errorf("versions left: %v", entries)
			}
			t.Logf("%s", lastN(strings.TrimSpace(out), 3))
		})
	}
}
