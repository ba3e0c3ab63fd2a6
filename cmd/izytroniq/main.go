// Command izytroniq is the Izytroniq server and its administration tool: it serves the
// HTTP API, creates and upgrades the database, manages users and runs a demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/service"
)

// version is the product version; release builds set it with
// -ldflags "-X main.version=1.2.3".
var version = "0.1.0-dev"

// protocolVersions are the sync wire protocol versions this server speaks.
var protocolVersions = []int{izy.PreviousProtocolVersion, izy.ProtocolVersion}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	runMain := func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }
	var err error
	// Started by the Windows service control manager (its binary path runs `serve`), the
	// server must answer the manager's start, stop and shutdown requests; elsewhere, and
	// for every other command, it is a plain process.
	asService := false
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		asService, err = service.RunAsService(service.DefaultName, runMain)
	}
	if !asService {
		err = runMain(ctx)
	}
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usage is the top-level help.
const usage = `izytroniq manages electrical safety test data.

Usage:
  izytroniq <command> [flags]

Commands:
  demo      run a throw-away server with realistic sample data
  init      write a configuration, create the database and the admin user
  serve     run the server
  db        show or upgrade the database schema (version, status, upgrade)
  user      manage users (add, list, passwd)
  seed      fill an empty database with generated sample data (benchmarks)
  version   print the product, schema and protocol versions
  checkouts show who holds which data offline (list, show)
  license   licences: make keys, issue, install, show, free offline seats (keygen, issue, install, show, seats)
  release   build and verify signed release packages (keygen, build, verify)
  service   register the server as a systemd unit or Windows service (install, uninstall, status)
  backup    back up and restore database and configuration (create, list, restore)
  update    check a signed release package and this installation before an update (--dry-run), history
  check     run the post-update checks (database, service, log, test pages, TLS); non-zero on failure
  doctor    diagnose the manual's troubleshooting cases and, with --fix, repair what is safe

Run 'izytroniq <command> -h' for the flags of a command.
Start with: izytroniq demo
`

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, newEnv(stdin, stdout, stderr))
}

// runEnv is run with the process environment given, so tests can set variables without
// changing the test process's own.
func runEnv(ctx context.Context, args []string, env *env) error {
	stdout, stderr := env.stdout, env.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return (&DemoCommand{env: env}).Run(ctx, rest)
	case "init":
		return (&InitCommand{env: env}).Run(ctx, rest)
	case "serve":
		return (&ServeCommand{env: env}).Run(ctx, rest)
	case "db":
		return (&DBCommand{env: env}).Run(ctx, rest)
	case "user":
		return (&UserCommand{env: env}).Run(ctx, rest)
	case "seed":
		return (&SeedCommand{env: env}).Run(ctx, rest)
	case "version":
		return (&VersionCommand{env: env}).Run(ctx, rest)
	case "checkouts":
		return (&CheckoutsCommand{env: env}).Run(ctx, rest)
	case "backup":
		return (&BackupCommand{env: env}).Run(ctx, rest)
	case "release":
		return (&ReleaseCommand{env: env}).Run(ctx, rest)
	case "service":
		return (&ServiceCommand{env: env}).Run(ctx, rest)
	case "update":
		return (&UpdateCommand{env: env}).Run(ctx, rest)
	case "check":
		return (&CheckCommand{env: env}).Run(ctx, rest)
	case "doctor":
		return (&DoctorCommand{env: env}).Run(ctx, rest)
	case "license":
		return (&LicenseCommand{env: env}).Run(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", cmd)
}

// env is what every command gets from the process: its standard streams and
// environment. Commands never touch os.Stdout or os.Getenv directly.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ}
}

// usageError is a mistake in the command line; the program exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlagSet returns a flag set that reports errors instead of exiting and prints its
// usage text (a synopsis line and a paragraph) before the flag defaults.
func newFlagSet(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  izytroniq %s\n\n%s\n", synopsis, strings.TrimSpace(about))
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args and rejects stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// exitCode prints err for people and returns the process's exit status: 0 for success
// and for -h, 2 for a usage error, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "izytroniq: interrupted")
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "izytroniq: %s\nRun 'izytroniq -h' or 'izytroniq <command> -h' for usage.\n", ue.msg)
		return 2
	}
	fmt.Fprintf(stderr, "izytroniq: %s\n", errorText(err))
	return 1
}

// errorText is err for a person: the domain error's code is for programs, so only its
// message is shown, with the context wrapped around it.
func errorText(err error) string {
	s := err.Error()
	var e *izy.Error
	if errors.As(err, &e) {
		s = strings.Replace(s, e.Error(), e.Message, 1)
	}
	return s
}
