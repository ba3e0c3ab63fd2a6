package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/license"
	"github.com/izytroniq/izytroniq/internal/release"
)

// licenceSetup is an installation (from init) and a licence issuer's key pair made by
// the real binary's `license keygen`.
type licenceSetup struct {
	config, dataDir string
	privKey, pubKey string
	priv            ed25519.PrivateKey
	installed       string // where install puts the licence
}

func newLicenceSetup(t *testing.T, trust bool) *licenceSetup {
	t.Helper()
	s := &licenceSetup{config: initDir(t)}
	s.dataDir = filepath.Join(filepath.Dir(s.config), "data")
	s.installed = filepath.Join(s.dataDir, LicenceFileName)
	keys := filepath.Join(t.TempDir(), "keys")
	out, code := runProcess(t, nil, "license", "keygen", "--out", keys)
	if code != 0 {
		t.Fatalf("license keygen: exit %d\n%s", code, out)
	}
	s.privKey, s.pubKey = filepath.Join(keys, licencePrivateKeyFile), filepath.Join(keys, licencePublicKeyFile)
	pub, err := license.ReadTrustedKeys([]string{s.pubKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Key ID:      " + release.KeyID(pub[0]), "[license]", "trusted_keys = [\"" + s.pubKey} {
		if !strings.Contains(out, want) {
			t.Errorf("license keygen output lacks %q:\n%s", want, out)
		}
	}
	fi, err := os.Stat(s.privKey)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(s.privKey)
	if s.priv, err = release.ParsePrivateKey(data); err != nil {
		t.Fatal(err)
	}
	if trust {
		s.trust(t, s.pubKey)
	}
	return s
}

// trust appends a [license] table trusting pubKey to the configuration.
func (s *licenceSetup) trust(t *testing.T, pubKey string) {
	t.Helper()
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := json.Marshal(pubKey) // a TOML basic string is a JSON string here
	if _, err := f.WriteString("\n[license]\ntrusted_keys = [" + string(b) + "]\n"); err != nil {
		t.Fatal(err)
	}
}

// issue runs the real binary's `license issue` and returns the licence file.
func (s *licenceSetup) issue(t *testing.T, edition string, offline string, expires string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "licence.json")
	res, code := runProcess(t, nil, "license", "issue", "--key", s.privKey, "--customer", "ACME Prüftechnik GmbH",
		"--edition", edition, "--seats", "25", "--offline-seats", offline, "--expires", expires, "--out", out)
	if code != 0 {
		t.Fatalf("license issue: exit %d\n%s", code, res)
	}
	return out
}

// writeSigned writes l signed by priv, unchecked (for licences issue refuses, such as
// expired ones).
func writeSigned(t *testing.T, l *license.License, priv ed25519.PrivateKey) string {
	t.Helper()
	if err := l.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "licence.json", string(l.Marshal()))
}

func inYears(n int) string { return time.Now().UTC().AddDate(n, 0, 0).Format("2006-01-02") }

func TestLicenseInstallAndShow(t *testing.T) {
	s := newLicenceSetup(t, false)
	lic := s.issue(t, "Enterprise Ultimate", "2", inYears(1))

	// Without a trusted key nothing can be installed.
	out, code := runProcess(t, nil, "license", "install", "--config", s.config, lic)
	if code != 1 || !strings.Contains(out, "add the issuer's public key file to license.trusted_keys in "+s.config) {
		t.Fatalf("install without trusted keys: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(s.installed); !os.IsNotExist(err) {
		t.Fatalf("a refused install left %s: %v", s.installed, err)
	}

	s.trust(t, s.pubKey)
	out, code = runProcess(t, nil, "license", "install", lic, "--config", s.config)
	if code != 0 || !strings.Contains(out, "Enterprise Ultimate, 25 seats, 2 offline seats") {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	want, _ := os.ReadFile(lic)
	if got, err := os.ReadFile(s.installed); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("installed file: %v\n%s\nwant\n%s", err, got, want)
	}

	out, code = runProcess(t, nil, "license", "show", "--config", s.config, "--json")
	var rep LicenceReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("show --json: exit %d, %v\n%s", code, err, out)
	}
	if rep.Status != license.StatusValid || rep.Edition != "Enterprise Ultimate" || rep.Customer != "ACME Prüftechnik GmbH" ||
		rep.Seats != 25 || rep.OfflineSeats.Total != 2 || rep.OfflineSeats.Used != 0 || rep.DaysLeft == nil || *rep.DaysLeft < 364 {
		t.Errorf("show --json: %+v", rep)
	}
	out = mustRun(t, nil, "license", "show", "--config", s.config)
	for _, w := range []string{"status:", "valid", "Enterprise Ultimate", "0 of 2 bound", "days left"} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}

	// Refusals change nothing: the installed licence stays byte for byte.
	_, otherPriv, _ := release.GenerateKey()
	good, _ := license.ReadFile(lic)
	tampered := *good
	tampered.OfflineSeats = 500
	expired := &license.License{ID: "old-1", Customer: "ACME", Edition: license.EnterpriseUltimate, Seats: 5,
		OfflineSeats: 5, Issued: "2020-01-01", Expires: "2021-01-01"}
	foreign := *good
	big := writeFile(t, t.TempDir(), "big.json", strings.Repeat(" ", license.MaxFileSize+1))
	for _, tc := range []struct {
		name, file, want string
	}{
		{"tampered", writeFile(t, t.TempDir(), "t.json", string(tampered.Marshal())), "does not match its contents"},
		{"expired", writeSigned(t, expired, s.priv), "expired on 2021-01-01"},
		{"foreign key", writeSigned(t, &foreign, otherPriv), "not among the 1 in license.trusted_keys"},
		{"garbage", writeFile(t, t.TempDir(), "g.json", `{"id":`), "not a JSON object"},
		{"trailing garbage", writeFile(t, t.TempDir(), "tg.json", string(good.Marshal())+"#"), "data after"},
		{"oversized", big, "more than the 65536"},
		{"missing", filepath.Join(t.TempDir(), "nope.json"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runProcess(t, nil, "license", "install", "--config", s.config, tc.file)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("install %s: exit %d, want 1 and %q:\n%s", tc.name, code, tc.want, out)
			}
			if tc.name != "missing" && !strings.Contains(out, "nothing was changed") {
				t.Errorf("install %s does not say that nothing changed:\n%s", tc.name, out)
			}
			if got, _ := os.ReadFile(s.installed); !bytes.Equal(got, want) {
				t.Errorf("install %s changed the installed licence:\n%s", tc.name, got)
			}
		})
	}

	// check passes on the valid licence; a licence the keys no longer trust fails it.
	rep2 := checkLicenceLine(t, s.config)
	if rep2.Status != "pass" || !strings.Contains(rep2.Detail, "Enterprise Ultimate for ACME") {
		t.Errorf("check's licence line with a valid licence: %+v", rep2)
	}
	if err := os.WriteFile(s.installed, tampered.Marshal(), 0o640); err != nil {
		t.Fatal(err)
	}
	if r := checkLicenceLine(t, s.config); r.Status != "fail" || r.Fix == "" || !strings.Contains(r.Detail, "does not match") {
		t.Errorf("check's licence line with a tampered licence: %+v", r)
	}
	if err := os.WriteFile(s.installed, expired.Marshal(), 0o640); err != nil {
		t.Fatal(err)
	}
	if r := checkLicenceLine(t, s.config); r.Status != "fail" || !strings.Contains(r.Detail, "expired on 2021-01-01") {
		t.Errorf("check's licence line with an expired licence: %+v", r)
	}
	soon := &license.License{ID: "soon-1", Customer: "ACME", Edition: license.Business, Seats: 5,
		Issued: "2020-01-01", Expires: time.Now().UTC().AddDate(0, 0, 10).Format("2006-01-02")}
	if err := os.WriteFile(s.installed, must(writeSignedBytes(soon, s.priv)), 0o640); err != nil {
		t.Fatal(err)
	}
	if r := checkLicenceLine(t, s.config); r.Status != "warn" || !strings.Contains(r.Fix, "renewed licence") {
		t.Errorf("check's licence line with a licence expiring in 10 days: %+v", r)
	}
	os.Remove(s.installed)
	if r := checkLicenceLine(t, s.config); r.Status != "warn" || !strings.Contains(r.Detail, "evaluation") {
		t.Errorf("check's licence line without a licence: %+v", r)
	}
}

func writeSignedBytes(l *license.License, priv ed25519.PrivateKey) ([]byte, error) {
	if err := l.Sign(priv); err != nil {
		return nil, err
	}
	return l.Marshal(), nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type checkLine struct {
	Name, Status, Detail, Fix string
}

// checkLicenceLine runs `check --json` (against a server that is not running) and
// returns its licence line.
func checkLicenceLine(t *testing.T, config string) checkLine {
	t.Helper()
	out, _, _ := runTest(t, nil, "check", "--config", config, "--json", "--url", "http://127.0.0.1:1", "--timeout", "100ms")
	var rep struct{ Checks []checkLine }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	for _, r := range rep.Checks {
		if r.Name == "licence" {
			return r
		}
	}
	t.Fatalf("check has no licence line:\n%s", out)
	return checkLine{}
}

func TestLicenseUsage(t *testing.T) {
	for _, args := range [][]string{
		{"license", "--help"}, {"license", "keygen", "--help"}, {"license", "issue", "-h"},
		{"license", "install", "--help"}, {"license", "show", "--help"}, {"license", "seats", "release", "--help"},
	} {
		if out, code := runProcess(t, nil, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("izytroniq %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"license"}, "license needs a subcommand"},
		{[]string{"license", "frobnicate"}, `unknown license subcommand "frobnicate"`},
		{[]string{"license", "keygen"}, "needs --out DIR"},
		{[]string{"license", "issue", "--key", "k"}, "needs --customer, --edition, --seats, --offline-seats, --expires"},
		{[]string{"license", "install"}, "needs LICENCE_FILE"},
		{[]string{"license", "install", "a", "b"}, `unexpected argument "b"`},
		{[]string{"license", "seats"}, "license seats needs a subcommand"},
		{[]string{"license", "seats", "release"}, "needs CLIENT_ID"},
	} {
		if out, code := runProcess(t, nil, tc.args...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("izytroniq %s: exit %d, want 2 and %q\n%s", strings.Join(tc.args, " "), code, tc.want, out)
		}
	}
	s := newLicenceSetup(t, false)
	out, code := runProcess(t, nil, "license", "issue", "--key", s.privKey, "--customer", "A", "--edition", "Gold",
		"--seats", "1", "--offline-seats", "0", "--expires", inYears(1))
	if code != 2 || !strings.Contains(out, `edition "Gold" is not one of "Business", "Enterprise Premium", "Enterprise Ultimate"`) {
		t.Errorf("issue with an unknown edition: exit %d\n%s", code, out)
	}
	out, code = runProcess(t, nil, "license", "issue", "--key", s.pubKey, "--customer", "A", "--edition", "Business",
		"--seats", "1", "--offline-seats", "0", "--expires", inYears(1))
	if code != 1 || !strings.Contains(out, "signing needs the private key") {
		t.Errorf("issue with the public key: exit %d\n%s", code, out)
	}
	out, code = runProcess(t, nil, "license", "keygen", "--out", filepath.Dir(s.privKey))
	if code != 1 || !strings.Contains(out, "already exists") {
		t.Errorf("keygen over existing keys: exit %d\n%s", code, out)
	}
}

// TestLicenseServer installs licences under a running server: the edition follows
// without a restart, offline checkout needs Ultimate and a free seat, and a seat freed
// with `license seats release` can be bound again.
func TestLicenseServer(t *testing.T) {
	s := newLicenceSetup(t, true)
	base := serveInProcess(t, nil, "--config", s.config)
	admin := login(t, base, "admin", adminPassword)
	edition := func() string {
		var hs struct{ Edition string }
		admin.do("POST", "/api/v1/handshake", map[string]any{"client_version": "1.0.0", "protocol_version": izy.ProtocolVersion, "client_id": "x"}, &hs, 200)
		return hs.Edition
	}
	waitEdition := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := edition()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("handshake edition %q, want %q", got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := edition(); got != license.Evaluation {
		t.Fatalf("edition without a licence: %q", got)
	}
	var cust izy.Customer
	admin.do("POST", "/api/v1/customers", map[string]string{"number": "K1", "name": "Offline GmbH"}, &cust, 201)
	checkout := func(client string, want int) string {
		t.Helper()
		var res struct {
			Error struct{ Code, Message string }
		}
		admin.do("POST", "/api/v1/checkouts", map[string]any{"client_id": client, "customer_id": cust.ID}, &res, want)
		return res.Error.Message
	}
	checkout("eval-1", 201) // evaluation: every client may check out

	mustRun(t, nil, "license", "install", "--config", s.config, s.issue(t, "Business", "5", inYears(1)))
	waitEdition("Business")
	if msg := checkout("laptop-1", 403); !strings.Contains(msg, "needs the Enterprise Ultimate edition; the installed licence is Business") {
		t.Errorf("checkout under Business: %q", msg)
	}

	mustRun(t, nil, "license", "install", "--config", s.config, s.issue(t, "Enterprise Ultimate", "1", inYears(1)))
	waitEdition("Enterprise Ultimate")
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<td>Enterprise Ultimate</td>") {
		t.Errorf("the status page does not show the edition:\n%s", body)
	}
	checkout("laptop-1", 201)
	checkout("laptop-1", 201) // the same client keeps its seat
	msg := checkout("laptop-2", 403)
	for _, w := range []string{"allows 1 offline seats", "1 client IDs are bound", "izytroniq license seats release CLIENT_ID"} {
		if !strings.Contains(msg, w) {
			t.Errorf("checkout beyond the seats: %q lacks %q", msg, w)
		}
	}
	out := mustRun(t, nil, "license", "show", "--config", s.config)
	if !strings.Contains(out, "1 of 1 bound") || !strings.Contains(out, "laptop-1") {
		t.Errorf("show with a bound seat:\n%s", out)
	}
	if _, _, err := runTest(t, nil, "license", "seats", "release", "--config", s.config, "laptop-9"); err == nil ||
		!strings.Contains(err.Error(), "holds no offline seat") {
		t.Errorf("releasing an unbound client: %v", err)
	}
	if out := mustRun(t, nil, "license", "seats", "release", "laptop-1", "--config", s.config); !strings.Contains(out, "Freed") {
		t.Errorf("seats release: %s", out)
	}
	checkout("laptop-2", 201)

	// An expired licence counts as none.
	expired := &license.License{ID: "old-1", Customer: "ACME", Edition: license.EnterpriseUltimate, Seats: 5,
		OfflineSeats: 0, Issued: "2020-01-01", Expires: "2021-01-01"}
	if err := os.WriteFile(s.installed, must(writeSignedBytes(expired, s.priv)), 0o640); err != nil {
		t.Fatal(err)
	}
	waitEdition(license.Evaluation)
	checkout("laptop-3", 201)
}
