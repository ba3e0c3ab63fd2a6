package update

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// migrateResult is what the new binary's `db upgrade --json` prints.
type migrateResult struct {
	From    int   `json:"from"`
	To      int   `json:"to"`
	Applied []int `json:"applied"`
}

// migratePhase is phase 5: the staged binary, which carries the new migrations, runs
// `db upgrade` as a child process; it takes the migration lock itself. Its output goes
// to the log.
func migratePhase(ctx context.Context, r *run) error {
	r.j.MigrateStarted = true
	if err := r.save(PhaseMigrate); err != nil {
		return err
	}
	r.crashPoint("migrate:before")
	ctx, cancel := context.WithTimeout(ctx, r.o.MigrateTimeout)
	defer cancel()
	args := []string{"db", "upgrade", "--json"}
	if r.o.ConfigPath != "" {
		args = append(args, "--config", r.o.ConfigPath)
	}
	cmd := exec.CommandContext(ctx, r.j.ToBinary, args...)
	// The DSN goes in the environment, not the command line others can read.
	cmd.Env = append(os.Environ(), "IZYTRONIQ_DB="+r.o.DSN, "IZYTRONIQ_DATA_DIR="+r.o.DataDir)
	cmd.Env = append(cmd.Env, r.o.MigrateEnv...)
	childDiesWithParent(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	r.log.Info("migrating with the new binary", "binary", r.j.ToBinary)
	err := cmd.Run()
	if err != nil && strings.HasPrefix(r.o.CrashAt, "migration:") {
		// The knob killed the child inside a migration; a power cut takes this
		// process with it.
		r.crashPoint(r.o.CrashAt)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			r.log.Info("db upgrade: " + line)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("migration did not finish within %s: %w", r.o.MigrateTimeout, ctx.Err())
		}
		return fmt.Errorf("the new binary's db upgrade failed (%v): %s", err, lastLines(stderr.String()+stdout.String(), 3))
	}
	var res migrateResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return fmt.Errorf("the new binary's db upgrade printed %q: %w", lastLines(stdout.String(), 2), err)
	}
	if res.To != r.manifest.SchemaVersion {
		return fmt.Errorf("after db upgrade the schema is %d, the package says %d", res.To, r.manifest.SchemaVersion)
	}
	r.note("migrated the database from schema %d to %d (%d migration(s), %s)", res.From, res.To, len(res.Applied), time.Since(start).Round(time.Millisecond))
	r.j.Migrated = true
	if err := r.save(""); err != nil {
		return err
	}
	r.crashPoint("migrate:after")
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
