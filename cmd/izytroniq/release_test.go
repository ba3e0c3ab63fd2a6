package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/release"
)

func TestReleaseCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release package; skipped with -short")
	}
	dir := t.TempDir()
	keys, other, out := filepath.Join(dir, "keys"), filepath.Join(dir, "other"), filepath.Join(dir, "dist")

	stdout := mustRun(t, nil, "release", "keygen", "--out", keys)
	if !strings.Contains(stdout, "key id") {
		t.Errorf("keygen output has no key id:\n%s", stdout)
	}
	st, err := os.Stat(filepath.Join(keys, "release.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("release.key mode = %v, want %v", got, want)
	}
	if _, _, err := runTest(t, nil, "release", "keygen", "--out", keys); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second keygen into the same directory: err = %v, want already exists", err)
	}
	mustRun(t, nil, "release", "keygen", "--out", other)

	stdout = mustRun(t, nil, "release", "build", "--version", "3.4.5", "--key", filepath.Join(keys, "release.key"),
		"--out", out, "--source", filepath.Join("..", ".."), "--platforms", "linux/amd64")
	for _, want := range []string{"building izytroniq 3.4.5 for linux/amd64", "signed manifest", "izytroniq-3.4.5.tar.gz"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("build output lacks %q:\n%s", want, stdout)
		}
	}
	pkg := filepath.Join(out, release.FileName("3.4.5"))

	stdout = mustRun(t, nil, "release", "verify", "--package", pkg, "--trust", filepath.Join(keys, "release.pub"))
	for _, want := range []string{"3.4.5", "linux-amd64/izytroniq", "OK"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}

	stdout = mustRun(t, nil, "release", "verify", "--json", "--package", pkg,
		"--trust", filepath.Join(other, "release.pub"), "--trust", filepath.Join(keys, "release.pub"))
	var v ReleaseVerification
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, stdout)
	}
	if !v.OK || v.Manifest == nil || v.Manifest.Version != "3.4.5" || len(v.Manifest.Files) != 2 {
		t.Errorf("verify --json = %+v", v)
	}

	t.Run("untrusted key", func(t *testing.T) {
		stdout, _, err := runTest(t, nil, "release", "verify", "--package", pkg, "--trust", filepath.Join(other, "release.pub"))
		if err == nil || !strings.Contains(err.Error(), "not trusted") {
			t.Fatalf("err = %v, want not trusted", err)
		}
		if got, want := exitCode(err, new(bytes.Buffer)), 1; got != want {
			t.Errorf("exit code = %d, want %d", got, want)
		}
		if !strings.Contains(stdout, "FAILED") {
			t.Errorf("output does not say FAILED:\n%s", stdout)
		}
		stdout, _, err = runTest(t, nil, "release", "verify", "--json", "--package", pkg, "--trust", filepath.Join(other, "release.pub"))
		var v ReleaseVerification
		if jerr := json.Unmarshal([]byte(stdout), &v); jerr != nil || v.OK || v.Error == "" || err == nil {
			t.Errorf("verify --json of an untrusted package = %+v (err %v, json %v)", v, err, jerr)
		}
	})

	t.Run("private key as trust", func(t *testing.T) {
		_, _, err := runTest(t, nil, "release", "verify", "--package", pkg, "--trust", filepath.Join(keys, "release.key"))
		if err == nil || !strings.Contains(err.Error(), "private") {
			t.Fatalf("err = %v, want a word about the private key", err)
		}
	})

	t.Run("same version twice", func(t *testing.T) {
		_, _, err := runTest(t, nil, "release", "build", "--version", "3.4.5", "--key", filepath.Join(keys, "release.key"),
			"--out", out, "--source", filepath.Join("..", ".."), "--platforms", "linux/amd64")
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v, want already exists", err)
		}
	})
}

func TestReleaseUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"release"}, 2, "keygen, build, verify, publish or list"},
		{[]string{"release", "frob"}, 2, "unknown release subcommand"},
		{[]string{"release", "publish"}, 2, "needs --file, --version, --platform and --key"},
		{[]string{"release", "publish", "--file", "f", "--version", "1.0.0", "--platform", "linux/amd64", "--key", "k", "x"}, 2, "unexpected argument"},
		{[]string{"release", "publish", "--file", "f", "--version", "1.0", "--platform", "linux/amd64", "--key", "k"}, 2, "--version"},
		{[]string{"release", "publish", "--file", "f", "--version", "1.0.0", "--platform", "linux-amd64", "--key", "k"}, 2, "--platform"},
		{[]string{"release", "keygen"}, 2, "needs --out"},
		{[]string{"release", "build", "--version", "1.0.0"}, 2, "needs --version, --key and --out"},
		{[]string{"release", "verify", "--package", "x.tar.gz"}, 2, "needs --package and --trust"},
		{[]string{"release", "build", "--version", "1.0.0", "--key", "k", "--out", "o", "--platforms", "linux"}, 2, "GOOS/GOARCH"},
		{[]string{"release", "verify", "--package", "x", "--trust", "k", "extra"}, 2, "unexpected argument"},
		{[]string{"release", "-h"}, 0, ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, err := runTest(t, nil, tt.args...)
			if got := exitCode(err, new(bytes.Buffer)); got != tt.code {
				t.Fatalf("exit code = %d (err %v), want %d", got, err, tt.code)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.msg)
			}
			for _, sub := range []string{"keygen", "build", "verify", "publish", "list"} {
				if !strings.Contains(stderr, "izytroniq release "+sub) {
					t.Errorf("usage does not list %s:\n%s", sub, stderr)
				}
			}
		})
	}
}
