package handoff

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wantErr  string // "" = valid
	}{
		{"minimal", `{"id":"abc"}`, ""},
		{"full", `{"id":"a-B_9","binary":"/opt/izytroniq/1.5.0/izytroniq","timeout_ms":5000,"pid":42,"created":"2026-01-02T03:04:05Z"}`, ""},
		{"unknown fields ignored", `{"id":"abc","from_the_future":{"x":[1,2]}}`, ""},
		{"max timeout", `{"id":"abc","timeout_ms":600000}`, ""},
		{"empty", ``, "hand-over request: EOF"},
		{"not an object", `[1,2]`, "cannot unmarshal"},
		{"missing id", `{"binary":"/bin/true"}`, `id ""`},
		{"path in id", `{"id":"../../etc/passwd"}`, "letters, digits"},
		{"slash in id", `{"id":"a/b"}`, "letters, digits"},
		{"long id", `{"id":"` + strings.Repeat("a", 65) + `"}`, "letters, digits"},
		{"relative binary", `{"id":"abc","binary":"izytroniq"}`, "not an absolute path"},
		{"dot binary", `{"id":"abc","binary":"./izytroniq"}`, "not an absolute path"},
		{"NUL in binary", `{"id":"abc","binary":"/bin/true\u0000x"}`, "not an absolute path"},
		{"negative timeout", `{"id":"abc","timeout_ms":-1}`, "timeout_ms -1"},
		{"huge timeout", `{"id":"abc","timeout_ms":9223372036854775807}`, "outside 0 to 600000"},
		{"overflowing timeout", `{"id":"abc","timeout_ms":1e30}`, "cannot unmarshal"},
		{"wrong type", `{"id":123}`, "cannot unmarshal"},
		{"negative pid", `{"id":"abc","pid":-5}`, "pid -5"},
		{"trailing data", `{"id":"abc"} {"id":"def"}`, "data after the JSON object"},
		{"trailing garbage", `{"id":"abc"}x`, "data after the JSON object"},
		{"truncated", `{"id":"abc"`, "unexpected EOF"},
		{"oversized", `{"id":"abc","pad":"` + strings.Repeat("x", maxFileSize) + `"}`, "more than the 65536 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseRequest: %v", err)
				}
				if r.ID == "" {
					t.Fatal("no id")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseRequest = %+v, %v; want an error with %q", r, err, tc.wantErr)
			}
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	if got, want := (&HandoffRequest{}).Timeout(), DefaultTimeout; got != want {
		t.Errorf("default timeout %s, want %s", got, want)
	}
	if got, want := (&HandoffRequest{TimeoutMS: 1500}).Timeout(), 1500*time.Millisecond; got != want {
		t.Errorf("timeout %s, want %s", got, want)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"abc"}`,
		`{"id":"a-B_9","binary":"/opt/izytroniq/izytroniq","timeout_ms":5000,"pid":42,"created":"2026-01-02T03:04:05Z"}`,
		`{"id":"../x"}`, `{"id":"abc","binary":"rel"}`, `{"id":"abc"} x`, `null`, `{"id":"abc","timeout_ms":-1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		// Whatever is accepted is safe to use: the ID names a file in RunDir, the binary
		// is absolute, the timeout bounded; and it survives a round trip.
		if !idPattern.MatchString(r.ID) || filepath.Base(resultPath("/run", r.ID)) != resultPrefix+r.ID+".json" {
			t.Fatalf("accepted id %q", r.ID)
		}
		if r.Binary != "" && (!filepath.IsAbs(r.Binary) || strings.ContainsRune(r.Binary, 0)) {
			t.Fatalf("accepted binary %q", r.Binary)
		}
		if r.Timeout() <= 0 || r.Timeout() > MaxTimeout {
			t.Fatalf("accepted timeout %s", r.Timeout())
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRequest(again)
		if err != nil {
			t.Fatalf("round trip of %s: %v", again, err)
		}
		if r2.ID != r.ID || r2.Binary != r.Binary || r2.TimeoutMS != r.TimeoutMS || r2.PID != r.PID {
			t.Fatalf("round trip %+v != %+v", r2, r)
		}
	})
}

func TestValidateBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "izytroniq")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "current")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{"executable", exe, ""},
		{"symlink to executable", link, ""},
		{"empty", "", "not an absolute path"},
		{"relative", "izytroniq", "not an absolute path"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"not executable", plain, "not executable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not executable" && runtime.GOOS == "windows" {
				t.Skip("no execute bits")
			}
			err := ValidateBinary(tc.path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ValidateBinary(%q) = %v, want an error with %q", tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestRequestAndResultFiles(t *testing.T) {
	dir := t.TempDir()
	r := &HandoffRequest{ID: newID(), Binary: "/opt/izytroniq/izytroniq", TimeoutMS: 1234, PID: 7, Created: time.Now().UTC().Truncate(time.Second)}
	if err := createRequest(dir, r); err != nil {
		t.Fatal(err)
	}
	if err := createRequest(dir, &HandoffRequest{ID: newID()}); !errors.Is(err, ErrInProgress) {
		t.Fatalf("second createRequest = %v, want ErrInProgress", err)
	}
	got, err := readRequest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *r {
		t.Fatalf("read back %+v, want %+v", got, r)
	}
	removeRequest(dir, "someone-else")
	if _, err := readRequest(dir); err != nil {
		t.Fatalf("removeRequest with another id removed the file: %v", err)
	}
	removeRequest(dir, r.ID)
	if _, err := readRequest(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after removeRequest: %v", err)
	}
	// No temporary files left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left in the run directory: %v", ents)
	}

	res := &HandoffResult{ID: r.ID, OK: true, OldPID: 1, NewPID: 2, Binary: r.Binary, DurationMS: 3}
	if err := writeResult(dir, res); err != nil {
		t.Fatal(err)
	}
	back, err := readResult(resultPath(dir, r.ID))
	if err != nil || *back != *res {
		t.Fatalf("result read back %+v, %v; want %+v", back, err, res)
	}
	if r, err := ParseResult([]byte(`{"id":"x","ok":false}`)); err != nil || r.Error == "" {
		t.Fatalf("a failure without a reason = %+v, %v; want a reason filled in", r, err)
	}
	for _, bad := range []string{`{"ok":"yes"}`, `[`, strings.Repeat(" ", maxFileSize+1)} {
		if _, err := ParseResult([]byte(bad)); err == nil {
			t.Errorf("ParseResult(%.20q) accepted", bad)
		}
	}
}

func TestOversizedFileRefused(t *testing.T) {
	dir := t.TempDir()
	big := `{"id":"abc","pad":"` + strings.Repeat("x", 2*maxFileSize) + `"}`
	if err := os.WriteFile(filepath.Join(dir, RequestFileName), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRequest(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("readRequest of a %d-byte file = %v", len(big), err)
	}
	if err := os.WriteFile(filepath.Join(dir, PIDFileName), []byte(strings.Repeat("1", 2*maxFileSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Running(dir); err == nil {
		t.Fatal("Running accepted an oversized pidfile")
	}
}

func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Running(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Running without a pidfile = %v, want ErrNotRunning", err)
	}
	for _, content := range []string{"", "abc", "-5", "0", "12 13"} {
		os.WriteFile(filepath.Join(dir, PIDFileName), []byte(content), 0o644)
		if _, err := Running(dir); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "not a process ID") {
			t.Errorf("Running with pidfile %q = %v, want ErrNotRunning: not a process ID", content, err)
		}
	}
	if err := writePIDFile(dir, 4242); err != nil {
		t.Fatal(err)
	}
	if pid, err := readPIDFile(dir); err != nil || pid != 4242 {
		t.Fatalf("readPIDFile = %d, %v", pid, err)
	}
	removePIDFile(dir, 1) // not ours: stays
	if _, err := readPIDFile(dir); err != nil {
		t.Fatalf("removePIDFile of another pid removed it: %v", err)
	}
	removePIDFile(dir, 4242)
	if _, err := readPIDFile(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after removePIDFile: %v", err)
	}
}

func TestRunDir(t *testing.T) {
	if got, want := RunDir(filepath.Join("var", "lib", "izytroniq")), filepath.Join("var", "lib", "izytroniq", "run"); got != want {
		t.Errorf("RunDir = %q, want %q", got, want)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{resultPrefix + "a.json", ".tmp-123", resultPrefix + "fresh.json", PIDFileName, RequestFileName} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		if !strings.Contains(name, "fresh") {
			os.Chtimes(p, old, old)
		}
	}
	removeLeftovers(dir, time.Hour)
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if got, want := strings.Join(left, " "), RequestFileName+" "+resultPrefix+"fresh.json "+PIDFileName; got != want {
		t.Errorf("left %q, want %q", got, want)
	}
}

// TestRefuseLate: a request that reaches a process after it handed over is answered
// "in progress", naming the process that serves now.
func TestRefuseLate(t *testing.T) {
	dir := t.TempDir()
	u := &Upgrader{runDir: dir, pid: os.Getpid()}
	req := &HandoffRequest{ID: "late", Binary: "/opt/izytroniq/izytroniq", PID: os.Getpid(), Created: time.Now()}
	if err := createRequest(dir, req); err != nil {
		t.Fatal(err)
	}
	u.refuseLate(4321)
	res, err := readResult(resultPath(dir, "late"))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Code != CodeInProgress || res.NewPID != 4321 || !strings.Contains(res.Error, "handed over to process 4321") {
		t.Errorf("result %+v", res)
	}
	if _, err := readRequest(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("request still there: %v", err)
	}
	// A request for another process is not this one's to answer.
	req.ID, req.PID = "other", 1
	createRequest(dir, req)
	u.refuseLate(4321)
	if _, err := readResult(resultPath(dir, "other")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("answered a request for another process: %v", err)
	}
}
