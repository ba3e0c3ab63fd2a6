package release

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseManifest(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(m *Manifest)
		msg  string // "" when valid
	}{
		{"valid", func(*Manifest) {}, ""},
		{"with intermediate", func(m *Manifest) { m.MinUpgradeFrom = "1.5.0" }, ""},
		{"newer format", func(m *Manifest) { m.Format = 2 }, "newer than this program"},
		{"no format", func(m *Manifest) { m.Format = 0 }, "not supported"},
		{"other product", func(m *Manifest) { m.Product = "izytron.iq" }, "product"},
		{"bad version", func(m *Manifest) { m.Version = "2.0" }, "MAJOR.MINOR.PATCH"},
		{"intermediate not older", func(m *Manifest) { m.MinUpgradeFrom = "2.0.0" }, "not older"},
		{"no protocols", func(m *Manifest) { m.ProtocolVersions = nil }, "protocol_versions"},
		{"no files", func(m *Manifest) { m.Files = nil }, "no files"},
		{"unsafe path", func(m *Manifest) { m.Files[0].Path = "../izytroniq" }, "leaves"},
		{"reserved name", func(m *Manifest) { m.Files[0].Path = ManifestName }, "reserved"},
		{"duplicate by case", func(m *Manifest) { m.Files[1].Path = "LINUX-amd64/izytroniq" }, "twice"},
		{"bad sha", func(m *Manifest) { m.Files[0].SHA256 = "abc" }, "sha256"},
		{"upper-case sha", func(m *Manifest) { m.Files[0].SHA256 = strings.ToUpper(m.Files[0].SHA256) }, "sha256"},
		{"negative size", func(m *Manifest) { m.Files[0].Size = -1 }, "size"},
		{"bad os", func(m *Manifest) { m.Files[0].OS = "Linux" }, "platform"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := fakeManifest()
			tt.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseManifest(b)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("ParseManifest: %v", err)
				}
				if diff := cmp.Diff(m, got); diff != "" {
					t.Errorf("manifest (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrMalformed mentioning %q", err, tt.msg)
			}
		})
	}
	for _, bad := range []string{"", "null", "[]", `{"format":1}{}`, `{"format":"1"}`} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("ParseManifest(%q) accepted it", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	privPath, pubPath, err := WriteKeyPair(dir, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("private key mode = %v, want %v", got, want)
	}
	gotPriv, err := ReadPrivateKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if !gotPriv.Equal(priv) {
		t.Error("private key does not round-trip")
	}
	gotPubs, err := ReadPublicKeys(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotPubs) != 1 || !gotPubs[0].Equal(pub) {
		t.Error("public key does not round-trip")
	}
	if got, want := len(KeyID(pub)), 16; got != want {
		t.Errorf("key id length = %d, want %d", got, want)
	}
	pubText, _ := os.ReadFile(pubPath)
	if !bytes.Contains(pubText, []byte("Key-Id: "+KeyID(pub))) {
		t.Errorf("public key file does not name its key id:\n%s", pubText)
	}
	if _, _, err := WriteKeyPair(dir, pub, priv); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteKeyPair: err = %v, want already exists", err)
	}

	other, _ := testKey(3)
	both := append(MarshalPublicKey(pub), MarshalPublicKey(other)...)
	if keys, err := ParsePublicKeys(both); err != nil || len(keys) != 2 {
		t.Errorf("two keys in one file: %d keys, err %v", len(keys), err)
	}
	privText, _ := os.ReadFile(privPath)
	for _, tt := range []struct {
		name string
		err  error
		msg  string
	}{
		{"private key as trust", func() error { _, err := ParsePublicKeys(privText); return err }(), "private"},
		{"public key as signing key", func() error { _, err := ParsePrivateKey(pubText); return err }(), "public"},
		{"empty trust", func() error { _, err := ParsePublicKeys(nil); return err }(), "no"},
		{"trailing junk", func() error { _, err := ParsePublicKeys(append(bytes.Clone(pubText), "junk"...)); return err }(), "unexpected"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, tt.err, tt.msg)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	good, _ := json.Marshal(fakeManifest())
	f.Add(good)
	f.Add([]byte(`{"format":1,"product":"izytroniq","version":"1.0.0","protocol_versions":[1],"files":[{"path":"../x"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if checkPath(file.Path) != nil {
				t.Fatalf("accepted unsafe path %q", file.Path)
			}
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(again)
		if err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v", err)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzOpen(f *testing.F) {
	pub, priv := testKey(0)
	f.Add(packBytes(f, fakeEntries(f, priv)))
	f.Add(packBytes(f, []entry{{name: "../x", data: []byte("x")}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPackage(bytes.NewReader(data), []ed25519.PublicKey{pub}, nil)
		if err != nil {
			return
		}
		// Anything accepted is signed by pub and safe to extract.
		if !ed25519.Verify(pub, p.ManifestBytes, mustSig(t, p.SignatureData)) {
			t.Fatal("accepted a manifest the key did not sign")
		}
	})
}

func mustSig(t *testing.T, data []byte) []byte {
	var s Signature
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	b, _ := base64.StdEncoding.DecodeString(s.Signature)
	return b
}
