package izytroniq_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/izytroniq/izytroniq"

// pkg is one package of the module as `go list` sees its non-test code.
type pkg struct {
	path    string
	name    string
	imports []string // direct
	deps    []string // transitive
}

// listPackages runs `go list` on the module's non-test code.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH")
	}
	out, err := exec.Command(goTool, "list", "-f", "{{.ImportPath}}|{{.Name}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 4 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		pkgs[f[0]] = pkg{path: f[0], name: f[1], imports: split(f[2]), deps: split(f[3])}
	}
	return pkgs
}

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// isMain reports whether p is a program (cmd/*, bench/*): only programs wire adapters.
func isMain(p pkg) bool { return p.name == "main" }

func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestDependencyDirection keeps STYLE.md's "Dependency direction": cmd → internal/* and
// client → root → standard library; server and syncer never import sqldb.
func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	if _, ok := pkgs[module]; !ok {
		t.Fatalf("go list did not list the root package %s", module)
	}

	t.Run("root uses the standard library only", func(t *testing.T) {
		for _, d := range pkgs[module].deps {
			if !isStandard(d) {
				t.Errorf("the domain package depends on %s; it may use the standard library only", d)
			}
		}
	})

	// Packages that only the packages allowed may depend on (non-test code).
	for _, rule := range []struct {
		dep     string
		allowed func(p pkg) bool
		why     string
	}{
		{module + "/internal/sqldb", func(p pkg) bool {
			return isMain(p) || strings.HasPrefix(p.path, module+"/internal/sqldb") ||
				// Backups and updates operate on the database itself (VACUUM INTO, pg_dump,
				// migrations), not through the domain: they are part of the storage layer's
				// administration, like the programs that call them.
				p.path == module+"/internal/backup" || p.path == module+"/internal/update"
		}, "adapters declare the store interface they need; only programs (and backup/update) pass them a *sqldb.DB"},
		{module + "/internal/sqldb/sqldbtest", func(p pkg) bool { return false },
			"sqldbtest is for tests only"},
		{module + "/internal/seed", func(p pkg) bool { return isMain(p) },
			"sample data is made by programs (demo, seed, benchmarks), not by the server"},
		{module + "/internal/server", func(p pkg) bool { return isMain(p) },
			"the HTTP server is wired by programs only; other adapters do not call it in-process"},
	} {
		t.Run("only allowed packages depend on "+strings.TrimPrefix(rule.dep, module+"/"), func(t *testing.T) {
			for _, p := range pkgs {
				if p.path == rule.dep || rule.allowed(p) {
					continue
				}
				for _, d := range p.deps {
					if d == rule.dep {
						t.Errorf("%s depends on %s: %s", p.path, rule.dep, rule.why)
					}
				}
			}
		})
	}

	t.Run("internal packages do not depend on programs", func(t *testing.T) {
		for _, p := range pkgs {
			for _, d := range p.deps {
				if strings.HasPrefix(d, module+"/cmd/") || strings.HasPrefix(d, module+"/bench/") {
					t.Errorf("%s depends on the program %s", p.path, d)
				}
			}
		}
	})

	t.Run("client depends on the root and the standard library", func(t *testing.T) {
		for _, p := range pkgs {
			if p.path != module+"/client" && !strings.HasPrefix(p.path, module+"/client/") {
				continue
			}
			for _, d := range p.deps {
				if !isStandard(d) && d != module && !strings.HasPrefix(d, module+"/client") {
					t.Errorf("%s depends on %s; the API client may use the domain and the standard library only", p.path, d)
				}
			}
		}
	})

	t.Run("every non-standard dependency is in the module or go.mod's direct requires", func(t *testing.T) {
		direct := []string{"modernc.org/sqlite", "github.com/jackc/pgx/v5", "github.com/BurntSushi/toml"}
		for _, p := range pkgs {
			for _, d := range p.imports {
				if isStandard(d) || inModule(d) {
					continue
				}
				ok := false
				for _, m := range direct {
					if d == m || strings.HasPrefix(d, m+"/") {
						ok = true
					}
				}
				// The Windows service manager API, for internal/service only (its
				// windows files; listed here so the rule holds under GOOS=windows too).
				if p.path == module+"/internal/service" && strings.HasPrefix(d, "golang.org/x/sys/") {
					ok = true
				}
				if !ok {
					t.Errorf("%s imports %s, which README.md does not account for as a dependency", p.path, d)
				}
			}
		}
	})
}
