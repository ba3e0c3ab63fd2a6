// Command load is Izytroniq's load generator for the figures in BENCHMARKS.md. It logs in,
// collects device IDs, then drives one scenario with a fixed number of connections for a
// fixed time against a server on loopback, and prints throughput, errors and latency
// percentiles. It always stops by itself (-d), and refuses targets outside loopback.
//
//	go run ./bench/load -url http://127.0.0.1:8080 -user admin -password-file pw -scenario get -c 64 -d 20s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type options struct {
	base         string
	user, pwFile string
	token        string
	scenario     string
	conns        int
	dur          time.Duration
	idPool       int
	jsonOut      bool
	samples      string // file for one line per request: start (unix ns), latency (ns), ok
}

// Result is what one run measured.
type Result struct {
	Scenario    string  `json:"scenario"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RPS         float64 `json:"requests_per_second"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	FirstError  string  `json:"first_error,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "window" {
		return window(args[1:], stdout)
	}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.base, "url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	fs.StringVar(&o.user, "user", "admin", "user to log in as")
	fs.StringVar(&o.pwFile, "password-file", "", "file holding the password")
	fs.StringVar(&o.token, "token", "", "bearer token (instead of logging in)")
	fs.StringVar(&o.scenario, "scenario", "get", "list | get | test | mixed (80% get, 15% list, 5% test) | sql-list")
	fs.IntVar(&o.conns, "c", 64, "concurrent connections")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "duration (the run stops by itself)")
	fs.IntVar(&o.idPool, "ids", 20000, "device IDs to collect for get/test")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&o.samples, "samples", "", "write every request as `file` lines \"start_unix_ns latency_ns ok\" (for load window)")
	dsn := fs.String("db", "", "with -scenario sql-list: the database DSN or SQLite file to query directly")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.scenario == "sql-list" {
		res, err := driveSQL(ctx, o, *dsn)
		if err != nil {
			return err
		}
		return report(stdout, o, res)
	}
	if err := checkLoopback(o.base); err != nil {
		return err
	}
	if o.dur <= 0 || o.dur > 10*time.Minute {
		return errors.New("-d must be between 0 and 10m")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.conns, MaxConnsPerHost: o.conns, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if o.token == "" {
		pw, err := os.ReadFile(o.pwFile)
		if err != nil {
			return fmt.Errorf("read password: %w (give -password-file or -token)", err)
		}
		o.token, err = login(hc, o.base, o.user, strings.TrimSpace(string(pw)))
		if err != nil {
			return err
		}
	}
	w, err := prepare(hc, o)
	if err != nil {
		return err
	}
	// Scripts wait for this line before they start what the run is to measure.
	fmt.Fprintf(os.Stderr, "load: driving %d connections for %s\n", o.conns, o.dur)
	res, err := drive(ctx, hc, o, w)
	if err != nil {
		return err
	}
	return report(stdout, o, res)
}

func report(stdout io.Writer, o options, res Result) error {
	if o.jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "scenario %s, %d connections, %.1fs: %d requests, %d errors, %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		res.Scenario, res.Connections, res.Seconds, res.Requests, res.Errors, res.RPS, res.P50ms, res.P90ms, res.P99ms, res.MaxMs)
	if res.FirstError != "" {
		fmt.Fprintln(stdout, "first error:", res.FirstError)
	}
	return nil
}

func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address; load runs only against this machine", u.Hostname())
		}
	}
	return nil
}

func login(hc *http.Client, base, user, pw string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := hc.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("login: %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Token, nil
}

type device struct {
	ID              string `json:"id"`
	CustomerID      string `json:"customer_id"`
	ProtectionClass string `json:"protection_class"`
}

type workload struct {
	devices   []device
	customers []string
}

// prepare collects device IDs and customer IDs by paging through the API.
func prepare(hc *http.Client, o options) (*workload, error) {
	w := &workload{}
	seen := map[string]bool{}
	cursor := ""
	for len(w.devices) < o.idPool {
		var page struct {
			Items      []device `json:"items"`
			NextCursor string   `json:"next_cursor"`
		}
		u := o.base + "/api/v1/devices?limit=1000&status=active"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := getJSON(hc, o.token, u, &page); err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			w.devices = append(w.devices, d)
			if !seen[d.CustomerID] {
				seen[d.CustomerID] = true
				w.customers = append(w.customers, d.CustomerID)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(w.devices) == 0 {
		return nil, errors.New("the server has no devices; seed it first")
	}
	return w, nil
}

func getJSON(hc *http.Client, token, u string, v any) error {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// request builds the next request of the scenario.
func (w *workload) request(o options, r *rand.Rand) (*http.Request, error) {
	scenario := o.scenario
	if scenario == "mixed" {
		switch n := r.IntN(100); {
		case n < 80:
			scenario = "get"
		case n < 95:
			scenario = "list"
		default:
			scenario = "test"
		}
	}
	switch scenario {
	case "list":
		c := w.customers[r.IntN(len(w.customers))]
		return http.NewRequest("GET", o.base+"/api/v1/devices?limit=100&customer_id="+c, nil)
	case "get":
		d := w.devices[r.IntN(len(w.devices))]
		return http.NewRequest("GET", o.base+"/api/v1/devices/"+d.ID, nil)
	case "test":
		d := w.devices[r.IntN(len(w.devices))]
		body, _ := json.Marshal(testBody(d, r))
		req, err := http.NewRequest("POST", o.base+"/api/v1/tests", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	return nil, fmt.Errorf("unknown scenario %q (list, get, test, mixed)", o.scenario)
}

// testBody is a test with six measurements fitting the device's protection class.
func testBody(d device, r *rand.Rand) map[string]any {
	m := func(kind string, v float64, unit string) map[string]any {
		return map[string]any{"kind": kind, "value": v, "unit": unit}
	}
	var ms []map[string]any
	switch d.ProtectionClass {
	case "I":
		ms = append(ms, m("protective_conductor_resistance", 0.05+r.Float64()*0.2, "Ω"),
			m("protective_conductor_resistance", 0.05+r.Float64()*0.2, "Ω"),
			m("insulation_resistance", 5+r.Float64()*100, "MΩ"),
			m("protective_conductor_current", 0.1+r.Float64(), "mA"),
			m("touch_current", 0.01+r.Float64()*0.1, "mA"),
			m("equivalent_leakage_current", 0.1+r.Float64(), "mA"))
	default:
		ms = append(ms, m("insulation_resistance", 5+r.Float64()*100, "MΩ"),
			m("insulation_resistance", 5+r.Float64()*100, "MΩ"),
			m("touch_current", 0.01+r.Float64()*0.1, "mA"),
			m("touch_current", 0.01+r.Float64()*0.1, "mA"),
			m("touch_current", 0.01+r.Float64()*0.1, "mA"),
			m("touch_current", 0.01+r.Float64()*0.1, "mA"))
	}
	return map[string]any{
		"device_id": d.ID, "date": time.Now().Format(time.DateOnly),
		"visual_ok": true, "functional_ok": true, "measurements": ms,
	}
}

func drive(ctx context.Context, hc *http.Client, o options, w *workload) (Result, error) {
	res, err := measure(ctx, o.conns, o.dur, o.samples, func(ctx context.Context, r *rand.Rand) error {
		req, err := w.request(o, r)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+o.token)
		resp, err := hc.Do(req.WithContext(ctx))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		}
		return nil
	})
	res.Scenario = o.scenario
	return res, err
}

// measure runs step on conns goroutines until dur has passed and sums up throughput,
// errors and latency percentiles. A step cut short by the end of the run counts as neither
// a request nor an error.
func measure(ctx context.Context, conns int, dur time.Duration, samples string, step func(context.Context, *rand.Rand) error) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		nreq, nerr atomic.Int64
		mu         sync.Mutex
		lat        []time.Duration
		all        []sample
		firstErr   atomic.Value
		wg         sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			local := make([]time.Duration, 0, 4096)
			var mine []sample
			for ctx.Err() == nil {
				t0 := time.Now()
				err := step(ctx, r)
				if ctx.Err() != nil {
					break
				}
				nreq.Add(1)
				d := time.Since(t0)
				local = append(local, d)
				if samples != "" {
					mine = append(mine, sample{t0.UnixNano(), int64(d), err == nil})
				}
				if err != nil {
					nerr.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			all = append(all, mine...)
			mu.Unlock()
		}(uint64(i) + 1)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	res := Result{Connections: conns, Seconds: el, Requests: nreq.Load(), Errors: nerr.Load(),
		RPS: float64(nreq.Load()) / el, P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99), MaxMs: pct(1)}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	if samples != "" {
		if err := writeSamples(samples, all); err != nil {
			return res, err
		}
	}
	return res, nil
}
