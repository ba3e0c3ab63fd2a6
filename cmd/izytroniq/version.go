package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// VersionCommand prints what this binary is and what it speaks.
type VersionCommand struct {
	*env
}

// VersionInfo is the output of `izytroniq version --json`.
type VersionInfo struct {
	Version          string `json:"version"`
	SchemaVersion    int    `json:"schema_version"`
	ProtocolVersions []int  `json:"protocol_versions"`
	GoVersion        string `json:"go_version"`
	OS               string `json:"os"`
	Arch             string `json:"arch"`
}

// Run runs `izytroniq version`.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "version", "version [--json]", `
Print the product version, the database schema version this binary needs, the sync
protocol versions it speaks and the Go version it was built with.`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := VersionInfo{
		Version:          version,
		SchemaVersion:    sqldb.LatestSchemaVersion(),
		ProtocolVersions: protocolVersions,
		GoVersion:        runtime.Version(),
		OS:               runtime.GOOS,
		Arch:             runtime.GOARCH,
	}
	if *asJSON {
		return writeJSON(c.stdout, v)
	}
	protos := make([]string, len(v.ProtocolVersions))
	for i, p := range v.ProtocolVersions {
		protos[i] = fmt.Sprint(p)
	}
	tw := newTable(c.stdout)
	fmt.Fprintf(tw, "izytroniq\t%s\n", v.Version)
	fmt.Fprintf(tw, "schema version\t%d\n", v.SchemaVersion)
	fmt.Fprintf(tw, "protocol versions\t%s\n", strings.Join(protos, ", "))
	fmt.Fprintf(tw, "go\t%s %s/%s\n", v.GoVersion, v.OS, v.Arch)
	return tw.Flush()
}
