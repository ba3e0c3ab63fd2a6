package handoff

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HandoffRequest is RunDir/handoff-request.json: what the update asks the running server
// to do. Unknown fields are ignored, so an older server reads a newer update's request.
type HandoffRequest struct {
	ID        string    `json:"id"`               // names the result file; [A-Za-z0-9_-], at most 64
	Binary    string    `json:"binary,omitempty"` // absolute path of the new executable; "" = the server's own
	TimeoutMS int64     `json:"timeout_ms,omitempty"`
	PID       int       `json:"pid,omitempty"` // the server the request is for; another process ignores it
	Created   time.Time `json:"created"`
}

// Timeout is how long the server waits for the new process: TimeoutMS, else DefaultTimeout.
func (r *HandoffRequest) Timeout() time.Duration {
	if r.TimeoutMS <= 0 {
		return DefaultTimeout
	}
	return time.Duration(r.TimeoutMS) * time.Millisecond
}

// HandoffResult is RunDir/handoff-result-ID.json, written by the old server.
type HandoffResult struct {
	ID         string `json:"id"`
	OK         bool   `json:"ok"`
	OldPID     int    `json:"old_pid,omitempty"`
	NewPID     int    `json:"new_pid,omitempty"`
	Binary     string `json:"binary,omitempty"`
	Error      string `json:"error,omitempty"`
	Code       string `json:"code,omitempty"` // CodeInProgress, or "" for any other failure
	DurationMS int64  `json:"duration_ms"`
}

// CodeInProgress in a result: the request met another hand-over.
const CodeInProgress = "in_progress"

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// newID returns a fresh request ID.
func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ParseRequest decodes and checks a request file's content: one JSON object, a safe ID
// (it becomes part of a file name), a timeout within MaxTimeout and, when a binary is
// named, an absolute path. It does not look at the file system; see ValidateBinary.
func ParseRequest(b []byte) (*HandoffRequest, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("hand-over request is %d bytes, more than the %d allowed", len(b), maxFileSize)
	}
	var r HandoffRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("hand-over request: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("hand-over request: data after the JSON object")
	}
	if !idPattern.MatchString(r.ID) {
		return nil, fmt.Errorf("hand-over request: id %q is not 1 to 64 letters, digits, _ or -", r.ID)
	}
	if r.TimeoutMS < 0 || r.TimeoutMS > MaxTimeout.Milliseconds() {
		return nil, fmt.Errorf("hand-over request: timeout_ms %d is outside 0 to %d", r.TimeoutMS, MaxTimeout.Milliseconds())
	}
	if r.PID < 0 {
		return nil, fmt.Errorf("hand-over request: pid %d is negative", r.PID)
	}
	if r.Binary != "" {
		if strings.ContainsRune(r.Binary, 0) || !filepath.IsAbs(r.Binary) {
			return nil, fmt.Errorf("hand-over request: binary %q is not an absolute path", r.Binary)
		}
	}
	return &r, nil
}

// ValidateBinary checks that path can be started as the new server: an absolute path to
// an executable regular file (symbolic links are followed).
func ValidateBinary(path string) error {
	if path == "" || strings.ContainsRune(path, 0) || !filepath.IsAbs(path) {
		return fmt.Errorf("binary %q is not an absolute path; give the full path of the new izytroniq executable", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("binary %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if err := checkExecutable(path, fi); err != nil {
		return err
	}
	return nil
}

// readSmallFile reads a file of at most maxFileSize bytes.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a file izytroniq wrote", path, maxFileSize)
	}
	return b, nil
}

// readRequest reads and parses RunDir/handoff-request.json.
func readRequest(runDir string) (*HandoffRequest, error) {
	b, err := readSmallFile(filepath.Join(runDir, RequestFileName))
	if err != nil {
		return nil, err
	}
	return ParseRequest(b)
}

// createRequest writes r as RunDir/handoff-request.json unless that file exists: the
// content goes to a temporary file first and is linked into place, so a reader never
// sees a partial request and two updates never both own the request.
func createRequest(runDir string, r *HandoffRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(runDir, b)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(runDir, RequestFileName)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ErrInProgress
		}
		return fmt.Errorf("write hand-over request: %w", err)
	}
	return nil
}

// removeRequest removes the request file if it still holds the request id.
func removeRequest(runDir, id string) {
	if r, err := readRequest(runDir); err == nil && r.ID != id {
		return
	}
	os.Remove(filepath.Join(runDir, RequestFileName))
}

// ParseResult decodes a result file's content.
func ParseResult(b []byte) (*HandoffResult, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("hand-over result is %d bytes, more than the %d allowed", len(b), maxFileSize)
	}
	var r HandoffResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("hand-over result: %w", err)
	}
	if !r.OK && r.Error == "" {
		r.Error = "the server reported a failure without a reason; see its log"
	}
	return &r, nil
}

// writeResult writes RunDir/handoff-result-ID.json atomically.
func writeResult(runDir string, r *HandoffResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeFileAtomic(resultPath(runDir, r.ID), b)
}

// writeTemp writes b to a new temporary file in dir, synced, and returns its name.
func writeTemp(dir string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Readable by the update, which may run as another account (root).
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeFileAtomic replaces path with b by writing a temporary file and renaming it.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := writeTemp(filepath.Dir(path), b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writePIDFile records pid as the process serving from runDir.
func writePIDFile(runDir string, pid int) error {
	return writeFileAtomic(filepath.Join(runDir, PIDFileName), []byte(strconv.Itoa(pid)+"\n"))
}

// readPIDFile returns the PID in RunDir/izytroniq.pid; ErrNotRunning wraps a missing file.
func readPIDFile(runDir string) (int, error) {
	path := filepath.Join(runDir, PIDFileName)
	b, err := readSmallFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w (no %s)", ErrNotRunning, path)
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%w (%s holds %q, not a process ID; remove it)", ErrNotRunning, path, truncate(string(b), 40))
	}
	return pid, nil
}

// removePIDFile removes the pidfile if it still names pid.
func removePIDFile(runDir string, pid int) {
	if got, err := readPIDFile(runDir); err == nil && got == pid {
		os.Remove(filepath.Join(runDir, PIDFileName))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
