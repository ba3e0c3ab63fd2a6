package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderUnitGolden(t *testing.T) {
	spec := Spec{
		Name:        "izytroniq",
		Description: "Izytroniq server (100% on-premises)",
		BinaryPath:  "/opt/izytroniq/1.4.0/izytroniq",
		Args:        []string{"serve", "--config", "/etc/izytroniq/izytroniq.toml"},
		User:        "izytroniq",
		WorkingDir:  "/var/lib/izytroniq",
	}
	got, err := RenderUnit(spec)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "izytroniq.service")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("unit file differs from %s (-want +got):\n%s", golden, diff)
	}
}

// awkwardDirs are directory names that need quoting or escaping in a unit file.
var awkwardDirs = []string{
	"plain",
	"with space",
	`double"quote`,
	"single'quote",
	"percent%n%%",
	"dollar$HOME${USER}$$",
	`back\slash\`,
	"semi;colon",
	"umlaut Prüfgerät",
	"all % $ \" ' \\ ; of them",
}

// TestSystemdCommandLineRoundTrip checks quoting against our reader and, where
// systemd-analyze is installed, against systemd itself: verify fails when the program
// it reads from ExecStart= is not the executable file we made.
func TestSystemdCommandLineRoundTrip(t *testing.T) {
	analyze, _ := exec.LookPath("systemd-analyze")
	account := existingUser(t)
	for _, d := range awkwardDirs {
		t.Run(d, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), d)
			spec := testSpec(t, dir, account)
			spec.Args = append(spec.Args, d, "--flag="+d, "")
			line, err := SystemdCommandLine(spec.BinaryPath, spec.Args)
			if err != nil {
				t.Fatal(err)
			}
			words, _, err := splitSystemdCommandLine(line)
			if err != nil {
				t.Fatalf("split %q: %v", line, err)
			}
			if diff := cmp.Diff(append([]string{spec.BinaryPath}, spec.Args...), words); diff != "" {
				t.Errorf("round trip of %q (-want +got):\n%s", line, diff)
			}
			if analyze == "" {
				t.Skip("systemd-analyze is not installed; checked with our reader only")
			}
			verifyUnit(t, analyze, spec)
		})
	}
}

// verifyUnit writes spec's unit and runs systemd-analyze verify on it.
func verifyUnit(t *testing.T, analyze string, spec Spec) {
	t.Helper()
	unit, err := RenderUnit(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), spec.Name+".service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, out, unit)
	}
	if bytes.Contains(out, []byte("not executable")) || bytes.Contains(out, []byte("specifier")) {
		t.Fatalf("systemd-analyze verify complains:\n%s\nunit:\n%s", out, unit)
	}
}

func TestSystemdCommandLineRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		program string
		args    []string
	}{
		{"relative program", "izytroniq", nil},
		{"lone semicolon", "/opt/izytroniq", []string{";"}},
		{"invalid UTF-8", "/opt/\xff", nil},
		{"NUL", "/opt/a\x00b", nil},
		{"double quote in program", "/opt/a\"b/izytroniq", nil},
		{"single quote in program", "/opt/a'b/izytroniq", nil},
		{"backslash in program", `/opt/a\b/izytroniq`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := SystemdCommandLine(tc.program, tc.args); err == nil {
				t.Errorf("SystemdCommandLine(%q, %q) = %q, want an error", tc.program, tc.args, got)
			}
		})
	}
}

func TestSystemdQuote(t *testing.T) {
	for _, tc := range []struct {
		in     string
		dollar bool
		want   string
	}{
		{"/opt/izytroniq", true, `"/opt/izytroniq"`},
		{"/a b", true, `"/a b"`},
		{"50%", true, `"50%%"`},
		{"$HOME", true, `"$$HOME"`},
		{"$HOME", false, `"$HOME"`},
		{`a"b`, true, `"a\"b"`},
		{`a\b`, true, `"a\\b"`},
		{"a\nb", true, `"a\nb"`},
		{"a\x01b", true, `"a\x01b"`},
	} {
		if got := systemdQuote(tc.in, tc.dollar); got != tc.want {
			t.Errorf("systemdQuote(%q, %v) = %s, want %s", tc.in, tc.dollar, got, tc.want)
		}
	}
}

func FuzzSystemdCommandLine(f *testing.F) {
	for _, d := range awkwardDirs {
		f.Add("/opt/"+d, d)
	}
	f.Add("/", "")
	f.Add("/x", "a\tb\nc\x7f")
	f.Fuzz(func(t *testing.T, program, arg string) {
		line, err := SystemdCommandLine(program, []string{arg})
		if err != nil {
			return
		}
		if strings.ContainsAny(line, "\n\r\x00") {
			t.Fatalf("command line %q holds a line break or NUL", line)
		}
		// Every % must be escaped, so systemd expands no specifier.
		if strings.Count(line, "%")%2 != 0 || strings.Contains(strings.ReplaceAll(line, "%%", ""), "%") {
			t.Fatalf("command line %q has an unescaped %%", line)
		}
		words, _, err := splitSystemdCommandLine(line)
		if err != nil {
			t.Fatalf("split %q: %v", line, err)
		}
		if len(words) != 2 || words[0] != program || words[1] != arg {
			t.Fatalf("round trip of %q, %q through %q gave %q", program, arg, line, words)
		}
	})
}

func TestRenderUnitRefuses(t *testing.T) {
	good := Spec{Name: "izytroniq", BinaryPath: "/opt/izytroniq", User: "izytroniq", WorkingDir: "/var/lib/izytroniq"}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
	}{
		{"name with slash", func(s *Spec) { s.Name = "a/b" }},
		{"name with newline", func(s *Spec) { s.Name = "a\nExecStartPre=/bin/sh" }},
		{"name with shell metacharacter", func(s *Spec) { s.Name = "izy;rm" }},
		{"name with .service", func(s *Spec) { s.Name = "izytroniq.service" }},
		{"name empty", func(s *Spec) { s.Name = "" }},
		{"user with newline", func(s *Spec) { s.User = "izy\nUser=root" }},
		{"user with space", func(s *Spec) { s.User = "izy tron" }},
		{"user with slash", func(s *Spec) { s.User = "a/b" }},
		{"user with dollar", func(s *Spec) { s.User = "$USER" }},
		{"user root", func(s *Spec) { s.User = "root" }},
		{"user empty", func(s *Spec) { s.User = "" }},
		{"relative binary", func(s *Spec) { s.BinaryPath = "bin/izytroniq" }},
		{"unclean binary", func(s *Spec) { s.BinaryPath = "/opt/../opt/izytroniq" }},
		{"binary with newline", func(s *Spec) { s.BinaryPath = "/opt/a\nb" }},
		{"relative working dir", func(s *Spec) { s.WorkingDir = "data" }},
		{"working dir with trailing space", func(s *Spec) { s.WorkingDir = "/var/lib/x " }},
		{"description with newline", func(s *Spec) { s.Description = "a\n[Service]" }},
		{"argument with newline", func(s *Spec) { s.Args = []string{"a\nb"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.change(&s)
			if got, err := RenderUnit(s); err == nil {
				t.Errorf("RenderUnit(%+v) succeeded:\n%s", s, got)
			}
		})
	}
	if _, err := RenderUnit(good); err != nil {
		t.Fatalf("RenderUnit(good) = %v", err)
	}
}

func TestParseUnitReadsBack(t *testing.T) {
	spec := testSpec(t, filepath.Join(t.TempDir(), "a b%$"), "izytroniq")
	unit, err := RenderUnit(spec)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(unit)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.user, spec.User; got != want {
		t.Errorf("User = %q, want %q", got, want)
	}
	if diff := cmp.Diff(append([]string{spec.BinaryPath}, spec.Args...), u.exec); diff != "" {
		t.Errorf("ExecStart (-want +got):\n%s", diff)
	}
	// Settings the unit must carry (SPEC: User=, restart policy, hardening).
	for _, line := range []string{
		"Type=notify", "NotifyAccess=all", "ExecReload=/bin/kill -HUP $MAINPID", "User=izytroniq", "Restart=on-failure", "RestartSec=5s", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "PrivateTmp=yes", "LimitNOFILE=65536", "WantedBy=multi-user.target",
		"ReadWritePaths=" + systemdQuote(spec.WorkingDir, false),
		"WorkingDirectory=" + strings.ReplaceAll(spec.WorkingDir, "%", "%%"),
	} {
		if !bytes.Contains(unit, []byte("\n"+line+"\n")) {
			t.Errorf("unit lacks the line %q:\n%s", line, unit)
		}
	}
}

func TestRepointUnitChangesOnlyTheProgram(t *testing.T) {
	for _, d := range awkwardDirs {
		t.Run(d, func(t *testing.T) {
			spec := testSpec(t, filepath.Join(t.TempDir(), d), "izytroniq")
			unit, err := RenderUnit(spec)
			if err != nil {
				t.Fatal(err)
			}
			newBinary := filepath.Join(filepath.Dir(filepath.Dir(spec.BinaryPath)), "2.0.0 "+strings.NewReplacer(`"`, "", "'", "", `\`, "").Replace(d), "izytroniq")
			got, err := RepointUnit(unit, newBinary)
			if err != nil {
				t.Fatal(err)
			}
			oldLines, newLines := strings.Split(string(unit), "\n"), strings.Split(string(got), "\n")
			if len(oldLines) != len(newLines) {
				t.Fatalf("line count %d, want %d", len(newLines), len(oldLines))
			}
			for i := range oldLines {
				if strings.HasPrefix(oldLines[i], "ExecStart=") {
					continue
				}
				if oldLines[i] != newLines[i] {
					t.Errorf("line %d changed: %q → %q", i+1, oldLines[i], newLines[i])
				}
			}
			u, err := parseUnit(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append([]string{newBinary}, spec.Args...), u.exec); diff != "" {
				t.Errorf("ExecStart after Repoint (-want +got):\n%s", diff)
			}
			// The arguments' text is kept byte for byte.
			oldExec, _ := SystemdCommandLine(spec.BinaryPath, spec.Args)
			prog, _ := SystemdCommandLine(spec.BinaryPath, nil)
			if !strings.Contains(string(got), strings.TrimPrefix(oldExec, prog)+"\n") {
				t.Errorf("arguments not kept verbatim:\n%s", got)
			}
		})
	}
}
