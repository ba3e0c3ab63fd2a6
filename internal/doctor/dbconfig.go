package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/izytroniq/izytroniq/internal/atomicfile"
)

// DatabaseSettings is a configuration's [database] section.
type DatabaseSettings struct {
	DSN     string `toml:"dsn"`
	DSNFile string `toml:"dsn_file"`
}

// Empty reports whether the section names no database.
func (s DatabaseSettings) Empty() bool {
	return strings.TrimSpace(s.DSN) == "" && strings.TrimSpace(s.DSNFile) == ""
}

// ReadDatabaseSettings reads the [database] section of the configuration file path.
func ReadDatabaseSettings(path string) (DatabaseSettings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return DatabaseSettings{}, err
	}
	var c struct {
		Database DatabaseSettings `toml:"database"`
	}
	if _, err := toml.Decode(string(b), &c); err != nil {
		return DatabaseSettings{}, fmt.Errorf("%s: %w", path, err)
	}
	return c.Database, nil
}

// ResolveDSN is the DSN s names, with relative paths taken against dir (the
// configuration's directory): the dsn, or the content of dsn_file.
func (s DatabaseSettings) ResolveDSN(dir string) (string, error) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) || IsPostgres(p) || strings.HasPrefix(p, "file:") {
			return p
		}
		return filepath.Join(dir, strings.TrimPrefix(p, "sqlite:"))
	}
	if s.DSN != "" {
		return rel(s.DSN), nil
	}
	if s.DSNFile == "" {
		return "", errors.New("no database setting")
	}
	b, err := os.ReadFile(rel(s.DSNFile))
	if err != nil {
		return "", err
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("%s is empty", rel(s.DSNFile))
	}
	return rel(dsn), nil
}

// sectionSpan returns the byte range of the [database] table in a TOML file: from its
// header to the last setting before the next table (comments and blank lines in front of
// the next table belong to it). ok is false when there is none.
func sectionSpan(b []byte, name string) (start, end int, ok bool) {
	lines := bytes.SplitAfter(b, []byte("\n"))
	off := 0
	in := false
	lastContent := 0
	for _, l := range lines {
		t := strings.TrimSpace(string(l))
		if strings.HasPrefix(t, "[") {
			h := strings.TrimSpace(t)
			if i := strings.Index(h, "#"); i >= 0 {
				h = strings.TrimSpace(h[:i])
			}
			h = strings.TrimSpace(strings.Trim(h, "[]"))
			if in {
				return start, lastContent, true
			}
			if h == name && !strings.HasPrefix(t, "[[") {
				in, start, lastContent = true, off, off+len(l)
			}
		} else if in && t != "" && !strings.HasPrefix(t, "#") {
			lastContent = off + len(l)
		}
		off += len(l)
	}
	if in {
		return start, lastContent, true
	}
	return 0, 0, false
}

// DatabaseSection returns the text of the [database] table of a TOML file ("" if none).
func DatabaseSection(b []byte) string {
	s, e, ok := sectionSpan(b, "database")
	if !ok {
		return ""
	}
	return string(b[s:e])
}

// ReplaceDatabaseSection returns cur with its [database] table replaced by the one in
// from; every other byte stays. Without a table in cur, from's is appended.
func ReplaceDatabaseSection(cur, from []byte) ([]byte, error) {
	sec := DatabaseSection(from)
	if sec == "" {
		return nil, errors.New("the backup's configuration has no [database] section")
	}
	if !strings.HasSuffix(sec, "\n") {
		sec += "\n"
	}
	s, e, ok := sectionSpan(cur, "database")
	if !ok {
		out := append([]byte{}, cur...)
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		return append(append(out, '\n'), sec...), nil
	}
	out := append([]byte{}, cur[:s]...)
	out = append(out, sec...)
	return append(out, cur[e:]...), nil
}

// SectionDiff shows the lines of the [database] section before and after, as a
// unified-diff-like list ("-" removed, "+" added), with passwords hidden.
func SectionDiff(before, after []byte) []string {
	old := strings.Split(strings.TrimRight(DatabaseSection(before), "\n"), "\n")
	nw := strings.Split(strings.TrimRight(DatabaseSection(after), "\n"), "\n")
	var out []string
	for _, l := range old {
		if l != "" && !contains(nw, l) {
			out = append(out, "- "+redactLine(l))
		}
	}
	for _, l := range nw {
		if l != "" && !contains(old, l) {
			out = append(out, "+ "+redactLine(l))
		}
	}
	return out
}

func contains(ls []string, s string) bool {
	for _, l := range ls {
		if l == s {
			return true
		}
	}
	return false
}

// redactLine hides a password inside a quoted PostgreSQL DSN on a line.
func redactLine(l string) string {
	i := strings.Index(l, "postgres")
	if i < 0 {
		return l
	}
	j := strings.IndexAny(l[i:], `"'`)
	if j < 0 {
		return l[:i] + Redact(l[i:])
	}
	return l[:i] + Redact(l[i:i+j]) + l[i+j:]
}

// WriteConfig writes b to path atomically (a temporary file renamed over it), after
// copying the current file to path.bak. The file keeps its mode.
func WriteConfig(path string, b []byte) (backupPath string, err error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	backupPath = path + ".bak"
	if err := atomicfile.WriteFile(backupPath, old, fi.Mode().Perm()); err != nil {
		return "", fmt.Errorf("keep a copy of the configuration: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, fi.Mode().Perm()); err != nil {
		return "", fmt.Errorf("write the configuration: %w", err)
	}
	return backupPath, nil
}
