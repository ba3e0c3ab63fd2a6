//go:build linux

package handoff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// supported: this platform hands listening sockets over.
const supported = true

func notifyHangup(c chan<- os.Signal) { signal.Notify(c, syscall.SIGHUP) }
func stopHangup(c chan<- os.Signal)   { signal.Stop(c) }

// handOver starts binary with this process's arguments and environment plus the
// listeners and a ready pipe, and waits up to timeout for it to say it is ready. On
// any failure it kills the new process; on success it leaves it running.
func (u *Upgrader) handOver(ctx context.Context, binary string, timeout time.Duration) (int, error) {
	if err := ValidateBinary(binary); err != nil {
		return 0, err
	}
	ls := listeners()
	if len(ls) == 0 {
		return 0, errors.New("this process has no listeners to hand over")
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var specs []fdSpec
	for _, l := range ls {
		f, err := l.dupFile()
		if err != nil {
			return 0, err
		}
		specs = append(specs, fdSpec{Network: l.network, Addr: l.addr, Actual: l.Addr().String(), FD: 3 + len(files)})
		files = append(files, f)
	}
	announce, err := json.Marshal(specs)
	if err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command(binary, os.Args[1:]...)
	cmd.Env = append(childEnv(os.Environ()), EnvFDs+"="+string(announce), EnvReady+"="+strconv.Itoa(3+len(files)))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = append(files, w)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", binary, err)
	}
	pid := cmd.Process.Pid
	u.log.Info("hand-over: new process started; waiting until it is ready", "new_pid", pid, "binary", binary)

	readyc := make(chan error, 1)
	r.SetReadDeadline(time.Now().Add(timeout))
	go func() { readyc <- waitReady(r) }()
	select {
	case err = <-readyc:
	case <-ctx.Done():
		err = errors.New("the server is stopping")
	}
	if err == nil {
		cmd.Process.Release()
		return pid, nil
	}
	cmd.Process.Kill()
	werr := cmd.Wait()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, fmt.Errorf("new process %d (%s) was not ready within %s; killed it", pid, binary, timeout)
	case errors.Is(err, errNoReady):
		return 0, fmt.Errorf("new process %d (%s) ended before it was ready (%v); see its log lines", pid, binary, werr)
	default:
		return 0, fmt.Errorf("new process %d (%s): %v; killed it", pid, binary, err)
	}
}

var errNoReady = errors.New("no ready message")

// waitReady reads the ready pipe until the new process says "ready"; errNoReady when it
// closes the pipe (exits) first.
func waitReady(r *os.File) error {
	var got []byte
	buf := make([]byte, 64)
	for len(got) < 1024 {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte("ready\n")) {
			return nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			return errNoReady
		}
	}
	return errNoReady
}

// childEnv is env without the hand-over variables of an earlier hand-over.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvFDs+"=") || strings.HasPrefix(kv, EnvReady+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// notifySystemd sends state to systemd's notification socket when NOTIFY_SOCKET is set
// (sd_notify(3): one datagram; a leading @ names an abstract socket).
func notifySystemd(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// checkExecutable: some execute bit, and executable for this process's account.
func checkExecutable(path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("binary %s is not executable (mode %s); chmod +x it", path, fi.Mode().Perm())
	}
	if err := syscall.Access(path, xOK); err != nil {
		return fmt.Errorf("binary %s is not executable for this account: %w", path, err)
	}
	return nil
}

// isServer checks that pid is a live izytroniq serve process: its command line
// (/proc/PID/cmdline, empty for a zombie) names an izytroniq binary and serve.
func isServer(pid int) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return fmt.Errorf("process %d is not running", pid)
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if name := filepath.Base(args[0]); !strings.HasPrefix(name, "izytroniq") {
		return fmt.Errorf("process %d is %s, not izytroniq", pid, name)
	}
	if !slices.Contains(args[1:], "serve") {
		return fmt.Errorf("process %d is izytroniq but not izytroniq serve", pid)
	}
	return nil
}

func signalServer(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }

const xOK = 1 // access(2) X_OK

// checkRequestOwner refuses a request file written by an account other than root or
// the server's own: the request names a program the server runs.
func checkRequestOwner(path string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to uid %d, neither root nor this server's account; refusing to run the program it names", path, st.Uid)
	}
	return nil
}
