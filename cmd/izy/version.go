package main

import (
	"context"
	"fmt"

	izy "github.com/izytroniq/izytroniq"
)

// VersionCommand prints the client and protocol versions.
type VersionCommand struct{ env *env }

// Run runs the command.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "version", "version", "Print the client version and the sync protocol versions it speaks.", &asJSON)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	v := map[string]any{"version": version, "protocol_version": izy.ProtocolVersion, "previous_protocol_version": izy.PreviousProtocolVersion}
	if asJSON {
		return writeJSON(c.env.stdout, v)
	}
	fmt.Fprintf(c.env.stdout, "izy %s (sync protocol %d)\n", version, izy.ProtocolVersion)
	return nil
}
