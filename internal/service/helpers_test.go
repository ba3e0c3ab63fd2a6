package service

import (
	"context"
	"flag"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeSystemctl records systemctl calls and answers is-active with state.
type fakeSystemctl struct {
	mu    sync.Mutex
	calls []string
	state string // "" → "inactive"
	err   error  // returned from every call, e.g. ErrSystemdNotRunning
}

func (f *fakeSystemctl) run(ctx context.Context, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(args, " "))
	if f.err != nil {
		return nil, f.err
	}
	if args[0] == "is-active" {
		if f.state == "active" {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), errExit3
	}
	return nil, nil
}

type exitError string

func (e exitError) Error() string { return string(e) }

const errExit3 = exitError("exit status 3")

// existingUser returns an unprivileged account of this system, or skips.
func existingUser(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"daemon", "nobody", "bin"} {
		if _, err := user.Lookup(name); err == nil {
			return name
		}
	}
	tb.Skip("no unprivileged system account (daemon, nobody, bin) on this machine")
	return ""
}

// mustExecutable writes an executable file at path (making its directories).
func mustExecutable(tb testing.TB, path string) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		tb.Fatal(err)
	}
	return path
}

// testSpec is a spec whose binary and data directory exist under dir.
func testSpec(tb testing.TB, dir, account string) Spec {
	tb.Helper()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, "opt", "izytroniq", "1.0.0", "izytroniq")
	if strings.ContainsAny(bin, "\"'\\") {
		// systemd runs no program with these in its path; use them in the rest only.
		bin = filepath.Join(filepath.Dir(dir), "plain", "opt", "izytroniq", "1.0.0", "izytroniq")
	}
	return Spec{
		Name:        "izytroniq-test",
		Description: "Izytroniq server",
		BinaryPath:  mustExecutable(tb, bin),
		Args:        []string{"serve", "--config", filepath.Join(dir, "izytroniq.toml")},
		User:        account,
		WorkingDir:  data,
	}
}
