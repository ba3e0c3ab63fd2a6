package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one request of a run: when it started, how long it took, whether it worked.
type sample struct {
	start int64 // unix ns
	dur   int64 // ns
	ok    bool
}

func writeSamples(path string, all []sample) error {
	slices.SortFunc(all, func(a, b sample) int { return int(a.start - b.start) })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range all {
		ok := 0
		if s.ok {
			ok = 1
		}
		fmt.Fprintf(w, "%d %d %d\n", s.start, s.dur, ok)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readSamples(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 fields", path, n)
		}
		start, err1 := strconv.ParseInt(fs[0], 10, 64)
		dur, err2 := strconv.ParseInt(fs[1], 10, 64)
		if err1 != nil || err2 != nil || (fs[2] != "0" && fs[2] != "1") {
			return nil, fmt.Errorf("%s:%d: malformed sample", path, n)
		}
		out = append(out, sample{start, dur, fs[2] == "1"})
	}
	return out, sc.Err()
}

// windowStats sums up the samples that started in [from, to).
type windowStats struct {
	Requests int64   `json:"requests"`
	Failed   int64   `json:"failed"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

func stats(all []sample, from, to int64) windowStats {
	var ws windowStats
	var lat []int64
	for _, s := range all {
		if s.start < from || s.start >= to {
			continue
		}
		ws.Requests++
		if !s.ok {
			ws.Failed++
		}
		lat = append(lat, s.dur)
	}
	if len(lat) == 0 {
		return ws
	}
	slices.Sort(lat)
	ms := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)]) / 1e6 }
	ws.P50ms, ws.P99ms, ws.MaxMs = ms(0.5), ms(0.99), ms(1)
	return ws
}

// window compares the requests before a time window (the baseline) with those inside it:
//
//	load window -samples F -from UNIX_NS -to UNIX_NS
func window(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load window", flag.ContinueOnError)
	path := fs.String("samples", "", "samples `file` written by load -samples")
	from := fs.Int64("from", 0, "window start, unix `ns`")
	to := fs.Int64("to", 0, "window end, unix `ns`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *from <= 0 || *to <= *from {
		return fmt.Errorf("load window needs -samples FILE -from NS -to NS with from < to")
	}
	all, err := readSamples(*path)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("%s holds no samples", *path)
	}
	before := stats(all, all[0].start, *from)
	during := stats(all, *from, *to)
	after := stats(all, *to, all[len(all)-1].start+1)
	total := stats(all, all[0].start, all[len(all)-1].start+1)
	fmt.Fprintf(stdout, "window %.1fs\n", time.Duration(*to-*from).Seconds())
	for _, r := range []struct {
		name string
		s    windowStats
	}{{"before", before}, {"during", during}, {"after", after}, {"total", total}} {
		fmt.Fprintf(stdout, "%-7s requests %8d  failed %5d  p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms\n",
			r.name, r.s.Requests, r.s.Failed, r.s.P50ms, r.s.P99ms, r.s.MaxMs)
	}
	fmt.Fprintf(stdout, "added p99 during the window: %.2f ms\n", during.P99ms-before.P99ms)
	return nil
}
