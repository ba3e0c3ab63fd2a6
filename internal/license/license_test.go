package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/release"
)

func mustKey(tb testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	pub, priv, err := release.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return pub, priv
}

var issueDay = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustIssue(tb testing.TB, priv ed25519.PrivateKey, edition Edition, expires string) *License {
	tb.Helper()
	l, err := Issue(priv, "ACME Prüftechnik GmbH", edition, 10, 3, expires, issueDay)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func TestIssueParseVerify(t *testing.T) {
	pub, priv := mustKey(t)
	l := mustIssue(t, priv, EnterpriseUltimate, "2027-02-28")
	got, err := Parse(l.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if *got != *l {
		t.Fatalf("Parse(Marshal(l)) = %+v, want %+v", got, l)
	}
	if err := got.Verify([]ed25519.PublicKey{pub}); err != nil {
		t.Fatalf("Verify with the signing key: %v", err)
	}
	if got, want := got.KeyID, release.KeyID(pub); got != want {
		t.Errorf("key_id %s, want %s", got, want)
	}
	if got, want := got.Issued, "2026-03-01"; got != want {
		t.Errorf("issued %s, want %s", got, want)
	}
}

// TestSignedBytes pins the documented canonical encoding: changing it invalidates every
// licence ever issued.
func TestSignedBytes(t *testing.T) {
	l := License{ID: "L-1", Customer: "A B", Edition: EnterprisePremium, Seats: 5, OfflineSeats: 0,
		Issued: "2026-01-01", Expires: "2026-12-31", KeyID: "0123456789abcdef", Signature: "ignored"}
	want := "izytroniq-license-v1\nid=L-1\ncustomer=A B\nedition=Enterprise Premium\nseats=5\noffline_seats=0\n" +
		"issued=2026-01-01\nexpires=2026-12-31\nkey_id=0123456789abcdef\n"
	if got := string(l.SignedBytes()); got != want {
		t.Fatalf("SignedBytes:\n%q\nwant\n%q", got, want)
	}
}

func TestVerifyRefuses(t *testing.T) {
	pub, priv := mustKey(t)
	otherPub, otherPriv := mustKey(t)
	l := mustIssue(t, priv, Business, "2027-01-01")

	t.Run("tampered", func(t *testing.T) {
		for _, change := range []func(l *License){
			func(l *License) { l.Seats = 1000 },
			func(l *License) { l.OfflineSeats = 4 },
			func(l *License) { l.Edition = EnterpriseUltimate },
			func(l *License) { l.Expires = "2099-01-01" },
			func(l *License) { l.Customer = "Someone Else" },
		} {
			m := *l
			change(&m)
			got, err := Parse(m.Marshal())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = got.Verify([]ed25519.PublicKey{pub})
			if err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Errorf("Verify of a tampered licence %+v: %v, want a mismatch", m, err)
			}
		}
	})
	t.Run("foreign key", func(t *testing.T) {
		err := l.Verify([]ed25519.PublicKey{otherPub})
		if !errors.Is(err, ErrUntrusted) {
			t.Fatalf("Verify with another key: %v, want ErrUntrusted", err)
		}
		if err := l.Verify(nil); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("Verify with no keys: %v, want ErrUntrusted", err)
		}
	})
	t.Run("key id of a trusted key, signature of another", func(t *testing.T) {
		forged := mustIssue(t, otherPriv, Business, "2027-01-01")
		forged.KeyID = l.KeyID
		if err := forged.Verify([]ed25519.PublicKey{pub}); err == nil {
			t.Fatal("a signature by an untrusted key under a trusted key id verified")
		}
	})
}

func TestParseRejects(t *testing.T) {
	_, priv := mustKey(t)
	good := mustIssue(t, priv, EnterprisePremium, "2027-01-01")
	obj := func(change func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good.Marshal(), &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a JSON object"},
		{"array", []byte(`[]`), "not a JSON object"},
		{"null", []byte(`null`), "not a JSON object"},
		{"trailing garbage", append(good.Marshal(), "x"...), "data after"},
		{"second object", append(good.Marshal(), good.Marshal()...), "data after"},
		{"oversized", append(good.Marshal(), bytes.Repeat([]byte(" "), MaxFileSize)...), "more than"},
		{"unknown edition", obj(func(m map[string]any) { m["edition"] = "Platinum" }), `edition "Platinum"`},
		{"missing seats", obj(func(m map[string]any) { delete(m, "seats") }), "lacks seats"},
		{"missing signature and expiry", obj(func(m map[string]any) { delete(m, "signature"); delete(m, "expires") }), "lacks expires, signature"},
		{"unknown field", obj(func(m map[string]any) { m["Seats"] = 5 }), `unknown field "Seats"`},
		{"null field", obj(func(m map[string]any) { m["offline_seats"] = nil }), "offline_seats is null"},
		{"seats as text", obj(func(m map[string]any) { m["seats"] = "10" }), "seats"},
		{"fractional seats", obj(func(m map[string]any) { m["seats"] = 1.5 }), "seats"},
		{"no seats", obj(func(m map[string]any) { m["seats"] = 0 }), "seats: 0"},
		{"negative offline seats", obj(func(m map[string]any) { m["offline_seats"] = -1 }), "offline_seats: -1"},
		{"bad date", obj(func(m map[string]any) { m["expires"] = "2027-13-01" }), "expires"},
		{"loose date", obj(func(m map[string]any) { m["expires"] = "2027-1-1" }), "expires"},
		{"expires before issued", obj(func(m map[string]any) { m["expires"] = "2020-01-01" }), "before issued"},
		{"control character", obj(func(m map[string]any) { m["customer"] = "A\nseats=99" }), "control"},
		{"blank customer", obj(func(m map[string]any) { m["customer"] = "  " }), "customer"},
		{"bad key id", obj(func(m map[string]any) { m["key_id"] = "XYZ" }), "key_id"},
		{"bad id", obj(func(m map[string]any) { m["id"] = "a b" }), "id"},
		{"short signature", obj(func(m map[string]any) { m["signature"] = "AAAA" }), "signature"},
		{"signature not base64", obj(func(m map[string]any) { m["signature"] = "!!!" }), "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.data)
			if err == nil {
				t.Fatalf("Parse accepted %+v", l)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func writeLicence(tb testing.TB, path string, l *License) {
	tb.Helper()
	if err := os.WriteFile(path, l.Marshal(), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestJudge(t *testing.T) {
	pub, priv := mustKey(t)
	_, otherPriv := mustKey(t)
	keys := []ed25519.PublicKey{pub}
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	file := func(name string, l *License) string {
		p := filepath.Join(dir, name)
		writeLicence(t, p, l)
		return p
	}
	tampered := mustIssue(t, priv, Business, "2027-01-01")
	tampered.Seats++
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{not json"), 0o600)
	for _, tc := range []struct {
		name    string
		path    string
		want    Status
		edition string
	}{
		{"none", filepath.Join(dir, "missing.json"), StatusEvaluation, Evaluation},
		{"valid", file("valid.json", mustIssue(t, priv, EnterprisePremium, "2027-01-01")), StatusValid, "Enterprise Premium"},
		{"expiring", file("expiring.json", mustIssue(t, priv, Business, "2026-06-20")), StatusExpiring, "Business"},
		{"last day", file("lastday.json", mustIssue(t, priv, Business, "2026-06-01")), StatusExpiring, "Business"},
		{"expired", file("expired.json", mustIssue(t, priv, EnterpriseUltimate, "2026-05-31")), StatusExpired, Evaluation},
		{"foreign", file("foreign.json", mustIssue(t, otherPriv, EnterpriseUltimate, "2027-01-01")), StatusInvalid, Evaluation},
		{"tampered", file("tampered.json", tampered), StatusInvalid, Evaluation},
		{"garbage", garbage, StatusInvalid, Evaluation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := Judge(tc.path, keys, now)
			if st.Status != tc.want || st.Edition() != tc.edition {
				t.Errorf("Judge: %s %q (%v), want %s %q", st.Status, st.Edition(), st.Err, tc.want, tc.edition)
			}
			if (st.Err != nil) != (tc.want == StatusExpired || tc.want == StatusInvalid) {
				t.Errorf("Judge: err %v for status %s", st.Err, st.Status)
			}
		})
	}
}

func TestDaysLeft(t *testing.T) {
	l := &License{Expires: "2026-06-10"}
	for _, tc := range []struct {
		now     time.Time
		days    int
		expired bool
	}{
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 10, false},
		{time.Date(2026, 6, 10, 23, 59, 0, 0, time.UTC), 0, false},
		{time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC), 0, true},
	} {
		if got := l.DaysLeft(tc.now); got != tc.days {
			t.Errorf("DaysLeft(%s) = %d, want %d", tc.now, got, tc.days)
		}
		if got := l.Expired(tc.now); got != tc.expired {
			t.Errorf("Expired(%s) = %v, want %v", tc.now, got, tc.expired)
		}
	}
}

// TestWatcher installs, replaces and removes the licence file under a running watcher
// and checks that each change shows within the interval, and only after it.
func TestWatcher(t *testing.T) {
	pub, priv := mustKey(t)
	path := filepath.Join(t.TempDir(), "license.json")
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	w := NewWatcher(path, []ed25519.PublicKey{pub}, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	if got := w.Current().Status; got != StatusEvaluation {
		t.Fatalf("no file: %s, want evaluation", got)
	}

	writeLicence(t, path, mustIssue(t, priv, Business, "2027-01-01"))
	if got := w.Current().Status; got != StatusEvaluation {
		t.Fatalf("within a second of the last look: %s, want the old evaluation", got)
	}
	now = now.Add(time.Second)
	if got := w.Current(); got.Status != StatusValid || got.Edition() != "Business" {
		t.Fatalf("after a second: %s %s, want valid Business", got.Status, got.Edition())
	}

	// A replacement with another size shows too (mtime may not change within a tick).
	writeLicence(t, path, mustIssue(t, priv, EnterpriseUltimate, "2027-01-01"))
	now = now.Add(time.Second)
	if got := w.Current().Edition(); got != "Enterprise Ultimate" {
		t.Fatalf("after replacing: %s, want Enterprise Ultimate", got)
	}

	// A licence renamed over the old one is noticed even with the same size and mtime
	// (coarse file system clocks).
	old, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	next := mustIssue(t, priv, EnterpriseUltimate, "2027-01-01")
	if int64(len(next.Marshal())) != old.Size() {
		t.Fatalf("test setup: sizes differ")
	}
	tmp := path + ".new"
	writeLicence(t, tmp, next)
	if err := os.Chtimes(tmp, old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if got := w.Current(); got.License == nil || got.License.ID != next.ID {
		t.Fatalf("after a same-size rename: %+v, want licence %s", got.License, next.ID)
	}

	// Time passing expires a licence without a change of file; it is logged.
	now = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	if got := w.Current(); got.Status != StatusExpired || got.Edition() != Evaluation {
		t.Fatalf("after the expiry: %s %s, want expired evaluation", got.Status, got.Edition())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "status=expired") {
		t.Errorf("the expiry was not logged as a warning:\n%s", logs.String())
	}

	os.Remove(path)
	now = now.Add(time.Second)
	if got := w.Current().Status; got != StatusEvaluation {
		t.Fatalf("after removing: %s, want evaluation", got)
	}
}

// FuzzParseLicense feeds Parse arbitrary bytes: it must never panic, and whatever it
// accepts must be valid and survive Marshal and Parse unchanged.
func FuzzParseLicense(f *testing.F) {
	_, priv := mustKey(f)
	good := mustIssue(f, priv, EnterpriseUltimate, "2027-01-01")
	f.Add(good.Marshal())
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x"} trailing`))
	f.Add([]byte(`{"id":"a","customer":"b","edition":"Business","seats":1,"offline_seats":0,"issued":"2026-01-01","expires":"2026-01-01","key_id":"0123456789abcdef","signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid licence: %v", err)
		}
		again, err := Parse(l.Marshal())
		if err != nil {
			t.Fatalf("Parse(Marshal(l)): %v", err)
		}
		if *again != *l {
			t.Fatalf("round trip changed the licence: %+v, want %+v", again, l)
		}
		if bytes.Count(l.SignedBytes(), []byte("\n")) != 9 {
			t.Fatalf("a field broke a line of the signed encoding: %q", l.SignedBytes())
		}
	})
}
