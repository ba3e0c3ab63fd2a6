package release

import (
	"errors"
	"strings"
	"testing"
)

func TestVersionOrder(t *testing.T) {
	// Each version orders before the next (semver.org §11 and our own dev builds).
	ordered := []string{
		"0.0.1",
		"0.1.0-dev",
		"0.1.0",
		"0.1.1",
		"0.2.0",
		"0.10.0",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.9.0",
		"1.10.0",
		"2.0.0",
		"10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			a, b := MustParseVersion(ordered[i]), MustParseVersion(ordered[j])
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = +1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if got := MustParseVersion("1.0.0+build.1").Compare(MustParseVersion("1.0.0+build.2")); got != 0 {
		t.Errorf("build metadata changed the order: %d", got)
	}
}

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // canonical form, or "" when in is invalid
	}{
		{"1.2.3", "1.2.3"},
		{"0.1.0-dev", "0.1.0-dev"},
		{"2.0.0-rc.1+build.7", "2.0.0-rc.1+build.7"},
		{"1.0.0-x-y.0a", "1.0.0-x-y.0a"},
		{"", ""},
		{"v1.2.3", ""},
		{"1.2", ""},
		{"1.2.3.4", ""},
		{"01.2.3", ""},
		{"1.2.3-01", ""},
		{"1.2.3-", ""},
		{"1.2.3-a..b", ""},
		{"1.2.3+", ""},
		{"1.2.3-a_b", ""},
		{"1.2.x", ""},
		{"-1.2.3", ""},
		{"1.2.3 ", ""},
		{"99999999999999999999.0.0", ""},
		{strings.Repeat("1", 300) + ".0.0", ""},
	} {
		v, err := ParseVersion(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseVersion(%q) = %v, want an error", tt.in, v)
		case tt.want != "" && err != nil:
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
		case tt.want != "":
			if got := v.String(); got != tt.want {
				t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, got, tt.want)
			}
		}
	}
}

func TestCheckVersionPath(t *testing.T) {
	for _, tt := range []struct {
		current, candidate string
		allowDowngrade     bool
		want               error
		msg                string
	}{
		{"1.0.0", "1.0.1", false, nil, ""},
		{"0.1.0-dev", "0.1.0", false, nil, ""},
		{"1.0.0", "2.0.0-rc.1", false, nil, ""},
		{"1.0.0", "1.0.0", false, ErrSameVersion, "already installed"},
		{"1.0.0", "1.0.0+other", false, ErrSameVersion, "already installed"},
		{"1.0.0", "1.0.0", true, ErrSameVersion, "already installed"},
		{"1.2.0", "1.1.0", false, ErrDowngrade, "downgrade from 1.2.0 to 1.1.0 refused; pass --allow-downgrade with a backup made by 1.1.0"},
		{"0.1.0", "0.1.0-dev", false, ErrDowngrade, "refused"},
		{"1.2.0", "1.1.0", true, nil, ""},
		{"garbage", "1.0.0", false, nil, "installed version"},
		{"1.0.0", "v2", false, nil, "package version"},
	} {
		t.Run(tt.current+" to "+tt.candidate, func(t *testing.T) {
			err := CheckVersionPath(tt.current, tt.candidate, tt.allowDowngrade)
			if tt.want == nil && tt.msg == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("err = nil, want a refusal")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestCheckUpgradeFrom(t *testing.T) {
	for _, tt := range []struct {
		current, candidate, minFrom string
		allowDowngrade              bool
		want                        error
		msg                         string
	}{
		{"1.5.0", "2.0.0", "1.5.0", false, nil, ""},
		{"1.6.0", "2.0.0", "1.5.0", false, nil, ""},
		{"1.4.0", "2.0.0", "1.5.0", false, ErrIntermediateRequired, "install 1.5.0 first"},
		{"1.5.0-rc.1", "2.0.0", "1.5.0", false, ErrIntermediateRequired, "install 1.5.0 first"},
		{"1.4.0", "2.0.0", "", false, nil, ""},
		{"3.0.0", "2.0.0", "1.5.0", false, ErrDowngrade, "downgrade"},
		{"3.0.0", "2.0.0", "1.5.0", true, nil, ""},
		{"2.0.0", "2.0.0", "1.5.0", false, ErrSameVersion, "already"},
	} {
		t.Run(tt.current+" to "+tt.candidate, func(t *testing.T) {
			m := fakeManifest()
			m.Version, m.MinUpgradeFrom = tt.candidate, tt.minFrom
			err := m.CheckUpgradeFrom(tt.current, tt.allowDowngrade)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "0.1.0-dev", "1.0.0-alpha.1+b.2", "01.1.1", "1.2", "", "1.0.0-", "v1.0.0"} {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, err := ParseVersion(a)
		if err != nil {
			return
		}
		again, err := ParseVersion(va.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", va.String(), a, err)
		}
		if again.Compare(va) != 0 || again.String() != va.String() {
			t.Fatalf("%q: round trip gave %q", a, again.String())
		}
		vb, err := ParseVersion(b)
		if err != nil {
			return
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%s, %s) is not antisymmetric", va, vb)
		}
	})
}
