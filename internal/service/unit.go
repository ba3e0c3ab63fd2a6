package service

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Unit settings that are not part of a Spec. RestartSec and LimitNOFILE are generous
// defaults for a server with many client connections.
const (
	unitRestartSec  = "5s"
	unitLimitNOFILE = "65536"
)

// RenderUnit returns the systemd unit file for spec. The service runs as spec.User,
// restarts on failure, and may write only its data directory (spec.WorkingDir).
// Type=notify with NotifyAccess=all, because the server says READY=1 once it accepts
// requests, and a process started by a hand-over (internal/handoff, triggered by
// SIGHUP, hence ExecReload=) says MAINPID= so systemd adopts it as the main process.
func RenderUnit(spec Spec) ([]byte, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateUnixUser(spec.User); err != nil {
		return nil, err
	}
	exec, err := SystemdCommandLine(spec.BinaryPath, spec.Args)
	if err != nil {
		return nil, err
	}
	desc := spec.Description
	if desc == "" {
		desc = spec.DisplayName
	}
	if desc == "" {
		desc = "Izytroniq server"
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by izytroniq service install. Updates change only the program path in")
	w("# ExecStart; uninstall and install again to change anything else.")
	w("[Unit]")
	w("Description=%s", escapeSpecifiers(desc))
	w("After=network-online.target")
	w("Wants=network-online.target")
	w("")
	w("[Service]")
	w("Type=notify")
	w("NotifyAccess=all")
	w("User=%s", spec.User)
	w("ExecStart=%s", exec)
	w("ExecReload=/bin/kill -HUP $MAINPID")
	if spec.WorkingDir != "" {
		// WorkingDirectory= is taken whole (no quotes), with specifiers expanded.
		w("WorkingDirectory=%s", escapeSpecifiers(spec.WorkingDir))
	}
	w("Restart=on-failure")
	w("RestartSec=%s", unitRestartSec)
	w("TimeoutStopSec=60s")
	w("LimitNOFILE=%s", unitLimitNOFILE)
	w("NoNewPrivileges=yes")
	w("PrivateTmp=yes")
	w("ProtectSystem=strict")
	if spec.WorkingDir != "" {
		// ReadWritePaths= is a list of words: quoted, specifiers escaped, no $ expansion.
		w("ReadWritePaths=%s", systemdQuote(spec.WorkingDir, false))
	}
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.Bytes(), nil
}

// unixUserName is what systemd and useradd accept without complaint.
var unixUserName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// ValidateUnixUser accepts a plain user name: no slashes, white space, quotes or shell
// metacharacters, which could otherwise smuggle settings into the unit file.
func ValidateUnixUser(name string) error {
	if !unixUserName.MatchString(name) || strings.HasSuffix(name, ".") {
		return fmt.Errorf("account %q is not a valid user name (letters, digits, _ . -, starting with a letter or _, at most 32 characters)", name)
	}
	if name == "root" {
		return errors.New("account root: the server must not run as root; create a system account, e.g. useradd --system --no-create-home izytroniq")
	}
	return nil
}

// SystemdCommandLine renders an ExecStart= value: the program and its arguments, each
// in double quotes. The program path may not contain variables, so only specifiers
// (%) are escaped there; in arguments $ is doubled too, so nothing is expanded.
func SystemdCommandLine(program string, args []string) (string, error) {
	if !strings.HasPrefix(program, "/") {
		return "", fmt.Errorf("program %q is not an absolute path", program)
	}
	if strings.ContainsAny(program, "\"'\\") {
		// systemd refuses such programs ("Executable name contains special characters").
		return "", fmt.Errorf("program path %q contains a quote or backslash, which systemd refuses; install the binary under a plain path", program)
	}
	words := []string{program}
	for _, a := range args {
		if a == ";" {
			// A lone ; separates commands in ExecStart=.
			return "", errors.New(`an argument may not be ";"`)
		}
		words = append(words, a)
	}
	var b strings.Builder
	for i, w := range words {
		if !utf8.ValidString(w) || strings.ContainsRune(w, 0) {
			return "", fmt.Errorf("%q is not valid UTF-8 text", w)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(systemdQuote(w, i > 0))
	}
	return b.String(), nil
}

// systemdQuote puts s in double quotes for a systemd setting that splits words with
// C-style escapes: backslash and double quote escaped, control characters as escapes,
// % as %% (specifiers), and $ as $$ when dollar is set (variables in arguments).
func systemdQuote(s string, dollar bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '%':
			b.WriteString("%%")
		case r == '$' && dollar:
			b.WriteString("$$")
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// escapeSpecifiers escapes % for settings systemd takes whole.
func escapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// splitSystemdCommandLine is the inverse of SystemdCommandLine for what it writes (and
// for unquoted words): it returns the words, and the byte offset where the first word
// ends, so Repoint can keep the rest of the line as it is.
func splitSystemdCommandLine(line string) (words []string, firstEnd int, err error) {
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		var w strings.Builder
		dollar := len(words) > 0
		var quote byte
		for i < len(line) {
			c := line[i]
			if quote == 0 && (c == ' ' || c == '\t') {
				break
			}
			switch {
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				i++
				continue
			case quote != 0 && c == quote:
				quote = 0
				i++
				continue
			case c == '%':
				if i+1 >= len(line) || line[i+1] != '%' {
					return nil, 0, fmt.Errorf("unit specifier at %q: not written by izytroniq", line[i:])
				}
				w.WriteByte('%')
				i += 2
				continue
			case c == '$' && dollar:
				if i+1 >= len(line) || line[i+1] != '$' {
					return nil, 0, fmt.Errorf("variable at %q: not written by izytroniq", line[i:])
				}
				w.WriteByte('$')
				i += 2
				continue
			case c == '\\':
				if i+1 >= len(line) {
					return nil, 0, errors.New("command line ends in a backslash")
				}
				n, adv, err := unescapeC(line[i+1:])
				if err != nil {
					return nil, 0, err
				}
				w.WriteString(n)
				i += 1 + adv
				continue
			}
			w.WriteByte(c)
			i++
		}
		if quote != 0 {
			return nil, 0, errors.New("unterminated quote in command line")
		}
		if len(words) == 0 {
			firstEnd = i
		}
		words = append(words, w.String())
	}
	if len(words) == 0 {
		return nil, 0, errors.New("empty command line")
	}
	return words, firstEnd, nil
}

// unescapeC decodes the C-style escape after a backslash (the few systemd writes and
// the common ones); it returns the text and how many bytes it used.
func unescapeC(s string) (string, int, error) {
	switch s[0] {
	case '\\', '"', '\'', ' ':
		return s[:1], 1, nil
	case 'n':
		return "\n", 1, nil
	case 't':
		return "\t", 1, nil
	case 'r':
		return "\r", 1, nil
	case 'x':
		if len(s) >= 3 {
			if v, err := strconv.ParseUint(s[1:3], 16, 8); err == nil && v != 0 && v < utf8.RuneSelf {
				return string(rune(v)), 3, nil
			}
		}
	}
	return "", 0, fmt.Errorf("unsupported escape \\%c in command line", s[0])
}
