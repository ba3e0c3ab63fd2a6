package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWindowsQuoteArg(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"serve", "serve"},
		{`C:\ProgramData\izytroniq\izytroniq.toml`, `C:\ProgramData\izytroniq\izytroniq.toml`},
		{`C:\Program Files\izytroniq\izytroniq.toml`, `"C:\Program Files\izytroniq\izytroniq.toml"`},
		{`C:\dir with space\`, `"C:\dir with space\\"`},
		{`a"b`, `a\"b`},
		{`a\"b`, `a\\\"b`},
		{`a b"c`, `"a b\"c"`},
		{"tab\there", "\"tab\there\""},
	} {
		if got := windowsQuoteArg(tc.in); got != tc.want {
			t.Errorf("windowsQuoteArg(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestWindowsCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		program string
		args    []string
		want    string
		wantErr string
	}{
		{"plain", `C:\izytroniq\izytroniq.exe`, []string{"serve", "--config", `C:\izytroniq\izytroniq.toml`},
			`C:\izytroniq\izytroniq.exe serve --config C:\izytroniq\izytroniq.toml`, ""},
		{"spaces", `C:\Program Files\Izytroniq\1.4.0\izytroniq.exe`, []string{"serve", "--config", `C:\Program Data\izy.toml`},
			`"C:\Program Files\Izytroniq\1.4.0\izytroniq.exe" serve --config "C:\Program Data\izy.toml"`, ""},
		{"quote in argument", `C:\izy.exe`, []string{`C:\a "b"\c.toml`}, `C:\izy.exe "C:\a \"b\"\c.toml"`, ""},
		{"dollar is plain", `C:\$izy\izy.exe`, []string{`$HOME`}, `C:\$izy\izy.exe $HOME`, ""},
		{"percent in program", `C:\%TEMP%\izy.exe`, nil, "", "%"},
		{"percent in argument", `C:\izy.exe`, []string{`C:\%APPDATA%\izy.toml`}, "", "%"},
		{"quote in program", `C:\a"b\izy.exe`, nil, "", `"`},
		{"empty program", "", nil, "", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WindowsCommandLine(tc.program, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WindowsCommandLine = %q, %v; want an error about %s", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("WindowsCommandLine = %s\nwant                 %s", got, tc.want)
			}
			words, err := SplitWindowsCommandLine(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append([]string{tc.program}, tc.args...), words); diff != "" {
				t.Errorf("split (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzWindowsCommandLine(f *testing.F) {
	f.Add(`C:\Program Files\izy.exe`, `a "b" \\`)
	f.Add(`C:\x.exe`, `\"\\"`)
	f.Fuzz(func(t *testing.T, program, arg string) {
		line, err := WindowsCommandLine(program, []string{arg, "tail"})
		if err != nil {
			return
		}
		words, err := SplitWindowsCommandLine(line)
		if err != nil {
			t.Fatalf("split %q: %v", line, err)
		}
		if len(words) != 3 || words[0] != program || words[1] != arg || words[2] != "tail" {
			t.Fatalf("round trip of %q, %q through %q gave %q", program, arg, line, words)
		}
	})
}

func TestRepointWindowsConfig(t *testing.T) {
	spec := Spec{
		Name: "izytroniq", DisplayName: "Izytroniq", Description: "Izytroniq server",
		BinaryPath: `C:\Program Files\Izytroniq\1.4.0\izytroniq.exe`,
		Args:       []string{"serve", "--config", `C:\ProgramData\Izytroniq\izytroniq.toml`},
		User:       `CORP\svc-izy`,
	}
	created, err := NewWindowsConfig(spec, "secret")
	if err != nil {
		t.Fatal(err)
	}
	// What the service manager returns: no password, and fields set since.
	old := created
	old.Password = ""
	old.Dependencies = []string{"Tcpip"}
	old.TagId = 7
	// A hand-edited argument tail, kept byte for byte.
	old.BinaryPathName = `"C:\Program Files\Izytroniq\1.4.0\izytroniq.exe"  serve --config "C:\ProgramData\Izytroniq\izytroniq.toml"`

	got, err := RepointWindowsConfig(old, `C:\Program Files\Izytroniq\1.5.0\izytroniq.exe`)
	if err != nil {
		t.Fatal(err)
	}
	want := old
	want.BinaryPathName = `"C:\Program Files\Izytroniq\1.5.0\izytroniq.exe"  serve --config "C:\ProgramData\Izytroniq\izytroniq.toml"`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RepointWindowsConfig (-want +got):\n%s", diff)
	}
	if got.Password != "" || got.ServiceStartName != `CORP\svc-izy` {
		t.Errorf("account not kept as is: %q with password %q", got.ServiceStartName, got.Password)
	}

	for _, tc := range []struct{ old, program, want string }{
		{`C:\izy\1\izy.exe serve`, `C:\izy\2\izy.exe`, `C:\izy\2\izy.exe serve`},
		{`C:\izy\1\izy.exe`, `C:\Program Files\izy.exe`, `"C:\Program Files\izy.exe"`},
		{`"C:\a b\izy.exe" serve --config "x y"`, `C:\izy.exe`, `C:\izy.exe serve --config "x y"`},
	} {
		got, err := RepointWindowsCommandLine(tc.old, tc.program)
		if err != nil || got != tc.want {
			t.Errorf("RepointWindowsCommandLine(%q, %q) = %q, %v; want %q", tc.old, tc.program, got, err, tc.want)
		}
	}
	if _, err := RepointWindowsCommandLine(`"C:\unterminated`, `C:\izy.exe`); err == nil {
		t.Errorf("RepointWindowsCommandLine of an unterminated quote succeeded")
	}
}

func TestNewWindowsConfig(t *testing.T) {
	spec := Spec{Name: "izytroniq", BinaryPath: `C:\izy\izy.exe`, Args: []string{"serve"}, User: "svc-izy"}
	c, err := NewWindowsConfig(spec, "pw")
	if err != nil {
		t.Fatal(err)
	}
	want := WindowsConfig{
		ServiceType: winServiceOwnProcess, StartType: winStartAutomatic, DelayedAutoStart: true,
		ErrorControl: winErrorNormal, BinaryPathName: `C:\izy\izy.exe serve`,
		ServiceStartName: `.\svc-izy`, Password: "pw", DisplayName: "izytroniq",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("NewWindowsConfig (-want +got):\n%s", diff)
	}
	if _, err := NewWindowsConfig(spec, ""); err == nil || !strings.Contains(err.Error(), "--password-file") {
		t.Errorf("NewWindowsConfig without a password = %v, want an error naming --password-file", err)
	}
	for _, account := range []string{"LocalSystem", `NT AUTHORITY\NetworkService`, `NT SERVICE\izytroniq`, `CORP\gmsa-izy$`} {
		spec.User = account
		if _, err := NewWindowsConfig(spec, ""); err != nil {
			t.Errorf("NewWindowsConfig as %s without a password: %v", account, err)
		}
	}
}

func TestWindowsAccount(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"svc-izy", `.\svc-izy`},
		{`.\svc-izy`, `.\svc-izy`},
		{`CORP\svc-izy`, `CORP\svc-izy`},
		{"svc-izy@corp.example", "svc-izy@corp.example"},
		{"LocalSystem", "LocalSystem"},
		{`NT AUTHORITY\NetworkService`, `NT AUTHORITY\NetworkService`},
		{"bad\nname", ""},
		{`a"b`, ""},
		{`a\b\c`, ""},
		{"", ""},
		{" padded", ""},
	} {
		got, err := WindowsAccount(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("WindowsAccount(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("WindowsAccount(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestWindowsRecoveryActions(t *testing.T) {
	want := []RecoveryAction{
		{winActionRestart, 5 * time.Second}, {winActionRestart, 30 * time.Second}, {winActionRestart, 60 * time.Second},
	}
	if diff := cmp.Diff(want, WindowsRecoveryActions()); diff != "" {
		t.Errorf("recovery actions (-want +got):\n%s", diff)
	}
	if got, want := WindowsRecoveryReset, 24*time.Hour; got != want {
		t.Errorf("reset period %v, want %v", got, want)
	}
}
