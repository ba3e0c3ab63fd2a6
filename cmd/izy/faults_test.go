package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"

	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/faultnet"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// The fault tests of the sync (SPEC.md §9 "Faults", issue 3 point 6). Cuts of /bits
// transfers are tested in internal/transfer (TestFaultyNetwork), not again here.

// minCuts is how many cut connections each of the download and upload tests makes.
const minCuts = 100

// How many cuts are armed for each izy command, which must survive them all by itself: a
// checkout of one customer, and a sync of one round of offline work (an armed cut that its
// connection ends before is used up without cutting).
const (
	cutsPerCheckout = 12
	cutsPerSync     = 30
)

// TestFaultDownloadCuts checks out customers through a proxy that cuts connections at
// random byte offsets in either direction, many times within one izy run; each izy
// checkout retries by itself (as it does for an inspector on a flaky network) and
// completes in ONE run. The replica then holds exactly the server's rows, and the server
// served at most one snapshot page more per cut than the snapshot has.
func TestFaultDownloadCuts(t *testing.T) {
	t.Parallel()
	rng := faultRNG(t)
	srv := startFaultServer(t, 600, 3)
	api := srv.api()
	px, err := faultnet.Listen(srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	const pageSize = 10
	customers := srv.customers()
	retries := 0
	for round := 0; px.Cuts() < minCuts; round++ {
		if round > 40 {
			t.Fatalf("only %d cuts after %d rounds", px.Cuts(), round)
		}
		customer := customers[round%len(customers)]
		home := filepath.Join(t.TempDir(), "home")
		izyLogin(t, home, "http://"+px.Addr())
		servedBefore, cutsBefore := srv.requests("/snapshot"), px.Cuts()
		for range cutsPerCheckout {
			// Most cuts in the answers (pages), some in the requests.
			if rng.IntN(5) == 0 {
				px.CutAfter(faultnet.ClientToServer, rng.Int64N(1200))
			} else {
				px.CutAfter(faultnet.ServerToClient, rng.Int64N(16<<10))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, errOut, err := izyProc(ctx, home, "checkout", "--customer", customer, "--page-size", fmt.Sprint(pageSize), "--json")
		cancel()
		if err != nil {
			t.Fatalf("round %d: izy checkout did not complete by itself through %d cuts: %v\n%s", round, px.Cuts()-cutsBefore, err, errOut)
		}
		var res checkoutResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("checkout --json: %v\n%s", err, out)
		}
		retries += strings.Count(errOut, "retrying in")
		served := srv.requests("/snapshot") - servedBefore // before scopeRows asks for its own pages
		want := scopeRows(t, api, customer)
		got := replicaRows(t, home)
		assertSameRows(t, want, got)
		pages := (len(want) + pageSize - 1) / pageSize
		cuts := px.Cuts() - cutsBefore
		if served > pages+cuts {
			t.Errorf("round %d: the server served %d snapshot pages for a snapshot of %d pages with %d cuts: a resume re-sent more than one page", round, served, pages, cuts)
		}
		t.Logf("round %d: %d rows in %d pages, %d pages served, %d cuts in one izy run", round, len(want), pages, served, cuts)
		assertOneCheckoutPerScope(t, api, home)
	}
	t.Logf("%d cuts, %d retries by izy", px.Cuts(), retries)
}

// assertOneCheckoutPerScope fails t when the server holds more open checkouts for the
// client of home than the client knows of: a checkout whose answer was lost must not
// leave an orphan behind on the server.
func assertOneCheckoutPerScope(t testing.TB, api *client.Client, home string) {
	t.Helper()
	cfg, err := loadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	list, err := api.Checkouts(context.Background(), url.Values{"limit": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	for _, co := range list.Items {
		if co.ClientID == cfg.ClientID && co.ReleasedAt == nil {
			open++
		}
	}
	var st statusResult
	if err := json.Unmarshal([]byte(mustIzy(t, home, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if got, want := open, len(st.Checkouts); got != want {
		t.Errorf("the server holds %d open checkouts of this client, the client knows %d", got, want)
	}
}

// offlineWork records tests and device edits offline in home (in this process: the
// faults are in the sync, not in the recording) and returns the test IDs and the new
// designation per edited device.
func offlineWork(t *testing.T, home string, devices []string, tests, edits int, tag string) ([]string, map[string]string) {
	t.Helper()
	var ids []string
	for i := range tests {
		var tr testResult
		izyJSON(t, home, &tr, "test", devices[i%len(devices)], "--measure", "protective_conductor_resistance=0.12ohm", "--measure", "insulation_resistance=2.5MΩ")
		ids = append(ids, tr.ID)
	}
	edited := map[string]string{}
	for i := range min(edits, len(devices)) {
		d := fmt.Sprintf("Prüfling %s-%d", tag, i)
		izyRun(t, home, "device", "edit", devices[i], "--designation", d)
		edited[devices[i]] = d
	}
	return ids, edited
}

// scopeDevices returns the IDs of the active devices of protection class I (which take
// both measurements offlineWork records) the replica of home holds.
func scopeDevices(t *testing.T, home string) []string {
	t.Helper()
	var ids []string
	for _, r := range replicaRows(t, home) {
		var d struct {
			Status string
			Class  string `json:"protection_class"`
		}
		if r.Entity == "device" && json.Unmarshal(r.Data, &d) == nil && d.Status == "active" && d.Class == "I" {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// uploadLedger is what a client recorded offline, to check the server against.
type uploadLedger struct {
	tests        []string
	designations map[string]string // the last designation per edited device
	edits        map[string]int    // edits per device
	mutations    int
}

func (l *uploadLedger) add(tests []string, edited map[string]string) {
	l.tests = append(l.tests, tests...)
	for id, d := range edited {
		l.designations[id] = d
		l.edits[id]++
	}
	l.mutations += len(tests) + len(edited)
}

// assertUploaded fails t unless the server holds every recorded test exactly once with
// its measurements, every edit applied once (the device's version grew by its edits), one
// outcome per mutation, all applied, and the client's outbox is empty.
func assertUploaded(t *testing.T, srv *faultServer, home string, l *uploadLedger, versions0 map[string]int64) {
	t.Helper()
	db := srv.db()
	missing, dup := 0, 0
	for _, id := range l.tests {
		var n, m int
		if err := db.QueryRow(`SELECT count(*) FROM tests WHERE id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM measurements WHERE test_id = ?`, id).Scan(&m); err != nil {
			t.Fatal(err)
		}
		switch {
		case n == 0:
			missing++
		case n > 1 || m != 2:
			dup++
		}
	}
	if missing+dup > 0 {
		t.Errorf("of %d offline tests, %d are missing on the server and %d duplicated (or lack measurements)", len(l.tests), missing, dup)
	}
	for id, want := range l.designations {
		var got string
		var v int64
		if err := db.QueryRow(`SELECT designation, version FROM devices WHERE id = ?`, id).Scan(&got, &v); err != nil {
			t.Fatal(err)
		}
		if got != want || v != versions0[id]+int64(l.edits[id]) {
			t.Errorf("device %s: designation %q version %d, want %q version %d (%d edits)", id, got, v, want, versions0[id]+int64(l.edits[id]), l.edits[id])
		}
	}
	cfg, err := loadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT m.mutation_id) FROM sync_mutations m JOIN checkouts c ON c.id = m.checkout_id WHERE c.client_id = ?`, cfg.ClientID).Scan(&outcomes, &distinct); err != nil {
		t.Fatal(err)
	}
	if outcomes != l.mutations || distinct != l.mutations {
		t.Errorf("the server stored %d outcomes (%d distinct mutations), want %d", outcomes, distinct, l.mutations)
	}
	rows, err := db.Query(`SELECT m.status, count(*) FROM sync_mutations m JOIN checkouts c ON c.id = m.checkout_id WHERE c.client_id = ? GROUP BY m.status`, cfg.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		if s != izy.MutationApplied && s != izy.MutationMerged {
			t.Errorf("%d mutations ended %s, want applied", n, s)
		}
	}
	rows.Close()
	var st statusResult
	if err := json.Unmarshal([]byte(mustIzy(t, home, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Conflicts != 0 {
		t.Errorf("client status after convergence: %d pending, %d open conflicts, outbox %v", st.Pending, st.Conflicts, st.Outbox)
	}
}

// deviceVersions returns the server's version of each device.
func deviceVersions(t *testing.T, srv *faultServer) map[string]int64 {
	t.Helper()
	rows, err := srv.db().Query(`SELECT id, version FROM devices`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// TestFaultUploadCuts records tests and device edits offline, then syncs through a proxy
// that cuts connections at random offsets of the requests (the batch does not arrive
// whole) or of the answers (the batch was applied, its answer lost), many times within
// one izy sync, which retries by itself and completes in ONE run. Rounds of new offline
// work follow until at least minCuts cuts happened. Every test is then on the server
// once, every edit applied once, one outcome per mutation, and the outbox is empty.
func TestFaultUploadCuts(t *testing.T) {
	t.Parallel()
	rng := faultRNG(t)
	srv := startFaultServer(t, 300, 3)
	px, err := faultnet.Listen(srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	customer := srv.customers()[0]
	home := filepath.Join(t.TempDir(), "home")
	izyLogin(t, home, "http://"+px.Addr())
	mustIzy(t, home, "checkout", "--customer", customer, "--json")
	devices := scopeDevices(t, home)
	versions0 := deviceVersions(t, srv)
	l := &uploadLedger{designations: map[string]string{}, edits: map[string]int{}}
	retries := 0
	for round := 0; px.Cuts() < minCuts; round++ {
		if round > 30 {
			t.Fatalf("only %d cuts after %d rounds", px.Cuts(), round)
		}
		l.add(offlineWork(t, home, devices, 120, 60, fmt.Sprint(round)))
		for range cutsPerSync {
			if rng.IntN(2) == 0 {
				px.CutAfter(faultnet.ClientToServer, rng.Int64N(12<<10))
			} else {
				px.CutAfter(faultnet.ServerToClient, rng.Int64N(4<<10))
			}
		}
		cutsBefore := px.Cuts()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, errOut, err := izyProc(ctx, home, "sync", "--batch", "5", "--json")
		cancel()
		if err != nil {
			t.Fatalf("round %d: izy sync did not complete by itself through %d cuts: %v\n%s", round, px.Cuts()-cutsBefore, err, errOut)
		}
		retries += strings.Count(errOut, "retrying in")
	}
	t.Logf("%d cuts, %d retries by izy in its sync runs; %d tests and %d edits uploaded", px.Cuts(), retries, len(l.tests), l.mutations-len(l.tests))
	assertUploaded(t, srv, home, l, versions0)
	assertSameRows(t, scopeRows(t, srv.api(), customer), replicaRows(t, home))
}

// izyKilled starts izy and sends it SIGKILL after d, unless it ended before. It reports
// whether izy ended by itself with success.
func izyKilled(t *testing.T, d time.Duration, home string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(faultBins.izy, append([]string{"--home", home}, args...)...)
	cmd.Env = faultEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return false
	}
}

// TestFaultKill kills real processes mid-transaction: izy checkout and izy sync with
// kill -9 at random moments, rerun until they succeed; then the server with kill -9 while
// izy uploads (batches stored raw but not yet applied, or applied with the answer unsent),
// restarted on the same port, and izy sync again. Nothing is lost or applied twice.
func TestFaultKill(t *testing.T) {
	t.Parallel()
	rng := faultRNG(t)
	srv := startFaultServer(t, 300, 3)
	customer := srv.customers()[1]
	home := filepath.Join(t.TempDir(), "home")
	izyLogin(t, home, srv.url())

	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt > 200 {
			t.Fatal("izy checkout never completed between kills")
		}
		if izyKilled(t, killDelay(rng, attempt, 60), home, "checkout", "--customer", customer, "--page-size", "10", "--json") {
			break
		}
		kills++
	}
	assertSameRows(t, scopeRows(t, srv.api(), customer), replicaRows(t, home))
	assertOneCheckoutPerScope(t, srv.api(), home)
	t.Logf("checkout: %d kill -9 of izy", kills)

	devices := scopeDevices(t, home)
	versions0 := deviceVersions(t, srv)
	l := &uploadLedger{designations: map[string]string{}, edits: map[string]int{}}
	l.add(offlineWork(t, home, devices, 150, 40, "k"))
	kills = 0
	for attempt := 0; ; attempt++ {
		if attempt > 200 {
			t.Fatal("izy sync never completed between kills")
		}
		if izyKilled(t, killDelay(rng, attempt, 70), home, "sync", "--batch", "5", "--json") {
			break
		}
		kills++
	}
	t.Logf("sync: %d kill -9 of izy", kills)
	assertUploaded(t, srv, home, l, versions0)

	// The server, killed while izy uploads: each round kills it once and starts it again
	// while the same izy sync keeps retrying; that one run completes by itself.
	serverKills := 0
	for round := range 6 {
		l.add(offlineWork(t, home, devices, 40, 10, fmt.Sprintf("s%d", round)))
		cmd := exec.Command(faultBins.izy, "--home", home, "sync", "--batch", "3", "--json")
		cmd.Env = faultEnv()
		var errOut lockedBuffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+rng.IntN(150)) * time.Millisecond)
		srv.kill()
		serverKills++
		srv.start()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("round %d: izy sync did not survive a server restart by itself: %v\n%s", round, err, errOut.String())
		}
	}
	t.Logf("%d kill -9 of the server during uploads", serverKills)
	assertUploaded(t, srv, home, l, versions0)
	assertSameRows(t, scopeRows(t, srv.api(), customer), replicaRows(t, home))
}

// restartingRemote stops and starts the server after its first upload, so that the next
// batch goes to a server started anew.
type restartingRemote struct {
	*client.Client
	srv      *faultServer
	uploads  int
	restarts int
}

func (r *restartingRemote) Upload(ctx context.Context, checkoutID string, b *izy.Batch) (*izy.BatchResult, error) {
	res, err := r.Client.Upload(ctx, checkoutID, b)
	r.uploads++
	if r.uploads%3 == 1 {
		r.srv.kill()
		r.srv.start()
		r.restarts++
	}
	return res, err
}

// TestFaultBatches sends batches directly with the client package: the same batch twice
// (the second answer is the stored one, nothing applied again), two batches in reversed
// order, a mutation again under a new batch ID (a client that lost its batch record), and
// uploads with the server restarted between batches.
func TestFaultBatches(t *testing.T) {
	t.Parallel()
	srv := startFaultServer(t, 300, 3)
	ctx := context.Background()
	api := srv.api()
	customer := srv.customers()[2]
	co, err := api.CreateCheckout(ctx, client.CheckoutRequest{ClientID: "batch-client-" + izy.NewID(), CustomerID: customer})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	izyLogin(t, home, srv.url())
	mustIzy(t, home, "checkout", "--customer", customer, "--json")
	devices := scopeDevices(t, home)
	if len(devices) < 4 {
		t.Fatalf("only %d class I devices in scope", len(devices))
	}
	testMutation := func(device string) izy.Mutation {
		id := izy.NewID()
		fields := map[string]json.RawMessage{"device_id": json.RawMessage(`"` + device + `"`), "visual_ok": json.RawMessage("true"), "functional_ok": json.RawMessage("true"),
			"measurements": json.RawMessage(`[{"kind":"insulation_resistance","value":2.5,"unit":"MΩ"}]`)}
		return izy.Mutation{ID: izy.NewID(), Op: izy.OpTest, Entity: "test", EntityID: id, Fields: fields, CreatedAt: time.Now().UTC()}
	}
	versions0 := deviceVersions(t, srv)
	editMutation := func(device, designation string) izy.Mutation {
		return izy.Mutation{ID: izy.NewID(), Op: izy.OpUpdate, Entity: "device", EntityID: device, BaseVersion: versions0[device],
			Fields: map[string]json.RawMessage{"comment": json.RawMessage(`"` + designation + `"`)}, CreatedAt: time.Now().UTC()}
	}
	upload := func(b *izy.Batch) *izy.BatchResult {
		t.Helper()
		res, err := api.Upload(ctx, co.ID, b)
		if err != nil {
			t.Fatalf("upload %s: %v", b.ID, err)
		}
		if len(res.Results) != len(b.Mutations) {
			t.Fatalf("batch %s: %d results for %d mutations", b.ID, len(res.Results), len(b.Mutations))
		}
		return res
	}
	statusesOf := func(res *izy.BatchResult) string {
		var s []string
		for _, r := range res.Results {
			s = append(s, r.MutationID+"="+r.Status)
		}
		return strings.Join(s, " ")
	}

	// The same batch twice.
	a := &izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion, Mutations: []izy.Mutation{testMutation(devices[0]), editMutation(devices[0], "eins")}}
	first, second := upload(a), upload(a)
	if got, want := statusesOf(second), statusesOf(first); got != want {
		t.Errorf("the same batch again answered %s, first %s", got, want)
	}
	// Two batches in reversed order: b2 (made later) arrives before b1.
	b1 := &izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion, Mutations: []izy.Mutation{testMutation(devices[1]), editMutation(devices[1], "zwei")}}
	b2 := &izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion, Mutations: []izy.Mutation{testMutation(devices[2]), editMutation(devices[2], "drei")}}
	r2, r1 := upload(b2), upload(b1)
	// The mutations of b1 again, under a new batch ID.
	b1again := &izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion, Mutations: b1.Mutations}
	if got, want := statusesOf(upload(b1again)), statusesOf(r1); got != want {
		t.Errorf("b1's mutations in a new batch answered %s, first %s", got, want)
	}
	for _, res := range []*izy.BatchResult{first, r1, r2} {
		for _, r := range res.Results {
			if r.Status != izy.MutationApplied && r.Status != izy.MutationMerged {
				t.Errorf("mutation %s %s: %s %s", r.Entity, r.EntityID, r.Status, r.Message)
			}
		}
	}
	db := srv.db()
	for i, b := range []*izy.Batch{a, b1, b2} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM tests WHERE id = ?`, b.Mutations[0].EntityID).Scan(&n); err != nil || n != 1 {
			t.Errorf("batch %d: %d tests %s on the server (%v), want 1", i, n, b.Mutations[0].EntityID, err)
		}
		d := b.Mutations[1].EntityID
		var v int64
		if err := db.QueryRow(`SELECT version FROM devices WHERE id = ?`, d).Scan(&v); err != nil || v != versions0[d]+1 {
			t.Errorf("batch %d: device %s version %d (%v), want %d: edit applied %d times", i, d, v, err, versions0[d]+1, v-versions0[d])
		}
	}

	// The server restarted between batches: every third batch is followed by a restart.
	l := &uploadLedger{designations: map[string]string{}, edits: map[string]int{}}
	l.add(offlineWork(t, home, devices[3:], 30, 6, "r"))
	r, err := openReplica(t, home)
	if err != nil {
		t.Fatal(err)
	}
	cos, err := r.Checkouts(ctx, false)
	if err != nil || len(cos) != 1 {
		t.Fatalf("replica checkouts %v (%v)", cos, err)
	}
	cl, err := client.New(srv.url(), client.WithToken(mustConfig(t, home).Token))
	if err != nil {
		t.Fatal(err)
	}
	rem := &restartingRemote{Client: cl, srv: srv}
	push, err := r.PushOutbox(ctx, rem, cos[0].ID, 4)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rem.restarts < 3 {
		t.Fatalf("%d server restarts between %d batches, want at least 3", rem.restarts, push.Batches)
	}
	t.Logf("%d batches with %d server restarts between them: %v", push.Batches, rem.restarts, push.Outcomes)
	mustIzy(t, home, "sync", "--json")
	assertUploaded(t, srv, home, l, deviceVersions0Except(versions0, devices[:3]))
	assertSameRows(t, scopeRows(t, srv.api(), customer), replicaRows(t, home))
}

// deviceVersions0Except is versions with the devices given bumped by one: those were
// edited once outside the ledger.
func deviceVersions0Except(versions map[string]int64, edited []string) map[string]int64 {
	out := maps.Clone(versions)
	for _, d := range edited {
		out[d]++
	}
	return out
}

func mustConfig(t *testing.T, home string) *Config {
	t.Helper()
	cfg, err := loadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openReplica(t *testing.T, home string) (*replica.Replica, error) {
	t.Helper()
	return replica.Open(context.Background(), replicaPath(home))
}

// killDelay is how long izy may run before it is killed: a random 10 to 10+spread ms at
// first, growing with every attempt, so that on a loaded machine (where starting a process
// alone can take longer than the first delays) the run still converges instead of being
// killed before it stores anything.
func killDelay(rng *rand.Rand, attempt, spread int) time.Duration {
	return time.Duration(10+rng.IntN(spread)) * time.Millisecond * time.Duration(1+attempt/10)
}
