package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// testResponse is the answer of POST /api/v1/tests.
type testResponse struct {
	ID           string
	Result       string
	NextDue      string `json:"next_due"`
	Measurements []struct {
		Kind   string
		Result string
		Limit  struct {
			Min, Max *float64
			Unit     string
		}
	}
}

// recordTest walks the main path: a customer, a location tree, a device and a test.
// It returns the device's ID and the recorded test.
func recordTest(t *testing.T, write, read *client) (string, testResponse) {
	t.Helper()
	var cust izy.Customer
	write.do("POST", "/api/v1/customers", map[string]any{"number": "K-" + izy.NewID()[24:], "name": "Klinikum Nord"}, &cust, 201)
	var got izy.Customer
	read.do("GET", "/api/v1/customers/"+cust.ID, nil, &got, 200)
	if got.Name != "Klinikum Nord" {
		t.Fatalf("customer read back = %+v", got)
	}
	var prop, room izy.Location
	write.do("POST", "/api/v1/locations", map[string]any{"customer_id": cust.ID, "kind": "property", "name": "Hauptstandort"}, &prop, 201)
	read.do("POST", "/api/v1/locations", map[string]any{"customer_id": cust.ID, "parent_id": prop.ID, "kind": "room", "name": "OP 1"}, &room, 201)
	var dev struct {
		ID, NextDue string
		Version     int64
	}
	write.do("POST", "/api/v1/devices", map[string]any{
		"customer_id": cust.ID, "location_id": room.ID, "inventory_id": "INV-0001",
		"designation": "Wasserkocher", "serial_number": "WK123", "protection_class": "I",
		"cable_length_m": 1.0, "heating_elements": true, "heating_power_kw": 2.2, "interval_months": 12,
	}, &dev, 201)

	today := izy.Today()
	var tr testResponse
	read.do("POST", "/api/v1/tests", map[string]any{
		"device_id": dev.ID, "date": today.String(), "standard": "VDE 0701-0702:2008",
		"visual_ok": true, "functional_ok": true,
		"measurements": []map[string]any{
			{"kind": "protective_conductor_resistance", "value": 120, "unit": "mΩ"},
			{"kind": "insulation_resistance", "value": 0.5, "unit": "MΩ"},
			{"kind": "protective_conductor_current", "value": 0.4, "unit": "mA"},
		},
	}, &tr, 201)
	if tr.Result != "pass" || tr.NextDue != today.AddMonths(12).String() || len(tr.Measurements) != 3 {
		t.Fatalf("test = %+v, want a pass due in 12 months", tr)
	}
	// Class I with heating elements: insulation needs at least 0.3 MΩ.
	if m := tr.Measurements[1]; m.Limit.Min == nil || *m.Limit.Min != 0.3 || m.Limit.Unit != "MΩ" || m.Result != "pass" {
		t.Fatalf("insulation measurement = %+v", m)
	}
	var dev2 struct {
		NextDue string `json:"next_due"`
	}
	write.do("GET", "/api/v1/devices/"+dev.ID, nil, &dev2, 200)
	if dev2.NextDue != tr.NextDue {
		t.Fatalf("device next_due = %q, want %q", dev2.NextDue, tr.NextDue)
	}
	var tests struct{ Items []struct{ ID string } }
	write.do("GET", "/api/v1/tests?device_id="+dev.ID, nil, &tests, 200)
	if len(tests.Items) != 1 || tests.Items[0].ID != tr.ID {
		t.Fatalf("tests of the device = %+v", tests.Items)
	}
	return dev.ID, tr
}

func TestInitServeRecordTest(t *testing.T) {
	path := initDir(t)
	base := serveInProcess(t, nil, "--config", path)
	c := login(t, base, "admin", adminPassword)
	recordTest(t, c, c)
	var dash izy.Dashboard
	c.do("GET", "/api/v1/dashboard", nil, &dash, 200)
	if dash.Devices.Green != 1 {
		t.Fatalf("dashboard = %+v, want one green device", dash)
	}
	// Logs go to the data directory too.
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "data", "logs", LogFileName))
	if err != nil || !strings.Contains(string(b), `"msg":"serving"`) {
		t.Fatalf("log file: %v\n%s", err, b)
	}
}

func TestDemo(t *testing.T) {
	p := start(t, nil, "demo", "--listen", "127.0.0.1:0", "--devices", "300")
	p.waitFor(t, "Press Ctrl+C")
	out := p.out.String()
	url := regexp.MustCompile(`URL:\s+(\S+)`).FindStringSubmatch(out)
	pw := regexp.MustCompile(`Login:\s+admin / (\S+)`).FindStringSubmatch(out)
	dir := regexp.MustCompile(`Data:\s+(\S+)`).FindStringSubmatch(out)
	if url == nil || pw == nil || dir == nil {
		t.Fatalf("demo output lacks URL, login or data directory:\n%s", out)
	}
	resp, err := http.Get(url[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url[1], resp.Status)
	}
	c := login(t, strings.TrimSuffix(url[1], "/"), "admin", pw[1])
	var dash izy.Dashboard
	c.do("GET", "/api/v1/dashboard", nil, &dash, 200)
	d := dash.Devices
	if d.Green == 0 || d.Yellow == 0 || d.Orange == 0 || d.Red == 0 || d.Green+d.Yellow+d.Orange+d.Red < 280 {
		t.Errorf("dashboard = %+v, want about 300 devices in all four colours", dash)
	}
	var tests struct{ Items []json.RawMessage }
	c.do("GET", "/api/v1/tests?limit=5", nil, &tests, 200)
	if len(tests.Items) == 0 {
		t.Error("the demo has no tests")
	}

	p.terminate(t)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("demo exit code %d after SIGTERM; output:\n%s", code, p.out)
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("demo directory %s still exists after exit (err %v)", dir[1], err)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	path := initDir(t)
	p := start(t, nil, "serve", "--config", path, "--listen", "127.0.0.1:0")
	base := p.baseURL(t)
	c := login(t, base, "admin", adminPassword)
	c.do("GET", "/api/v1/dashboard", nil, nil, 200)
	p.terminate(t)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exit code %d after SIGTERM; output:\n%s", code, p.out)
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, p.out)
		}
	}
}

func TestServeProcessRefusesOldSchema(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "izy.db")
	out, code := runProcess(t, nil, "serve", "--db", dsn, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "izytroniq db upgrade") {
		t.Fatalf("serve on an empty database: exit %d, output:\n%s", code, out)
	}
	out, code = runProcess(t, nil, "serve", "--bogus")
	if code != 2 || !strings.Contains(out, "Usage") {
		t.Fatalf("serve --bogus: exit %d, output:\n%s", code, out)
	}
}

// freshDSNs returns an empty database of each dialect the suite runs against.
func freshDSNs(t *testing.T) map[string]string {
	dsns := map[string]string{}
	for _, d := range sqldbtest.Dialects() {
		dsns[d] = sqldbtest.DSN(t, d)
	}
	return dsns
}

func TestConcurrentUpgradeMigratesOnce(t *testing.T) {
	for dialect, dsn := range freshDSNs(t) {
		t.Run(dialect, func(t *testing.T) {
			const n = 4
			var wg sync.WaitGroup
			results := make([]DBUpgrade, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, code := runProcess(t, nil, "db", "upgrade", "--db", dsn, "--json")
					if code != 0 {
						t.Errorf("db upgrade %d: exit %d:\n%s", i, code, out)
						return
					}
					if err := json.Unmarshal([]byte(out), &results[i]); err != nil {
						t.Errorf("db upgrade %d: %v\n%s", i, err, out)
					}
				}()
			}
			wg.Wait()
			applied := 0
			for _, r := range results {
				applied += len(r.Applied)
				if r.To != sqldb.LatestSchemaVersion() {
					t.Errorf("a process ended at schema %d", r.To)
				}
			}
			if applied != sqldb.LatestSchemaVersion() {
				t.Fatalf("%d migrations applied in all, want each of %d once: %+v", applied, sqldb.LatestSchemaVersion(), results)
			}
		})
	}
}

// TestTwoServersOnePostgres runs two serve processes on one PostgreSQL database, as two
// app servers behind a load balancer: both start with --migrate (exactly one migrates),
// a token from one works on the other, and what one writes the other reads.
func TestTwoServersOnePostgres(t *testing.T) {
	if os.Getenv(sqldbtest.EnvPostgres) == "" {
		t.Skip("set IZYTRONIQ_TEST_POSTGRES to run against PostgreSQL")
	}
	dsn, cleanup := sqldbtest.PostgresDSN(t)
	t.Cleanup(cleanup)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "izytroniq.toml", "role = \"app\"\n[database]\ndsn_file = \"dsn\"\n")
	writeFile(t, dir, "dsn", dsn)

	a := start(t, nil, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--migrate")
	b := start(t, nil, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--migrate")
	baseA, baseB := a.baseURL(t), b.baseURL(t)
	migrations := 0
	for _, p := range []*proc{a, b} {
		for _, line := range strings.Split(p.out.String(), "\n") {
			var rec struct {
				Msg     string
				Applied []int
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "migrated" {
				migrations += len(rec.Applied)
			}
		}
	}
	if want := sqldb.LatestSchemaVersion(); migrations != want {
		t.Fatalf("%d migrations applied by the two servers, want %d", migrations, want)
	}

	pw := writeFile(t, t.TempDir(), "pw", adminPassword)
	mustRun(t, nil, "user", "add", "--config", cfg, "--username", "admin", "--role", "admin", "--password-file", pw)

	onA := login(t, baseA, "admin", adminPassword)
	onB := &client{t: t, base: baseB, token: onA.token}
	devID, tr := recordTest(t, onA, onB)

	var got struct{ Result string }
	onA.do("GET", "/api/v1/tests/"+tr.ID, nil, &got, 200)
	if got.Result != "pass" {
		t.Fatalf("test read on A = %+v", got)
	}
	var dashA, dashB izy.Dashboard
	onA.do("GET", "/api/v1/dashboard", nil, &dashA, 200)
	onB.do("GET", "/api/v1/dashboard", nil, &dashB, 200)
	if dashA != dashB || dashA.Devices.Green != 1 {
		t.Fatalf("dashboards differ or are wrong: A %+v, B %+v", dashA, dashB)
	}
	// A stale version is refused on the other server too: both see one row.
	var dev struct{ Version int64 }
	onA.do("GET", "/api/v1/devices/"+devID, nil, &dev, 200)
	onB.do("PATCH", "/api/v1/devices/"+devID, map[string]any{"version": dev.Version, "comment": "von B"}, nil, 200)
	onA.do("PATCH", "/api/v1/devices/"+devID, map[string]any{"version": dev.Version, "comment": "von A"}, nil, 409)
	// Logging out on B revokes the token on A.
	onB.do("POST", "/api/v1/logout", nil, nil, 204)
	onA.do("GET", "/api/v1/me", nil, nil, 401)

	for _, p := range []*proc{a, b} {
		p.terminate(t)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Errorf("exit code %d; output:\n%s", code, p.out)
		}
	}
}
