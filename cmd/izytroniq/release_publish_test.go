package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	apiclient "github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/clientrel"
	"github.com/izytroniq/izytroniq/internal/release"
)

// publishSetup is a data directory with a release key and two fake izy builds.
type publishSetup struct {
	config, key, pub string
	dir              string
}

func newPublishSetup(t *testing.T) *publishSetup {
	t.Helper()
	s := &publishSetup{config: initDir(t), dir: t.TempDir()}
	mustRun(t, nil, "release", "keygen", "--out", filepath.Join(s.dir, "keys"))
	s.key, s.pub = filepath.Join(s.dir, "keys", "release.key"), filepath.Join(s.dir, "keys", "release.pub")
	return s
}

func (s *publishSetup) build(t *testing.T, name, content string) string {
	t.Helper()
	return writeFile(t, s.dir, name, content)
}

func (s *publishSetup) publish(t *testing.T, file, version, platform string, extra ...string) clientrel.PublishResult {
	t.Helper()
	args := append([]string{"release", "publish", "--config", s.config, "--file", file, "--version", version, "--platform", platform, "--key", s.key, "--json"}, extra...)
	out := mustRun(t, nil, args...)
	var res clientrel.PublishResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("publish --json: %v\n%s", err, out)
	}
	return res
}

func TestReleasePublishAndList(t *testing.T) {
	s := newPublishSetup(t)
	v1 := s.build(t, "izy-1.0.0", "izy one")
	res := s.publish(t, v1, "1.0.0", "linux/amd64")
	if res.Unchanged || res.Current != "1.0.0" || res.Minimum != "" || res.Entry.Size != 7 {
		t.Fatalf("publish = %+v", res)
	}
	if !strings.HasSuffix(res.Path, filepath.Join(ClientReleasesDir, "1.0.0", "linux-amd64", "izy")) {
		t.Errorf("stored at %s, want DATA_DIR/%s/1.0.0/linux-amd64/izy", res.Path, ClientReleasesDir)
	}
	if b, err := os.ReadFile(res.Path); err != nil || string(b) != "izy one" {
		t.Fatalf("stored build = %q, %v", b, err)
	}
	// The signed manifest verifies with the public key from keygen.
	relDir := filepath.Dir(res.Path)
	mb, _ := os.ReadFile(filepath.Join(relDir, clientrel.ManifestName))
	sb, _ := os.ReadFile(filepath.Join(relDir, clientrel.SignatureName))
	keys, err := release.ReadPublicKeys(s.pub)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := clientrel.Verify(mb, sb, keys)
	if err != nil {
		t.Fatalf("the published manifest does not verify with release.pub: %v", err)
	}
	sum := sha256.Sum256([]byte("izy one"))
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Version != "1.0.0" || m.OS != "linux" || m.Arch != "amd64" {
		t.Errorf("manifest = %+v", m)
	}

	t.Run("idempotent", func(t *testing.T) {
		again := s.publish(t, s.build(t, "copy", "izy one"), "1.0.0", "linux/amd64")
		if !again.Unchanged || again.Entry.SHA256 != res.Entry.SHA256 {
			t.Errorf("re-publish = %+v, want unchanged", again)
		}
		out := mustRun(t, nil, "release", "publish", "--config", s.config, "--file", v1, "--version", "1.0.0", "--platform", "linux/amd64", "--key", s.key)
		if !strings.Contains(out, "already published") {
			t.Errorf("text output of an idempotent publish:\n%s", out)
		}
	})

	t.Run("minimum", func(t *testing.T) {
		res := s.publish(t, s.build(t, "izy-1.1.0.exe", "izy 1.1 for windows"), "1.1.0", "windows/amd64", "--minimum")
		if res.Current != "1.1.0" || res.Minimum != "1.1.0" || !strings.HasSuffix(res.Path, "izy.exe") {
			t.Fatalf("publish --minimum = %+v", res)
		}
		_, _, err := runTest(t, nil, "release", "publish", "--config", s.config, "--file", s.build(t, "old", "old"), "--version", "1.0.5",
			"--platform", "linux/amd64", "--key", s.key, "--minimum")
		if err == nil || !strings.Contains(err.Error(), "never lowered") {
			t.Fatalf("lowering the minimum: err = %v", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		out := mustRun(t, nil, "release", "list", "--config", s.config, "--json")
		var x clientrel.Index
		if err := json.Unmarshal([]byte(out), &x); err != nil {
			t.Fatalf("list --json: %v\n%s", err, out)
		}
		if x.Current != "1.1.0" || x.Minimum != "1.1.0" || len(x.Releases) != 2 || x.Releases[0].Version != "1.1.0" || x.Releases[1].Version != "1.0.0" {
			t.Errorf("list --json = %+v", x)
		}
		out = mustRun(t, nil, "release", "list", "--config", s.config)
		for _, want := range []string{"current version 1.1.0, minimum version 1.1.0", "windows/amd64", "linux/amd64", res.Entry.SHA256} {
			if !strings.Contains(out, want) {
				t.Errorf("list lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		empty := s.build(t, "empty", "")
		other := s.build(t, "other", "izy other bytes")
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"different bytes", []string{"--file", other, "--version", "1.0.0", "--platform", "linux/amd64", "--key", s.key}, "already published"},
			{"bad version", []string{"--file", other, "--version", "v2.0.0", "--platform", "linux/amd64", "--key", s.key}, "--version"},
			{"build metadata", []string{"--file", other, "--version", "2.0.0+x", "--platform", "linux/amd64", "--key", s.key}, "build metadata"},
			{"bad platform", []string{"--file", other, "--version", "2.0.0", "--platform", "../amd64", "--key", s.key}, "--platform"},
			{"platform without arch", []string{"--file", other, "--version", "2.0.0", "--platform", "linux", "--key", s.key}, "--platform"},
			{"missing file", []string{"--file", filepath.Join(s.dir, "nope"), "--version", "2.0.0", "--platform", "linux/amd64", "--key", s.key}, "no such file"},
			{"empty file", []string{"--file", empty, "--version", "2.0.0", "--platform", "linux/amd64", "--key", s.key}, "empty"},
			{"directory", []string{"--file", s.dir, "--version", "2.0.0", "--platform", "linux/amd64", "--key", s.key}, "not a regular file"},
			{"public key", []string{"--file", other, "--version", "2.0.0", "--platform", "linux/amd64", "--key", s.pub}, "private key"},
			{"no key", []string{"--file", other, "--version", "2.0.0", "--platform", "linux/amd64"}, "needs --file, --version, --platform and --key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := append([]string{"release", "publish", "--config", s.config}, tc.args...)
				_, _, err := runTest(t, nil, args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			})
		}
		out := mustRun(t, nil, "release", "list", "--config", s.config, "--json")
		if strings.Contains(out, "2.0.0") {
			t.Errorf("a refused publish is listed:\n%s", out)
		}
		if b, _ := os.ReadFile(res.Path); string(b) != "izy one" {
			t.Errorf("a refused publish changed the stored 1.0.0 build to %q", b)
		}
	})
}

// rawGet sends a request with the path exactly as written (no cleaning, no escaping by
// net/http) and returns the status and body.
func rawGet(t *testing.T, base, token, path string) (int, string) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", path, host, token)
	b, _ := io.ReadAll(conn)
	status, body, _ := strings.Cut(string(b), "\r\n\r\n")
	var code int
	fmt.Sscanf(status, "HTTP/1.1 %d", &code)
	return code, body
}

// TestClientReleasesServer runs a real server process: the handshake follows a publish
// without a restart, the current release and its build are served (HEAD, Range, ETag,
// If-Range), path tricks are refused, and a client below the minimum may upload and ack
// but not check out or download.
func TestClientReleasesServer(t *testing.T) {
	s := newPublishSetup(t)
	p := start(t, nil, "serve", "--config", s.config, "--listen", "127.0.0.1:0")
	base := p.baseURL(t)
	admin := login(t, base, "admin", adminPassword)
	type handshake struct {
		MinClientVersion     string `json:"min_client_version"`
		CurrentClientVersion string `json:"current_client_version"`
		UpdateAvailable      bool   `json:"update_available"`
		UpdateRequired       bool   `json:"update_required"`
	}
	shake := func(clientVersion string) handshake {
		var h handshake
		admin.do("POST", "/api/v1/handshake", map[string]any{"client_version": clientVersion, "protocol_version": izy.ProtocolVersion, "client_id": "x"}, &h, 200)
		return h
	}
	waitShake := func(clientVersion string, want handshake) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := shake(clientVersion)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("handshake of %s = %+v, want %+v", clientVersion, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := shake("1.0.0"); got != (handshake{}) {
		t.Fatalf("handshake before any publish = %+v", got)
	}
	admin.do("GET", "/api/v1/client-releases/current?platform=linux/amd64", nil, nil, 404)

	// A checkout made before the minimum is raised, with a location to edit offline.
	var cust izy.Customer
	admin.do("POST", "/api/v1/customers", map[string]string{"number": "K1", "name": "Offline GmbH"}, &cust, 201)
	var loc izy.Location
	admin.do("POST", "/api/v1/locations", map[string]any{"customer_id": cust.ID, "kind": "property", "name": "Werk 1"}, &loc, 201)
	var co izy.Checkout
	admin.do("POST", "/api/v1/checkouts", map[string]any{"client_id": "laptop-1", "customer_id": cust.ID}, &co, 201)

	build := "izy 1.0.0 build bytes, long enough to ask for ranges"
	s.publish(t, s.build(t, "izy", build), "1.0.0", "linux/amd64")
	waitShake("0.9.0", handshake{CurrentClientVersion: "1.0.0", UpdateAvailable: true})

	t.Run("current release", func(t *testing.T) {
		var cur struct {
			Version, Platform, SHA256, Manifest, Signature string
			Size                                           int64
			PublicKey                                      string `json:"public_key"`
			DownloadPathJSON                               string `json:"download_path"`
		}
		admin.do("GET", "/api/v1/client-releases/current?platform=linux/amd64", nil, &cur, 200)
		if cur.Version != "1.0.0" || cur.Size != int64(len(build)) || cur.DownloadPathJSON != "/api/v1/client-releases/1.0.0/linux/amd64/izy" {
			t.Fatalf("current = %+v", cur)
		}
		keys, err := release.ParsePublicKeys([]byte(cur.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		trusted, _ := release.ReadPublicKeys(s.pub)
		if release.KeyID(keys[0]) != release.KeyID(trusted[0]) {
			t.Errorf("served key %s, want the release key %s", release.KeyID(keys[0]), release.KeyID(trusted[0]))
		}
		if _, _, err := clientrel.Verify([]byte(cur.Manifest), []byte(cur.Signature), trusted); err != nil {
			t.Errorf("the served manifest does not verify: %v", err)
		}
		admin.do("GET", "/api/v1/client-releases/current?platform=windows/amd64", nil, nil, 404)
		admin.do("GET", "/api/v1/client-releases/current?platform=../etc", nil, nil, 400)
		admin.do("GET", "/api/v1/client-releases/current", nil, nil, 400)
		anon := &client{t: t, base: base}
		anon.do("GET", "/api/v1/client-releases/current?platform=linux/amd64", nil, nil, 401)
	})

	t.Run("download", func(t *testing.T) {
		url := base + "/api/v1/client-releases/1.0.0/linux/amd64/izy"
		get := func(method string, hdr map[string]string) (*http.Response, string) {
			req, _ := http.NewRequest(method, url, nil)
			req.Header.Set("Authorization", "Bearer "+admin.token)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, string(b)
		}
		sum := sha256.Sum256([]byte(build))
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		res, body := get("GET", nil)
		if res.StatusCode != 200 || body != build || res.Header.Get("ETag") != etag {
			t.Fatalf("GET = %d %q etag %s", res.StatusCode, body, res.Header.Get("ETag"))
		}
		res, body = get("HEAD", nil)
		if res.StatusCode != 200 || body != "" || res.ContentLength != int64(len(build)) {
			t.Errorf("HEAD = %d, length %d, body %q", res.StatusCode, res.ContentLength, body)
		}
		res, body = get("GET", map[string]string{"Range": "bytes=10-19"})
		if res.StatusCode != 206 || body != build[10:20] {
			t.Errorf("Range = %d %q, want 206 %q", res.StatusCode, body, build[10:20])
		}
		res, body = get("GET", map[string]string{"Range": "bytes=10-", "If-Range": etag})
		if res.StatusCode != 206 || body != build[10:] {
			t.Errorf("If-Range with the ETag = %d %q", res.StatusCode, body)
		}
		res, body = get("GET", map[string]string{"Range": "bytes=10-", "If-Range": `"stale"`})
		if res.StatusCode != 200 || body != build {
			t.Errorf("If-Range with another ETag = %d, want the whole build", res.StatusCode)
		}
		anon := &client{t: t, base: base}
		anon.do("GET", "/api/v1/client-releases/1.0.0/linux/amd64/izy", nil, nil, 401)
	})

	t.Run("path tricks", func(t *testing.T) {
		for _, path := range []string{
			"/api/v1/client-releases/1.0.1/linux/amd64/izy",
			"/api/v1/client-releases/../linux/amd64/izy",
			"/api/v1/client-releases/%2e%2e/linux/amd64/izy",
			"/api/v1/client-releases/1.0.0/..%2F..%2Flinux/amd64/izy",
			"/api/v1/client-releases/1.0.0/linux/..%2F..%2F..%2Findex.json/izy",
			"/api/v1/client-releases/1.0.0/linux%2Famd64/amd64/izy",
			"/api/v1/client-releases/%2Fetc/linux/amd64/izy",
			"/api/v1/client-releases/1.0.0/%2Fetc/passwd/izy",
			"/api/v1/client-releases/1.0.0/linux/amd64/..%2F..%2F..%2Findex.json",
			"/api/v1/client-releases/1.0.0/linux/amd64/izy%00",
			"/api/v1/client-releases/1.0.0%5C..%5C/linux/amd64/izy",
		} {
			code, body := rawGet(t, base, admin.token, path)
			if code == 200 || code == 206 || code == 0 || strings.Contains(body, build) || strings.Contains(body, `"releases"`) {
				t.Errorf("GET %s = %d %.80q, want a refusal", path, code, body)
			}
		}
	})

	// Raise the minimum: the handshake follows without a restart.
	s.publish(t, s.build(t, "izy2", "izy 2.0.0"), "2.0.0", "linux/amd64", "--minimum")
	waitShake("1.0.0", handshake{MinClientVersion: "2.0.0", CurrentClientVersion: "2.0.0", UpdateAvailable: true, UpdateRequired: true})
	waitShake("2.0.0", handshake{MinClientVersion: "2.0.0", CurrentClientVersion: "2.0.0"})

	t.Run("below the minimum", func(t *testing.T) {
		ctx := context.Background()
		old, err := apiclient.New(base, apiclient.WithToken(admin.token), apiclient.WithClientVersion("1.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		refused := func(what string, err error) {
			t.Helper()
			if apiclient.StatusOf(err) != http.StatusConflict || !strings.Contains(izy.ErrorMessage(err), "izy 1.0.0 is below the minimum 2.0.0") {
				t.Errorf("%s by izy 1.0.0: err = %v (status %d), want 409 below the minimum", what, err, apiclient.StatusOf(err))
			}
		}
		_, err = old.Snapshot(ctx, co.ID, "", 100)
		refused("snapshot", err)
		_, err = old.Changes(ctx, co.ID, 0, 100)
		refused("changes", err)
		_, err = old.CreateCheckout(ctx, apiclient.CheckoutRequest{ClientID: "laptop-2", CustomerID: cust.ID})
		refused("checkout", err)

		raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
		batch := &izy.Batch{ID: izy.NewID(), Protocol: izy.ProtocolVersion, Mutations: []izy.Mutation{{
			ID: izy.NewID(), Op: izy.OpUpdate, Entity: "location", EntityID: loc.ID, BaseVersion: loc.Version,
			Fields: map[string]json.RawMessage{"name": raw("Werk 1 (offline)")}, Base: map[string]json.RawMessage{"name": raw("Werk 1")},
			CreatedAt: time.Now().UTC(),
		}}}
		br, err := old.Upload(ctx, co.ID, batch)
		if err != nil {
			t.Fatalf("upload by izy 1.0.0: %v", err)
		}
		if len(br.Results) != 1 || (br.Results[0].Status != izy.MutationApplied && br.Results[0].Status != izy.MutationMerged) {
			t.Fatalf("upload results = %+v", br.Results)
		}
		var got izy.Location
		admin.do("GET", "/api/v1/locations/"+loc.ID, nil, &got, 200)
		if got.Name != "Werk 1 (offline)" {
			t.Errorf("location on the server = %q, want the uploaded name", got.Name)
		}
		if err := old.Ack(ctx, co.ID, 0); err != nil {
			t.Errorf("ack by izy 1.0.0: %v", err)
		}
		if _, err := old.Handshake(ctx, apiclient.HandshakeRequest{ClientVersion: "1.0.0", ProtocolVersion: izy.ProtocolVersion, ClientID: "x"}); err != nil {
			t.Errorf("handshake by izy 1.0.0: %v", err)
		}

		// The current client and other API clients (no version header) may download.
		cur, _ := apiclient.New(base, apiclient.WithToken(admin.token), apiclient.WithClientVersion("2.0.0"))
		if _, err := cur.Snapshot(ctx, co.ID, "", 100); err != nil {
			t.Errorf("snapshot by izy 2.0.0: %v", err)
		}
		plain, _ := apiclient.New(base, apiclient.WithToken(admin.token))
		if _, err := plain.Changes(ctx, co.ID, 0, 100); err != nil {
			t.Errorf("changes without a client version: %v", err)
		}
		// A build download is what an old client needs: it is not refused.
		code, body := rawGet(t, base, admin.token, "/api/v1/client-releases/2.0.0/linux/amd64/izy")
		if code != 200 || !strings.HasSuffix(body, "izy 2.0.0") {
			t.Errorf("download of 2.0.0 = %d %q", code, body)
		}
	})
}
