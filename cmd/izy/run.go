package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// version is the client's version; release builds set it with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `izy is the field client of Izytroniq: check out a customer, test offline, sync back.

Usage:
  izy [--home DIR] [--retry-for DURATION] <command> [flags]

Commands:
  login      sign in to a server (--server URL --user NAME [--password-file F])
  checkout   download a customer or location subtree (--customer ID | --location ID [--exclusive])
  status     checkouts, outbox, conflicts, last sync
  devices    list and search devices offline (--q TEXT --customer ID --colour C)
  device     add or edit a device offline (add|edit)
  test       record a test offline (DEVICE_ID --measure KIND=VALUEUNIT ...)
  sync       upload the outbox, then download changes
  checkin    sync, then release the checkout
  conflicts  list, show and resolve conflicts
  version    print the client and protocol versions

Every command takes --json. The home directory (config and local data) is --home, else
$IZY_HOME, else the per-user config directory's "izy".

When the connection to the server is lost (or the server answers 429, 502, 503 or 504),
izy sends the call again by itself after a growing wait (0.5 s doubling up to 30 s) and
says so ("connection lost, retrying in 4 s (attempt 3)"). --retry-for (default 5m) bounds
how long it keeps trying; --retry-for 0 fails at once. Retrying never records anything
twice: every upload batch and every other call can be repeated safely.
`

// env is what commands get from the process; they never touch os.Stdout or os.Getenv.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	home           string
	retryFor       time.Duration // --retry-for: how long to keep retrying a lost connection
	retrySet       bool          // --retry-for was given
}

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func runEnv(ctx context.Context, args []string, e *env) error {
	fs := flag.NewFlagSet("izy", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	home := fs.String("home", "", "home directory for config and local data (default $IZY_HOME, else the user config directory's izy)")
	fs.DurationVar(&e.retryFor, "retry-for", defaultRetryFor, "keep retrying a lost connection this long before giving up (0: do not retry)")
	fs.Usage = func() { fmt.Fprint(e.stderr, usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err.Error()}
	}
	fs.Visit(func(f *flag.Flag) { e.retrySet = e.retrySet || f.Name == "retry-for" })
	h, err := resolveHome(*home, e.getenv)
	if err != nil {
		return err
	}
	e.home = h
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "login":
		return (&LoginCommand{env: e}).Run(ctx, rest)
	case "checkout":
		return (&CheckoutCommand{env: e}).Run(ctx, rest)
	case "status":
		return (&StatusCommand{env: e}).Run(ctx, rest)
	case "devices":
		return (&DevicesCommand{env: e}).Run(ctx, rest)
	case "device":
		return (&DeviceCommand{env: e}).Run(ctx, rest)
	case "test":
		return (&TestCommand{env: e}).Run(ctx, rest)
	case "sync":
		return (&SyncCommand{env: e}).Run(ctx, rest)
	case "checkin":
		return (&CheckinCommand{env: e}).Run(ctx, rest)
	case "conflicts":
		return (&ConflictsCommand{env: e}).Run(ctx, rest)
	case "version":
		return (&VersionCommand{env: e}).Run(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	fmt.Fprint(e.stderr, usage)
	return usageErrorf("unknown command %q", cmd)
}

// resolveHome picks the home directory: the flag, else IZY_HOME, else the user config
// directory.
func resolveHome(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if h := getenv("IZY_HOME"); h != "" {
		return filepath.Abs(h)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no home directory: %w; set IZY_HOME or pass --home DIR", err)
	}
	return filepath.Join(dir, "izy"), nil
}

// usageError is a mistake in the command line; the program exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode prints err for people and returns the exit status: 0 ok, 2 usage, 1 else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "izy: %s\n", ue.msg)
		return 2
	}
	var ie *izy.Error
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "izy: %s\n", ie.Message)
		return 1
	}
	fmt.Fprintf(stderr, "izy: %v\n", err)
	return 1
}

// newFlagSet returns a flag set with --json that reports errors instead of exiting.
func newFlagSet(e *env, name, synopsis, about string, asJSON *bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(asJSON, "json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  izy %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags and positional arguments in any order ("test ID --measure …"
// as well as "test --measure … ID") and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// noArgs parses args and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return usageErrorf("unexpected argument %q", pos[0])
	}
	return nil
}

// helpOK turns -h into success after the usage was printed.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
