package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/izytroniq/izytroniq/internal/service"
)

// ServiceCommand registers the server with the operating system's service manager once;
// updates afterwards only repoint the registration, so its account survives.
type ServiceCommand struct {
	*env
	// manager replaces the platform's service manager (tests).
	manager service.Manager
}

const serviceUsage = `Usage:
  izytroniq service install   --user ACCOUNT [--config FILE] [--name NAME] [--binary FILE] [--password-file F] [--json]
  izytroniq service uninstall [--config FILE] [--name NAME] [--json]
  izytroniq service status    [--config FILE] [--name NAME] [--json]

install    registers the server as a service (a systemd unit on Linux, a Windows service
           on Windows) that runs 'izytroniq serve --config FILE' as ACCOUNT, restarts
           after failures and starts at boot; it records the registration in the data
           directory (service.json) so doctor can restore it
uninstall  stops the service and removes the registration and the record
status     shows the registration: installed, binary, account, running, whether it
           runs this binary, and what is wrong with it

ACCOUNT must exist. On Windows a normal account needs --password-file (a file holding
the password on its first line); LocalSystem, NT AUTHORITY\NetworkService, NT SERVICE\…
and managed service accounts (…$) need none.
`

// Run runs `izytroniq service`.
func (c *ServiceCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, serviceUsage)
		if len(args) == 0 {
			return usageErrorf("service needs a subcommand: install, uninstall or status")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	if sub != "install" && sub != "uninstall" && sub != "status" {
		fmt.Fprint(c.stderr, serviceUsage)
		return usageErrorf("unknown service subcommand %q", sub)
	}
	fs := flag.NewFlagSet("service "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, serviceUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, false)
	var o serviceOptions
	fs.StringVar(&o.name, "name", service.DefaultName, "service `name`")
	fs.BoolVar(&o.asJSON, "json", false, "print JSON")
	fs.StringVar(&o.unitDir, "unit-dir", "", "write the systemd unit into `dir` instead of "+service.DefaultUnitDir+" (packaging, tests)")
	if sub == "install" {
		fs.StringVar(&o.user, "user", "", "`account` the service runs as (required)")
		fs.StringVar(&o.binary, "binary", "", "the server `file` the service runs (default: this binary)")
		fs.StringVar(&o.passwordFile, "password-file", "", "Windows: read the account's password from `file`")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if sub == "install" && o.user == "" {
		fs.Usage()
		return usageErrorf("service install needs --user ACCOUNT: the account the service runs as (on Linux create one with: useradd --system --no-create-home izytroniq)")
	}
	if err := service.ValidateName(o.name); err != nil {
		return usageErrorf("--name: %v", err)
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	m := c.manager
	switch {
	case m != nil:
	case o.unitDir != "":
		m = &service.Systemd{UnitDir: absPath(o.unitDir)}
	default:
		m = service.Default()
	}
	switch sub {
	case "install":
		return c.install(ctx, m, cfg, o)
	case "uninstall":
		return c.uninstall(ctx, m, cfg, o)
	}
	return c.status(ctx, m, cfg, o)
}

type serviceOptions struct {
	name, user, binary, passwordFile, unitDir string
	asJSON                                    bool
}

// ServiceStatus is the output of `izytroniq service status --json` (and of install).
type ServiceStatus struct {
	service.Status
	// ThisBinary is the binary that answers; MatchesThisBinary says the service runs it.
	ThisBinary        string            `json:"this_binary"`
	MatchesThisBinary bool              `json:"matches_this_binary"`
	RecordedUser      string            `json:"recorded_user,omitempty"`
	Problems          []service.Problem `json:"problems"`
}

func (c *ServiceCommand) install(ctx context.Context, m service.Manager, cfg *Config, o serviceOptions) error {
	if cfg.Path == "" {
		return errors.New("service install needs a configuration file for the service to read: create one with izytroniq init --dir DIR, then pass --config DIR/izytroniq.toml")
	}
	if fi, err := os.Stat(cfg.DataDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("data directory %s does not exist: create it with izytroniq init, or fix data_dir in %s", cfg.DataDir, cfg.Path)
	}
	bin := o.binary
	if bin == "" {
		var err error
		if bin, err = thisBinary(); err != nil {
			return err
		}
	} else {
		bin = absPath(bin)
	}
	if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("binary %s does not exist or is not a file; name the installed server with --binary", bin)
	}
	spec := service.Spec{
		Name:         o.name,
		DisplayName:  "Izytroniq",
		Description:  "Izytroniq server for electrical safety test data",
		BinaryPath:   bin,
		Args:         []string{"serve", "--config", cfg.Path},
		User:         o.user,
		WorkingDir:   cfg.DataDir,
		PasswordFile: absPath(o.passwordFile),
	}
	if spec.PasswordFile != "" && runtime.GOOS != "windows" {
		return usageErrorf("--password-file is for Windows accounts; systemd services need no password")
	}
	err := m.Install(ctx, spec)
	pending := errors.Is(err, service.ErrSystemdNotRunning)
	if err != nil && !pending {
		return fmt.Errorf("install service %s: %w", spec.Name, err)
	}
	if err := service.Record(cfg.DataDir, spec); err != nil {
		return fmt.Errorf("service %s is registered, but: %w (doctor cannot restore it without the record; make %s writable and install again)", spec.Name, err, cfg.DataDir)
	}
	if pending {
		fmt.Fprintf(c.stderr, "izytroniq: warning: %v\n", err)
	}
	if o.asJSON {
		return c.printStatus(ctx, m, cfg, o)
	}
	fmt.Fprintf(c.stdout, "Registered service %s: runs %s as %s.\n", spec.Name, bin, spec.User)
	fmt.Fprintf(c.stdout, "Recorded in %s.\n", filepath.Join(cfg.DataDir, service.RecordFile))
	switch {
	case pending:
	case runtime.GOOS == "windows":
		fmt.Fprintf(c.stdout, "Start it with: sc.exe start %s\n", spec.Name)
	default:
		fmt.Fprintf(c.stdout, "Start it with: systemctl start %s\n", spec.Name)
	}
	return nil
}

func (c *ServiceCommand) uninstall(ctx context.Context, m service.Manager, cfg *Config, o serviceOptions) error {
	if err := m.Uninstall(ctx, o.name); err != nil {
		if errors.Is(err, service.ErrNotInstalled) {
			return fmt.Errorf("%w (see izytroniq service status)", err)
		}
		return fmt.Errorf("uninstall service %s: %w", o.name, err)
	}
	// The record goes too: a service removed on purpose is not a vanished one.
	if rec, err := service.LoadRecord(cfg.DataDir); err == nil && rec.Name == o.name {
		if err := service.RemoveRecord(cfg.DataDir); err != nil {
			return err
		}
	}
	if o.asJSON {
		return writeJSON(c.stdout, map[string]any{"name": o.name, "uninstalled": true})
	}
	fmt.Fprintf(c.stdout, "Removed service %s.\n", o.name)
	return nil
}

func (c *ServiceCommand) status(ctx context.Context, m service.Manager, cfg *Config, o serviceOptions) error {
	return c.printStatus(ctx, m, cfg, o)
}

func (c *ServiceCommand) printStatus(ctx context.Context, m service.Manager, cfg *Config, o serviceOptions) error {
	problems, st, err := service.Diagnose(ctx, m, cfg.DataDir, o.name)
	if err != nil {
		return fmt.Errorf("service status: %w", err)
	}
	s := ServiceStatus{Status: st, Problems: problems}
	if s.Problems == nil {
		s.Problems = []service.Problem{}
	}
	if bin, err := thisBinary(); err == nil {
		s.ThisBinary = bin
		s.MatchesThisBinary = st.Installed && st.BinaryPath == bin
	}
	if rec, err := service.LoadRecord(cfg.DataDir); err == nil && rec.Name == o.name {
		s.RecordedUser = rec.User
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if o.asJSON {
		return writeJSON(c.stdout, s)
	}
	tw := newTable(c.stdout)
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(tw, "service\t%s\n", s.Name)
	fmt.Fprintf(tw, "installed\t%s\n", yesNo(s.Installed))
	if s.Installed {
		fmt.Fprintf(tw, "registration\t%s\n", s.Location)
		missing := ""
		if !s.BinaryExists {
			missing = " (missing)"
		}
		fmt.Fprintf(tw, "binary\t%s%s\n", s.BinaryPath, missing)
		fmt.Fprintf(tw, "arguments\t%s\n", strings.Join(s.Args, " "))
		fmt.Fprintf(tw, "account\t%s\n", s.User)
		fmt.Fprintf(tw, "running\t%s (%s)\n", yesNo(s.Running), s.State)
		fmt.Fprintf(tw, "runs this binary\t%s (%s)\n", yesNo(s.MatchesThisBinary), s.ThisBinary)
	}
	if s.RecordedUser != "" {
		fmt.Fprintf(tw, "recorded account\t%s\n", s.RecordedUser)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range s.Problems {
		fmt.Fprintf(c.stdout, "\nproblem: %s\n  fix: %s\n", p.Message, p.Fix)
	}
	return nil
}

// thisBinary is the running executable with symbolic links resolved, so the service
// names the versioned file rather than a link an update moves.
func thisBinary() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary: %w (name it with --binary)", err)
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Abs(p)
}
