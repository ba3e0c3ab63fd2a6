package clientrel

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/release"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"linux/amd64", true},
		{"windows/arm64", true},
		{"linux", false},
		{"linux/", false},
		{"/amd64", false},
		{"linux/amd64/x", false},
		{"../amd64", false},
		{"linux/..", false},
		{"linux/%2e%2e", false},
		{"linux%2Famd64", false},
		{`linux\amd64`, false},
		{"Linux/amd64", false},
		{"linux/amd 64", false},
		{"/etc/passwd", false},
		{"linux/" + strings.Repeat("a", 33), false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePlatform(tc.in)
			if got := err == nil; got != tc.ok {
				t.Fatalf("ParsePlatform(%q) err = %v, want ok %v", tc.in, err, tc.ok)
			}
			if err == nil && p.String() != tc.in {
				t.Errorf("String() = %q, want %q", p.String(), tc.in)
			}
			if err != nil && izy.ErrorCode(err) != izy.EINVALID {
				t.Errorf("code = %q, want %q", izy.ErrorCode(err), izy.EINVALID)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1.2.3", true},
		{"0.1.0-dev", true},
		{"2.0.0-rc.1", true},
		{"v1.2.3", false},
		{"01.2.3", false},
		{"1.2", false},
		{"1.2.3+build.7", false},
		{"1.2.3-a..b", false},
		{"../1.2.3", false},
		{"1.2.3/..", false},
		{"1.2.3%2F", false},
		{"/1.2.3", false},
		{"", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseVersion(tc.in)
			if got := err == nil; got != tc.ok {
				t.Fatalf("ParseVersion(%q) err = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

// FuzzParsePlatform: whatever is accepted is a single safe path element pair and
// round-trips.
func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "windows/arm64", "../x", "a/b/c", "linux/%2e", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePlatform(%q).String() = %q", s, p.String())
		}
		for _, part := range []string{p.OS, p.Arch, p.dir()} {
			if !filepath.IsLocal(part) || strings.ContainsAny(part, `/\.%:`) {
				t.Fatalf("ParsePlatform(%q) gives unsafe path element %q", s, part)
			}
		}
	})
}

// FuzzParseVersion: whatever is accepted is canonical, a safe directory name, and
// compares equal to itself.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "0.1.0-dev", "1.0.0-rc.1", "../1.2.3", "1.2.3+x", "v1.0.0", "1.2.3-a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.String() != s {
			t.Fatalf("ParseVersion(%q) is not canonical: %q", s, v.String())
		}
		if !filepath.IsLocal(s) || strings.ContainsAny(s, `/\%:`) || s == "." || strings.Contains(s, "..") {
			t.Fatalf("ParseVersion(%q) accepts an unsafe directory name", s)
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%q does not compare equal to itself", s)
		}
	})
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

var linux = Platform{OS: "linux", Arch: "amd64"}

func publish(t *testing.T, dir string, o PublishOptions) *PublishResult {
	t.Helper()
	res, err := Publish(dir, o)
	if err != nil {
		t.Fatalf("Publish %s %s: %v", o.Version, o.Platform, err)
	}
	return res
}

func TestPublish(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "client-releases")
	key := newKey(t)
	bin := []byte("izy build 1.2.0")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	res := publish(t, dir, PublishOptions{Binary: bin, Version: "1.2.0", Platform: linux, Key: key, Now: now})
	sum := sha256.Sum256(bin)
	if got, want := res.Entry.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("sha256 = %s, want %s", got, want)
	}
	if res.Unchanged || res.Current != "1.2.0" || res.Minimum != "" {
		t.Errorf("first publish = %+v, want current 1.2.0, no minimum", res)
	}
	got, err := os.ReadFile(filepath.Join(dir, "1.2.0", "linux-amd64", "izy"))
	if err != nil || string(got) != string(bin) {
		t.Fatalf("stored build = %q, %v", got, err)
	}

	t.Run("manifest is signed", func(t *testing.T) {
		mb, _ := os.ReadFile(filepath.Join(dir, "1.2.0", "linux-amd64", ManifestName))
		sb, _ := os.ReadFile(filepath.Join(dir, "1.2.0", "linux-amd64", SignatureName))
		pb, _ := os.ReadFile(filepath.Join(dir, "1.2.0", "linux-amd64", PublicKeyName))
		keys, err := release.ParsePublicKeys(pb)
		if err != nil {
			t.Fatal(err)
		}
		m, id, err := Verify(mb, sb, keys)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if m.Version != "1.2.0" || m.Size != int64(len(bin)) || m.SHA256 != res.Entry.SHA256 || !m.PublishedAt.Equal(now) || id != release.KeyID(keys[0]) {
			t.Errorf("manifest = %+v (key %s)", m, id)
		}
		tampered := []byte(strings.Replace(string(mb), res.Entry.SHA256, strings.Repeat("0", 64), 1))
		if _, _, err := Verify(tampered, sb, keys); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify of a tampered manifest: err = %v, want ErrBadSignature", err)
		}
		other := newKey(t).Public().(ed25519.PublicKey)
		if _, _, err := Verify(mb, sb, []ed25519.PublicKey{other}); !errors.Is(err, ErrUntrustedKey) {
			t.Errorf("Verify with another key: err = %v, want ErrUntrustedKey", err)
		}
	})

	t.Run("same bytes again is idempotent", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(dir, IndexName))
		res := publish(t, dir, PublishOptions{Binary: bin, Version: "1.2.0", Platform: linux, Key: key, Now: now.Add(time.Hour)})
		if !res.Unchanged {
			t.Errorf("re-publish = %+v, want unchanged", res)
		}
		after, _ := os.ReadFile(filepath.Join(dir, IndexName))
		if string(before) != string(after) {
			t.Errorf("index changed on an idempotent publish:\n%s\n→\n%s", before, after)
		}
	})

	t.Run("different bytes refused", func(t *testing.T) {
		_, err := Publish(dir, PublishOptions{Binary: []byte("other"), Version: "1.2.0", Platform: linux, Key: key})
		if izy.ErrorCode(err) != izy.ECONFLICT || !strings.Contains(err.Error(), "already published") {
			t.Fatalf("err = %v, want a conflict: already published", err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "1.2.0", "linux-amd64", "izy"))
		if string(got) != string(bin) {
			t.Errorf("the stored build was changed to %q", got)
		}
	})

	t.Run("minimum raised, never lowered", func(t *testing.T) {
		res := publish(t, dir, PublishOptions{Binary: []byte("izy 1.3.0 win"), Version: "1.3.0", Platform: Platform{"windows", "amd64"}, Key: key, Minimum: true})
		if res.Current != "1.3.0" || res.Minimum != "1.3.0" {
			t.Fatalf("publish --minimum = %+v", res)
		}
		if res.Path != filepath.Join(dir, "1.3.0", "windows-amd64", "izy.exe") {
			t.Errorf("windows path = %s", res.Path)
		}
		_, err := Publish(dir, PublishOptions{Binary: []byte("izy 1.2.5"), Version: "1.2.5", Platform: linux, Key: key, Minimum: true})
		if izy.ErrorCode(err) != izy.ECONFLICT || !strings.Contains(err.Error(), "never lowered") {
			t.Fatalf("lowering the minimum: err = %v", err)
		}
		// An older build without --minimum is fine and leaves current and minimum alone.
		res = publish(t, dir, PublishOptions{Binary: []byte("izy 1.2.5"), Version: "1.2.5", Platform: linux, Key: key})
		if res.Current != "1.3.0" || res.Minimum != "1.3.0" {
			t.Errorf("publish of an older build = %+v", res)
		}
		x, err := ReadIndex(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(x.Releases), 3; got != want {
			t.Fatalf("releases = %d, want %d", got, want)
		}
		if e := x.Latest(linux); e == nil || e.Version != "1.2.5" {
			t.Errorf("latest for linux = %+v, want 1.2.5", e)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for name, o := range map[string]PublishOptions{
			"empty":       {Binary: nil, Version: "2.0.0", Platform: linux, Key: key},
			"bad version": {Binary: bin, Version: "v2.0.0", Platform: linux, Key: key},
			"bad os":      {Binary: bin, Version: "2.0.0", Platform: Platform{"..", "amd64"}, Key: key},
			"no key":      {Binary: bin, Version: "2.0.0", Platform: linux},
		} {
			if _, err := Publish(dir, o); err == nil {
				t.Errorf("%s: published", name)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "2.0.0")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused publish left %s: %v", filepath.Join(dir, "2.0.0"), err)
		}
	})
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	s := Open(dir)
	s.index.interval = 0 // look at the file on every call
	if cur, minimum := s.Versions(); cur != "" || minimum != "" {
		t.Fatalf("empty store versions = %q, %q", cur, minimum)
	}
	if _, err := s.Latest("linux/amd64"); izy.ErrorCode(err) != izy.ENOTFOUND {
		t.Fatalf("Latest on an empty store: %v, want not found", err)
	}
	publish(t, dir, PublishOptions{Binary: []byte("one"), Version: "1.0.0", Platform: linux, Key: key})
	if cur, minimum := s.Versions(); cur != "1.0.0" || minimum != "" {
		t.Fatalf("after a publish: versions = %q, %q", cur, minimum)
	}
	publish(t, dir, PublishOptions{Binary: []byte("two!"), Version: "1.1.0", Platform: linux, Key: key, Minimum: true})
	if cur, minimum := s.Versions(); cur != "1.1.0" || minimum != "1.1.0" {
		t.Fatalf("after a second publish: versions = %q, %q", cur, minimum)
	}
	rel, err := s.Latest("linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Entry.Version != "1.1.0" || len(rel.Manifest) == 0 || len(rel.Signature) == 0 || len(rel.PublicKey) == 0 {
		t.Fatalf("Latest = %+v", rel.Entry)
	}
	f, e, err := s.OpenBinary("1.1.0", "linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "two!" || e.Size != 4 {
		t.Errorf("OpenBinary = %q, %+v", b, e)
	}

	t.Run("path tricks", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range [][3]string{
			{"..", "linux", "amd64"},
			{"../1.1.0", "linux", "amd64"},
			{"1.1.0", "..", "amd64"},
			{"1.1.0", "linux", "../../secret"},
			{"1.1.0", "linux%2F..", "amd64"},
			{"/etc", "linux", "amd64"},
			{"1.1.0", "/etc", "passwd"},
			{"1.0.1", "linux", "amd64"}, // well-formed, not published
			{"1.1.0", "windows", "amd64"},
		} {
			f, _, err := s.OpenBinary(tc[0], tc[1], tc[2])
			if err == nil {
				f.Close()
				t.Errorf("OpenBinary(%q, %q, %q) opened a file", tc[0], tc[1], tc[2])
			}
		}
	})

	t.Run("a broken index keeps the last good versions", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, IndexName), []byte("{broken"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Index(); err == nil {
			t.Errorf("Index of a broken file: no error")
		}
		if cur, minimum := s.Versions(); cur != "1.1.0" || minimum != "1.1.0" {
			t.Errorf("versions after the index broke = %q, %q, want the last good ones", cur, minimum)
		}
	})
}
