package transfer_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/transfer"
)

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-0/1", "bytes 0-9/10", "bytes 10-19/1000", "BYTES 1-2/3", "bytes 0-9", "bytes=0-9/10",
		"bytes */10", "bytes 0-9/*", "bytes -1-2/3", "bytes 9-0/10", "bytes 0-10/10", "bytes 00-09/010",
		"bytes 9223372036854775806-9223372036854775806/9223372036854775807", "bytes 99999999999999999999-1/2",
		"bytes 1 -2/3", " bytes 1-2/3", "bytes\t1-2/3", "bytes 1-2/3\x00", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		start, end, total, err := transfer.ParseContentRange(h)
		if err != nil {
			if izy.ErrorCode(err) != izy.EINVALID || izy.ErrorMessage(err) == "" {
				t.Fatalf("%q: error %v, want EINVALID with a message", h, err)
			}
			return
		}
		if start < 0 || end < start || end >= total {
			t.Fatalf("%q: accepted %d-%d/%d", h, start, end, total)
		}
		// What was accepted is the canonical form, up to the unit's case and leading zeros.
		canon := fmt.Sprintf("bytes %d-%d/%d", start, end, total)
		unit, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(unit, "bytes") || trimZeros(rest) != canon[len("bytes "):] {
			t.Fatalf("%q: accepted as %q", h, canon)
		}
		s2, e2, t2, err := transfer.ParseContentRange(canon)
		if err != nil || s2 != start || e2 != end || t2 != total {
			t.Fatalf("%q: canonical form %q parses as %d-%d/%d, %v", h, canon, s2, e2, t2, err)
		}
	})
}

// trimZeros drops the leading zeros of the numbers in "START-END/TOTAL".
func trimZeros(s string) string {
	var b strings.Builder
	lead := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '/' {
			if lead {
				b.WriteByte('0')
			}
			b.WriteByte(c)
			lead = true
			continue
		}
		if lead && c == '0' {
			continue
		}
		lead = false
		b.WriteByte(c)
	}
	if lead {
		b.WriteByte('0')
	}
	return b.String()
}

// Whatever a request names, a path is built only for a well-formed name, and then it is
// local, plain, and has exactly the store's shape.
func FuzzNames(f *testing.F) {
	for _, s := range []string{
		"0190a000-0000-7000-8000-00000000a11c", strings.Repeat("ab", 32), "..", "../x", "/etc/passwd",
		`..\..\x`, "C:", "a\x00b", "%2e%2e", strings.Repeat("AB", 32), "0190A000-0000-7000-8000-00000000A11C",
		strings.Repeat("ab", 31) + "/.", "0190a000-0000-7000-8000-00000000a11c/..",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		check := func(kind, p string, err error, want []string) {
			if err != nil {
				if izy.ErrorCode(err) != izy.EINVALID {
					t.Fatalf("%s %q: error %v, want EINVALID", kind, name, err)
				}
				return
			}
			if !filepath.IsLocal(p) || filepath.Clean(p) != p {
				t.Fatalf("%s %q: path %q is not a plain local path", kind, name, p)
			}
			if got := strings.Split(filepath.ToSlash(p), "/"); !slices.Equal(got, want) {
				t.Fatalf("%s %q: path %q, want %q", kind, name, p, want)
			}
		}
		p, err := transfer.BlobPath(name)
		if (err == nil) != transfer.ValidSHA256(name) {
			t.Fatalf("blob %q: path error %v, valid %v", name, err, transfer.ValidSHA256(name))
		}
		if err == nil {
			check("blob", p, err, []string{"sha256", name[:2], name[2:4], name})
			for _, c := range name {
				if !strings.ContainsRune("0123456789abcdef", c) {
					t.Fatalf("blob %q accepted", name)
				}
			}
		}
		p, err = transfer.SessionPath(name)
		if (err == nil) != transfer.ValidSessionID(name) {
			t.Fatalf("session %q: path error %v, valid %v", name, err, transfer.ValidSessionID(name))
		}
		if err == nil {
			check("session", p, err, []string{"sessions", name, "data"})
			if len(name) != 36 || strings.Trim(name, "0123456789abcdef-") != "" {
				t.Fatalf("session %q accepted", name)
			}
		}
	})
}

func TestAddRange(t *testing.T) {
	type R = transfer.Range
	for _, tc := range []struct {
		in   []R
		add  R
		want []R
	}{
		{nil, R{5, 9}, []R{{5, 9}}},
		{[]R{{0, 4}}, R{5, 9}, []R{{0, 9}}},
		{[]R{{5, 9}}, R{0, 4}, []R{{0, 9}}},
		{[]R{{0, 2}, {8, 9}}, R{4, 5}, []R{{0, 2}, {4, 5}, {8, 9}}},
		{[]R{{0, 2}, {4, 5}, {8, 9}}, R{3, 7}, []R{{0, 9}}},
		{[]R{{0, 2}, {8, 9}}, R{1, 1}, []R{{0, 2}, {8, 9}}},
		{[]R{{3, 4}}, R{0, 100}, []R{{0, 100}}},
		{[]R{{0, 1}, {10, 11}, {20, 21}}, R{11, 19}, []R{{0, 1}, {10, 21}}},
	} {
		got := transfer.AddRange(tc.in, tc.add)
		if !slices.Equal(got, tc.want) {
			t.Errorf("AddRange(%v, %v) = %v, want %v", tc.in, tc.add, got, tc.want)
		}
	}
}
