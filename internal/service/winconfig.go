package service

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// This file is the Windows service logic that needs no Windows: the configuration a
// registration gets, the recovery actions, the quoting of its command line and what
// Repoint changes. mgr_windows.go only hands these to the service control manager, so
// they are tested on every platform.

// Values of the Win32 service API (winsvc.h), checked against golang.org/x/sys/windows
// at compile time in mgr_windows.go.
const (
	winServiceOwnProcess = 0x10 // SERVICE_WIN32_OWN_PROCESS
	winStartAutomatic    = 2    // SERVICE_AUTO_START
	winErrorNormal       = 1    // SERVICE_ERROR_NORMAL
	winActionRestart     = 1    // SC_ACTION_RESTART
)

// WindowsConfig mirrors mgr.Config, so it can be built and compared on any platform.
type WindowsConfig struct {
	ServiceType      uint32
	StartType        uint32
	ErrorControl     uint32
	BinaryPathName   string
	LoadOrderGroup   string
	TagId            uint32
	Dependencies     []string
	ServiceStartName string
	DisplayName      string
	Password         string
	Description      string
	SidType          uint32
	DelayedAutoStart bool
}

// RecoveryAction is one step of what Windows does when the service fails.
type RecoveryAction struct {
	Type  int
	Delay time.Duration
}

// WindowsRecoveryActions restart the service after 5 s, 30 s and 60 s (and 60 s for
// every later failure); the failure count resets after WindowsRecoveryReset.
func WindowsRecoveryActions() []RecoveryAction {
	return []RecoveryAction{
		{Type: winActionRestart, Delay: 5 * time.Second},
		{Type: winActionRestart, Delay: 30 * time.Second},
		{Type: winActionRestart, Delay: 60 * time.Second},
	}
}

// WindowsRecoveryReset is the failure-count reset period: one day.
const WindowsRecoveryReset = 24 * time.Hour

// NewWindowsConfig is the configuration Install creates for spec: its own process,
// started automatically after the other automatic services (delayed), as spec.User.
func NewWindowsConfig(spec Spec, password string) (WindowsConfig, error) {
	account, err := WindowsAccount(spec.User)
	if err != nil {
		return WindowsConfig{}, err
	}
	if password == "" && windowsAccountNeedsPassword(account) {
		return WindowsConfig{}, fmt.Errorf("account %s needs its password: put it in a file readable only by administrators and pass --password-file FILE", account)
	}
	cmdline, err := WindowsCommandLine(spec.BinaryPath, spec.Args)
	if err != nil {
		return WindowsConfig{}, err
	}
	display := spec.DisplayName
	if display == "" {
		display = spec.Name
	}
	return WindowsConfig{
		ServiceType:      winServiceOwnProcess,
		StartType:        winStartAutomatic,
		DelayedAutoStart: true,
		ErrorControl:     winErrorNormal,
		BinaryPathName:   cmdline,
		ServiceStartName: account,
		Password:         password,
		DisplayName:      display,
		Description:      spec.Description,
	}, nil
}

// RepointWindowsConfig returns old with only the program in BinaryPathName replaced;
// its arguments stay byte for byte. Password is cleared: the service manager does not
// return it, and an empty password in UpdateConfig means "unchanged", so the account
// and its password survive.
func RepointWindowsConfig(old WindowsConfig, binaryPath string) (WindowsConfig, error) {
	cmdline, err := RepointWindowsCommandLine(old.BinaryPathName, binaryPath)
	if err != nil {
		return WindowsConfig{}, err
	}
	c := old
	c.Dependencies = append([]string(nil), old.Dependencies...)
	c.BinaryPathName = cmdline
	c.Password = ""
	return c, nil
}

// windowsAccount: DOMAIN\user, .\user, user@domain, or a plain local user.
var windowsAccount = regexp.MustCompile(`^[A-Za-z0-9 ._$-]+(\\[A-Za-z0-9 ._$-]+|@[A-Za-z0-9.-]+)?$`)

// WindowsAccount validates name and returns it as the service manager wants it:
// a plain local user becomes .\user.
func WindowsAccount(name string) (string, error) {
	if !windowsAccount.MatchString(name) || strings.TrimSpace(name) != name || len(name) > 256 {
		return "", fmt.Errorf(`account %q is not a Windows account name (user, .\user, DOMAIN\user or user@domain)`, name)
	}
	if strings.EqualFold(name, "LocalSystem") || strings.Contains(name, `\`) || strings.Contains(name, "@") {
		return name, nil
	}
	return `.\` + name, nil
}

// windowsAccountNeedsPassword is false for the built-in, virtual and managed service
// accounts, which have no password to give.
func windowsAccountNeedsPassword(account string) bool {
	a := strings.ToLower(account)
	switch {
	case a == "localsystem", a == `nt authority\localservice`, a == `nt authority\networkservice`,
		strings.HasPrefix(a, `nt service\`), strings.HasSuffix(a, "$"):
		return false
	}
	return true
}

// WindowsCommandLine renders a service's BinaryPathName: the program, then each
// argument quoted as CommandLineToArgvW and Go's os.Args parse it (the rules of
// syscall.EscapeArg, which mgr.CreateService uses). The program is quoted whenever it
// holds a space, or Windows would try C:\Program.exe first. % is refused: the service
// manager expands %NAME% in the command line and has no escape for it.
func WindowsCommandLine(program string, args []string) (string, error) {
	if err := checkWindowsProgram(program); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(windowsQuoteArg(program))
	for _, a := range args {
		if strings.Contains(a, "%") {
			return "", fmt.Errorf("argument %q contains %%, which Windows would expand as an environment variable; move the file to a path without %%", a)
		}
		b.WriteByte(' ')
		b.WriteString(windowsQuoteArg(a))
	}
	return b.String(), nil
}

func checkWindowsProgram(p string) error {
	switch {
	case p == "":
		return errors.New("program path is empty")
	case strings.ContainsAny(p, "\"%"):
		return fmt.Errorf("program path %q contains \" or %%, which a Windows service command line cannot hold", p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 }):
		return fmt.Errorf("program path %q contains a control character", p)
	}
	return nil
}

// windowsQuoteArg quotes s for CommandLineToArgvW: quotes around s when it holds
// white space (or is empty), a backslash before each quote, and backslashes doubled
// where they come before a quote.
func windowsQuoteArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	space := strings.ContainsAny(s, " \t")
	var b strings.Builder
	if space {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	if space {
		for ; slashes > 0; slashes-- {
			b.WriteByte('\\')
		}
		b.WriteByte('"')
	}
	return b.String()
}

// RepointWindowsCommandLine replaces the program at the start of cmdline (which, by
// CommandLineToArgvW's rule for the program name, runs to the closing quote, or to the
// first blank when unquoted) and keeps the rest of the line unchanged.
func RepointWindowsCommandLine(cmdline, program string) (string, error) {
	if err := checkWindowsProgram(program); err != nil {
		return "", err
	}
	_, end, err := windowsProgram(cmdline)
	if err != nil {
		return "", err
	}
	return windowsQuoteArg(program) + cmdline[end:], nil
}

// windowsProgram returns the program of cmdline and where it ends.
func windowsProgram(cmdline string) (string, int, error) {
	if strings.HasPrefix(cmdline, `"`) {
		i := strings.IndexByte(cmdline[1:], '"')
		if i < 0 {
			return "", 0, fmt.Errorf("service command line %q: the program's closing quote is missing", cmdline)
		}
		return cmdline[1 : 1+i], i + 2, nil
	}
	end := strings.IndexAny(cmdline, " \t")
	if end < 0 {
		end = len(cmdline)
	}
	if end == 0 {
		return "", 0, fmt.Errorf("service command line %q names no program", cmdline)
	}
	return cmdline[:end], end, nil
}

// SplitWindowsCommandLine splits a BinaryPathName into program and arguments by the
// rules of CommandLineToArgvW (those Go's os.Args uses on Windows).
func SplitWindowsCommandLine(cmdline string) ([]string, error) {
	prog, end, err := windowsProgram(cmdline)
	if err != nil {
		return nil, err
	}
	args := []string{prog}
	s := cmdline[end:]
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return args, nil
		}
		var b strings.Builder
		quoted := false
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if !quoted && (c == ' ' || c == '\t') {
				break
			}
			if c == '\\' {
				n := 0
				for i < len(s) && s[i] == '\\' {
					n++
					i++
				}
				if i < len(s) && s[i] == '"' {
					b.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						b.WriteByte('"')
						continue
					}
				} else {
					b.WriteString(strings.Repeat(`\`, n))
				}
				i--
				continue
			}
			if c == '"' {
				if quoted && i+1 < len(s) && s[i+1] == '"' {
					// "" inside quotes is a literal quote (post-2008 rule).
					b.WriteByte('"')
					i++
					continue
				}
				quoted = !quoted
				continue
			}
			b.WriteByte(c)
		}
		args = append(args, b.String())
		s = s[i:]
	}
}
