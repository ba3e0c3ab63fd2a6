package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSamplesRoundTripAndWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	var in []sample
	for i := int64(0); i < 100; i++ {
		// 1 ms requests every 10 ms; the ones in [500, 600) ms take 50 ms and two fail.
		s := sample{start: 1e9 + i*1e7, dur: 1e6, ok: true}
		if i >= 50 && i < 60 {
			s.dur = 5e7
			s.ok = i != 55 && i != 56
		}
		in = append(in, s)
	}
	if err := writeSamples(path, in); err != nil {
		t.Fatal(err)
	}
	got, err := readSamples(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || got[55] != in[55] {
		t.Fatalf("round trip: got %d samples, [55] %+v, want %+v", len(got), got[55], in[55])
	}
	during := stats(got, 1e9+50*1e7, 1e9+60*1e7)
	if during.Requests != 10 || during.Failed != 2 || during.P99ms != 50 {
		t.Fatalf("during = %+v, want 10 requests, 2 failed, p99 50 ms", during)
	}
	before := stats(got, 1e9, 1e9+50*1e7)
	if before.Requests != 50 || before.Failed != 0 || before.P99ms != 1 {
		t.Fatalf("before = %+v", before)
	}
	var out strings.Builder
	if err := window([]string{"-samples", path, "-from", "1500000000", "-to", "1600000000"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "added p99 during the window: 49.00 ms") {
		t.Fatalf("window output:\n%s", out.String())
	}
}

func TestWindowRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("1 2\n"), 0o644)
	for _, args := range [][]string{
		{},
		{"-samples", bad, "-from", "1", "-to", "2"},
		{"-samples", filepath.Join(dir, "missing"), "-from", "1", "-to", "2"},
		{"-samples", bad, "-from", "5", "-to", "2"},
	} {
		if err := window(args, &strings.Builder{}); err == nil {
			t.Errorf("window %q: no error", args)
		}
	}
}

func FuzzReadSamples(f *testing.F) {
	f.Add("1 2 1\n3 4 0\n")
	f.Add("x y z\n")
	f.Add("1 2 2\n")
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "s")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readSamples(path)
		if err != nil {
			return
		}
		for _, s := range got {
			_ = stats(got, s.start, s.start+1)
		}
	})
}
