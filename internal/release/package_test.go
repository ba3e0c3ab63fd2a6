package release

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

func TestBuildOpenExtract(t *testing.T) {
	path, m := realPackage(t)
	pub, _ := testKey(0)
	if got, want := filepath.Base(path), "izytroniq-1.2.3.tar.gz"; got != want {
		t.Errorf("package name = %q, want %q", got, want)
	}
	p, err := Open(path, []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatalf("Open: %v\nbuild log:\n%s", err, realLog.String())
	}
	if got, want := p.KeyID, KeyID(pub); got != want {
		t.Errorf("KeyID = %q, want %q", got, want)
	}
	if got, want := p.Manifest.Version, realVersion; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	if got, want := p.Manifest.SchemaVersion, sqldb.LatestSchemaVersion(); got != want {
		t.Errorf("schema_version = %d, want %d", got, want)
	}
	if !slices.Contains(p.Manifest.ProtocolVersions, izy.ProtocolVersion) {
		t.Errorf("protocol_versions = %v, want to include %d", p.Manifest.ProtocolVersions, izy.ProtocolVersion)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, " "), "linux-amd64/izytroniq linux-amd64/izy"; got != want {
		t.Errorf("files = %q, want %q", got, want)
	}
	if !strings.Contains(realLog.String(), "signed manifest") {
		t.Errorf("no progress lines:\n%s", realLog.String())
	}

	dir := filepath.Join(t.TempDir(), "stage", realVersion)
	if err := p.Extract(dir); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	out, err := exec.Command(filepath.Join(dir, "linux-amd64", "izytroniq"), "version", "--json").Output()
	if err != nil {
		t.Fatalf("run extracted server: %v", err)
	}
	var v struct{ Version string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if got, want := v.Version, realVersion; got != want {
		t.Errorf("extracted server says version %q, want %q", got, want)
	}
	mb, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil || !bytes.Equal(mb, p.ManifestBytes) {
		t.Errorf("extracted manifest differs from the verified one (err %v)", err)
	}

	t.Run("a version is built once", func(t *testing.T) {
		_, priv := testKey(0)
		_, _, err := Build(t.Context(), BuildOptions{SourceDir: "../..", Version: realVersion, OutDir: filepath.Dir(path), SigningKey: priv})
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("second Build of %s: err = %v, want already exists", realVersion, err)
		}
	})
}

func TestBuildOptions(t *testing.T) {
	_, priv := testKey(0)
	for _, tt := range []struct {
		name string
		opts BuildOptions
		want string
	}{
		{"no key", BuildOptions{Version: "1.0.0"}, "signing key"},
		{"bad version", BuildOptions{Version: "v1.0", SigningKey: priv}, "leading"},
		{"min not older", BuildOptions{Version: "1.0.0", MinUpgradeFrom: "1.0.0", SigningKey: priv}, "must be older"},
		{"no go.mod", BuildOptions{Version: "1.0.0", SourceDir: t.TempDir(), SigningKey: priv}, "go.mod"},
		{"bad platform", BuildOptions{Version: "1.0.0", Platforms: []Platform{{"Linux", "amd64"}}, SigningKey: priv}, "GOOS/GOARCH"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.OutDir = t.TempDir()
			_, _, err := Build(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build: err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestOpenFake(t *testing.T) {
	pub, priv := testKey(0)
	p, err := Open(writePackage(t, fakeEntries(t, priv)), []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	win := p.Manifest.FilesFor("windows", "amd64")
	if got, want := len(win), 2; got != want {
		t.Fatalf("windows files = %d, want %d", got, want)
	}
	if got, want := win[0].Path, "windows-amd64/izytroniq.exe"; got != want {
		t.Errorf("windows server = %q, want %q", got, want)
	}
}

func TestOpenRefuses(t *testing.T) {
	pub, priv := testKey(0)
	otherPub, otherPriv := testKey(1)
	defer setLimits(1<<10, 4<<10)()
	good := func() []entry { return fakeEntries(t, priv) }
	with := func(edit func([]entry) []entry) func() []entry {
		return func() []entry { return edit(good()) }
	}
	evil := func(e entry) func() []entry { // a signed package plus one hostile entry
		return with(func(es []entry) []entry { return append(es[:2:2], append([]entry{e}, es[2:]...)...) })
	}
	for _, tt := range []struct {
		name    string
		entries func() []entry
		trusted []ed25519.PublicKey
		want    error
		msg     string
	}{
		{"unsigned", with(func(es []entry) []entry { return append(es[:1:1], es[2:]...) }), nil, ErrUnsigned, "no manifest.sig"},
		{"unsigned, manifest only", with(func(es []entry) []entry { return es[:1] }), nil, ErrUnsigned, "no manifest.sig"},
		{"untrusted key", func() []entry { return fakeEntries(t, otherPriv) }, nil, ErrUntrustedKey, KeyID(otherPub)},
		{"tampered manifest byte", with(func(es []entry) []entry {
			es[0].data = bytes.Replace(es[0].data, []byte(`"schema_version": 3`), []byte(`"schema_version": 4`), 1)
			return es
		}), nil, ErrBadSignature, "changed after signing"},
		{"tampered file", with(func(es []entry) []entry {
			es[3].data = bytes.Clone(es[3].data)
			es[3].data[0] ^= 1
			return es
		}), nil, ErrMismatch, "SHA-256"},
		{"file of another size", with(func(es []entry) []entry { es[3].data = append(es[3].data, '!'); return es }), nil, ErrMismatch, "bytes"},
		{"missing file", with(func(es []entry) []entry { return es[:len(es)-1] }), nil, ErrMismatch, "missing"},
		{"extra file", evil(entry{name: "linux-amd64/extra", data: []byte("x")}), nil, ErrMismatch, "not listed"},
		{"duplicate file", with(func(es []entry) []entry { return append(es, es[2]) }), nil, ErrUnsafe, "twice"},
		{"manifest not first", with(func(es []entry) []entry { es[0], es[2] = es[2], es[0]; return es }), nil, ErrMalformed, "first entry"},
		{"parent path", evil(entry{name: "../x", data: []byte("x")}), nil, ErrUnsafe, "leaves"},
		{"parent path inside", evil(entry{name: "linux-amd64/../../x", data: []byte("x")}), nil, ErrUnsafe, "leaves"},
		{"parent path first", func() []entry { return []entry{{name: "../x", data: []byte("x")}} }, nil, ErrUnsafe, "leaves"},
		{"absolute path", evil(entry{name: "/etc/cron.d/x", data: []byte("x")}), nil, ErrUnsafe, "absolute"},
		{"windows drive", evil(entry{name: "C:/Windows/x", data: []byte("x")}), nil, ErrUnsafe, "drive"},
		{"backslash", evil(entry{name: `..\x`, data: []byte("x")}), nil, ErrUnsafe, "backslash"},
		{"dot path", evil(entry{name: "./x", data: []byte("x")}), nil, ErrUnsafe, "not clean"},
		{"symlink", evil(entry{name: "linux-amd64/izytroniq", typeflag: tar.TypeSymlink, linkname: "/bin/sh"}), nil, ErrUnsafe, "symbolic link"},
		{"hard link", evil(entry{name: "x", typeflag: tar.TypeLink, linkname: "/etc/passwd"}), nil, ErrUnsafe, "hard link"},
		{"directory", evil(entry{name: "linux-amd64", typeflag: tar.TypeDir}), nil, ErrUnsafe, "regular files only"},
		{"device", evil(entry{name: "dev", typeflag: tar.TypeChar}), nil, ErrUnsafe, "regular files only"},
		{"oversized entry", evil(entry{name: "big", size: 1<<10 + 1}), nil, ErrUnsafe, "at most"},
		{"huge claimed entry", evil(entry{name: "big", size: 1 << 40}), nil, ErrUnsafe, "at most"},
		{"oversized manifest", func() []entry { return []entry{{name: ManifestName, size: 2 << 20}} }, nil, ErrUnsafe, "at most"},
		{"no trusted keys", good, []ed25519.PublicKey{}, nil, "no trusted release keys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			trusted := tt.trusted
			if trusted == nil {
				trusted = []ed25519.PublicKey{pub}
			}
			_, err := Open(writePackage(t, tt.entries()), trusted)
			if err == nil {
				t.Fatal("Open accepted the package")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.msg)
			}
		})
	}

	t.Run("not gzip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.tar.gz")
		os.WriteFile(p, []byte("PK\x03\x04 a zip file"), 0o644)
		if _, err := Open(p, []ed25519.PublicKey{pub}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("damaged archive", func(t *testing.T) {
		b := packBytes(t, good())
		b[len(b)/2] ^= 0xff
		p := filepath.Join(t.TempDir(), "x.tar.gz")
		os.WriteFile(p, b, 0o644)
		if _, err := Open(p, []ed25519.PublicKey{pub}); err == nil {
			t.Fatal("Open accepted a damaged archive")
		}
	})
	t.Run("second trusted key", func(t *testing.T) {
		p, err := Open(writePackage(t, fakeEntries(t, otherPriv)), []ed25519.PublicKey{pub, otherPub})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.KeyID, KeyID(otherPub); got != want {
			t.Errorf("KeyID = %s, want %s", got, want)
		}
	})
}

// setLimits lowers the size limits for a test and returns the function restoring them.
func setLimits(file, total int64) func() {
	f, tot := maxFileSize, maxTotalSize
	maxFileSize, maxTotalSize = file, total
	return func() { maxFileSize, maxTotalSize = f, tot }
}

func TestExtract(t *testing.T) {
	pub, priv := testKey(0)
	trusted := []ed25519.PublicKey{pub}

	t.Run("round trip", func(t *testing.T) {
		p, err := Open(writePackage(t, fakeEntries(t, priv)), trusted)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "stage")
		if err := p.Extract(dir); err != nil {
			t.Fatal(err)
		}
		for _, f := range fakeFiles {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.path)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.data) {
				t.Errorf("%s = %q, want %q", f.path, got, f.data)
			}
		}
		for _, name := range []string{ManifestName, SignatureName} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s not extracted: %v", name, err)
			}
		}
	})

	t.Run("staging directory not empty", func(t *testing.T) {
		p, err := Open(writePackage(t, fakeEntries(t, priv)), trusted)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "old"), nil, 0o644)
		if err := p.Extract(dir); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("err = %v, want not empty", err)
		}
	})

	t.Run("archive swapped after Open", func(t *testing.T) {
		path := writePackage(t, fakeEntries(t, priv))
		p, err := Open(path, trusted)
		if err != nil {
			t.Fatal(err)
		}
		es := fakeEntries(t, priv)
		es[len(es)-1].data = []byte("MZ evil client, same length!!")[:len(es[len(es)-1].data)]
		os.WriteFile(path, packBytes(t, es), 0o644)
		dir := filepath.Join(t.TempDir(), "stage")
		if err := p.Extract(dir); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v, want ErrMismatch", err)
		}
		var left []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("a failed Extract left files behind: %v", left)
		}
	})

	t.Run("resigned archive swapped after Open", func(t *testing.T) {
		path := writePackage(t, fakeEntries(t, priv))
		p, err := Open(path, trusted)
		if err != nil {
			t.Fatal(err)
		}
		m := fakeManifest()
		m.Version = "2.0.1"
		me, se := signedEntries(t, m, priv)
		es := append([]entry{me, se}, fakeEntries(t, priv)[2:]...)
		os.WriteFile(path, packBytes(t, es), 0o644)
		if err := p.Extract(filepath.Join(t.TempDir(), "stage")); !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v, want ErrMismatch", err)
		}
	})
}

func TestCheckPath(t *testing.T) {
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"izytroniq", true},
		{"linux-amd64/izytroniq", true},
		{"windows-amd64/izy.exe", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{"/abs", false},
		{"a//b", false},
		{"a/", false},
		{"a/./b", false},
		{`a\b`, false},
		{"C:x", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a|b", false},
		{strings.Repeat("a", 256), false},
	} {
		if err := checkPath(tt.path); (err == nil) != tt.ok {
			t.Errorf("checkPath(%q) = %v, want ok %v", tt.path, err, tt.ok)
		}
	}
}
