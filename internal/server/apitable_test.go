package server_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/server"
)

var update = flag.Bool("update", false, "rewrite testdata/api_table.md and the API table in ../../README.md from Routes()")

const (
	readmePath   = "../../README.md"
	tablePath    = "testdata/api_table.md"
	beginMarker  = "<!-- api:begin -->"
	endMarker    = "<!-- api:end -->"
	tableHeading = "| Method | Path | Auth | What |\n|---|---|---|---|\n"
)

// apiTable renders Routes() as the README's markdown table.
func apiTable(routes []server.Route) string {
	var b strings.Builder
	b.WriteString(tableHeading)
	for _, rt := range routes {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", rt.Method, displayPath(rt.Pattern), rt.Auth(), rt.Summary)
	}
	return b.String()
}

// displayPath shows "/{$}" (the ServeMux way to say "exactly /") as "/".
func displayPath(pattern string) string { return strings.TrimSuffix(pattern, "{$}") }

// tableRows parses the rows of a markdown table into "Method | Path | Auth | What" keys.
func tableRows(t *testing.T, md string) []string {
	t.Helper()
	var rows []string
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("table row %q has %d columns, want 4 (Method | Path | Auth | What)", line, len(cells))
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if cells[0] == "Method" || strings.Trim(cells[0], "-: ") == "" {
			continue // heading and separator
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	return rows
}

func routeRows(t *testing.T) []string {
	routes := (&server.Server{}).Routes()
	for _, rt := range routes {
		if strings.Contains(rt.Summary, "|") {
			t.Fatalf("summary of %s %s contains |, which breaks the table", rt.Method, rt.Pattern)
		}
	}
	return tableRows(t, apiTable(routes))
}

// compareRows fails on every row that is in one list and not in the other.
func compareRows(t *testing.T, where string, got, want []string) {
	t.Helper()
	in := func(rows []string) map[string]bool {
		m := map[string]bool{}
		for _, r := range rows {
			m[r] = true
		}
		return m
	}
	g, w := in(got), in(want)
	for _, r := range want {
		if !g[r] {
			t.Errorf("%s lacks the route: %s", where, r)
		}
	}
	for _, r := range got {
		if !w[r] {
			t.Errorf("%s lists a route Routes() does not have (or describes it differently): %s", where, r)
		}
	}
	if t.Failed() {
		t.Logf("regenerate with: go test ./internal/server -run TestAPITable -update")
	}
}

// TestAPITable keeps testdata/api_table.md and the README's API reference (between
// <!-- api:begin --> and <!-- api:end -->) equal to Routes(), in both directions.
func TestAPITable(t *testing.T) {
	want := routeRows(t)
	table := apiTable((&server.Server{}).Routes())

	t.Run("testdata", func(t *testing.T) {
		if *update {
			if err := os.WriteFile(tablePath, []byte(table), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(tablePath)
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, tablePath, tableRows(t, string(b)), want)
	})

	t.Run("README", func(t *testing.T) {
		b, err := os.ReadFile(readmePath)
		if os.IsNotExist(err) {
			t.Skip("README.md does not exist yet")
		}
		if err != nil {
			t.Fatal(err)
		}
		readme := string(b)
		begin, end := strings.Index(readme, beginMarker), strings.Index(readme, endMarker)
		if begin < 0 || end < begin {
			t.Fatalf("README.md has no %s … %s section; paste %s between them", beginMarker, endMarker, tablePath)
		}
		if *update {
			readme = readme[:begin+len(beginMarker)] + "\n" + table + readme[end:]
			if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			begin, end = strings.Index(readme, beginMarker), strings.Index(readme, endMarker)
		}
		compareRows(t, "README.md", tableRows(t, readme[begin+len(beginMarker):end]), want)
	})
}
