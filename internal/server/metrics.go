package server

import (
	"bufio"
	"cmp"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The Prometheus text exposition format is simple enough to write by hand, which keeps
// the client library (and its dependencies) out of the binary.

// durationBuckets are the upper bounds (seconds) of the request duration histogram.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type metrics struct {
	start    time.Time
	inFlight atomic.Int64

	mu        sync.Mutex
	requests  map[requestKey]uint64
	durations map[routeKey]*histogram
}

type routeKey struct{ method, route string }

type requestKey struct {
	routeKey
	code int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func newMetrics(start time.Time) *metrics {
	return &metrics{start: start, requests: map[requestKey]uint64{}, durations: map[routeKey]*histogram{}}
}

// observe counts one finished request. route is a ServeMux pattern (or "unmatched"), so
// the number of series stays bounded whatever paths clients send; so must method.
func (m *metrics) observe(method, route string, code int, d time.Duration) {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "other"
	}
	k := routeKey{method, route}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{k, code}]++
	h := m.durations[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets))}
		m.durations[k] = h
	}
	sec := d.Seconds()
	if i, _ := slices.BinarySearch(durationBuckets, sec); i < len(durationBuckets) {
		h.counts[i]++
	}
	h.sum += sec
	h.count++
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	s.writeMetrics(bw)
	return bw.Flush()
}

func (s *Server) writeMetrics(w *bufio.Writer) {
	m := s.metrics
	m.mu.Lock()
	reqs := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		reqs = append(reqs, k)
	}
	slices.SortFunc(reqs, func(a, b requestKey) int {
		return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.method, b.method), cmp.Compare(a.code, b.code))
	})
	counts := make([]uint64, len(reqs))
	for i, k := range reqs {
		counts[i] = m.requests[k]
	}
	routes := make([]routeKey, 0, len(m.durations))
	for k := range m.durations {
		routes = append(routes, k)
	}
	slices.SortFunc(routes, func(a, b routeKey) int {
		return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.method, b.method))
	})
	hists := make([]histogram, len(routes))
	for i, k := range routes {
		h := m.durations[k]
		hists[i] = histogram{counts: slices.Clone(h.counts), sum: h.sum, count: h.count}
	}
	m.mu.Unlock()

	help(w, "http_requests_total", "counter", "HTTP requests by method, route pattern and status code.")
	for i, k := range reqs {
		fmt.Fprintf(w, "http_requests_total{method=%s,route=%s,code=\"%d\"} %d\n", label(k.method), label(k.route), k.code, counts[i])
	}
	help(w, "http_request_duration_seconds", "histogram", "HTTP request duration by method and route pattern.")
	for i, k := range routes {
		h := hists[i]
		var cum uint64
		for j, le := range durationBuckets {
			cum += h.counts[j]
			fmt.Fprintf(w, "http_request_duration_seconds_bucket{method=%s,route=%s,le=\"%s\"} %d\n", label(k.method), label(k.route), num(le), cum)
		}
		fmt.Fprintf(w, "http_request_duration_seconds_bucket{method=%s,route=%s,le=\"+Inf\"} %d\n", label(k.method), label(k.route), h.count)
		fmt.Fprintf(w, "http_request_duration_seconds_sum{method=%s,route=%s} %s\n", label(k.method), label(k.route), num(h.sum))
		fmt.Fprintf(w, "http_request_duration_seconds_count{method=%s,route=%s} %d\n", label(k.method), label(k.route), h.count)
	}
	help(w, "http_requests_in_flight", "gauge", "HTTP requests being served.")
	fmt.Fprintf(w, "http_requests_in_flight %d\n", m.inFlight.Load())

	st := s.store.Stats()
	for _, g := range []struct {
		name, typ, help string
		v               float64
	}{
		{"izytroniq_db_max_open_connections", "gauge", "Maximum open database connections.", float64(st.MaxOpenConnections)},
		{"izytroniq_db_open_connections", "gauge", "Open database connections.", float64(st.OpenConnections)},
		{"izytroniq_db_in_use_connections", "gauge", "Database connections in use.", float64(st.InUse)},
		{"izytroniq_db_idle_connections", "gauge", "Idle database connections.", float64(st.Idle)},
		{"izytroniq_db_wait_count_total", "counter", "Waits for a database connection.", float64(st.WaitCount)},
		{"izytroniq_db_wait_duration_seconds_total", "counter", "Time spent waiting for a database connection.", st.WaitDuration.Seconds()},
		{"izytroniq_db_max_idle_closed_total", "counter", "Connections closed by the idle limit.", float64(st.MaxIdleClosed)},
		{"izytroniq_db_max_idle_time_closed_total", "counter", "Connections closed by the idle time limit.", float64(st.MaxIdleTimeClosed)},
		{"izytroniq_db_max_lifetime_closed_total", "counter", "Connections closed by the lifetime limit.", float64(st.MaxLifetimeClosed)},
		{"go_goroutines", "gauge", "Goroutines that currently exist.", float64(runtime.NumGoroutine())},
		{"process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.", float64(m.start.UnixMilli()) / 1000},
	} {
		help(w, g.name, g.typ, g.help)
		fmt.Fprintf(w, "%s %s\n", g.name, num(g.v))
	}
	help(w, "izytroniq_build_info", "gauge", "Version of this server; always 1.")
	fmt.Fprintf(w, "izytroniq_build_info{version=%s,goversion=%s,role=%s,schema_version=\"%d\"} 1\n",
		label(s.cfg.ProductVersion), label(runtime.Version()), label(s.cfg.Role), s.cfg.SchemaVersion)
}

func help(w *bufio.Writer, name, typ, text string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, typ)
}

// label quotes a label value as the exposition format wants it.
func label(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
