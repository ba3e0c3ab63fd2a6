package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/seed"
	"github.com/izytroniq/izytroniq/internal/server"
)

// DemoCommand runs a server with sample data in a throw-away directory.
type DemoCommand struct {
	*env
}

// Run runs `izytroniq demo`.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "demo", "demo [--listen ADDR] [--devices N] [--keep]", `
Run a server with realistic sample data — customers, locations, devices, instruments and
three years of tests — in a new temporary directory with a SQLite database, and print
the URL and the admin login. The directory is deleted on exit unless --keep is given.`)
	listen := fs.String("listen", DefaultListen, "listen `address` HOST:PORT")
	devices := fs.Int("devices", 5000, "number of sample `devices`")
	keep := fs.Bool("keep", false, "keep the data directory on exit")
	seedN := fs.Uint64("seed", 1, "random `seed` of the sample data")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := validateListen(*listen); err != nil {
		return usageErrorf("--listen: %v", err)
	}
	if *devices < 0 {
		return usageErrorf("--devices must not be negative")
	}
	dir, err := os.MkdirTemp("", "izytroniq-demo-")
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	if *keep {
		defer fmt.Fprintf(c.stdout, "Kept %s (serve it again with: IZYTRONIQ_DATA_DIR=%s izytroniq serve)\n", dir, dir)
	} else {
		defer os.RemoveAll(dir)
	}

	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = *listen
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, closeLog, err := openLog(&cfg, nil, true)
	if err != nil {
		return err
	}
	defer closeLog()

	// Take the port first, so a busy port fails before the seeding.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running? try --listen 127.0.0.1:8081)", cfg.Listen, err)
	}
	defer ln.Close()

	db, _, err := openDB(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(c.stdout, "Generating sample data in %s\n", dir)
	st, err := seedDB(ctx, db, seed.Options{Devices: *devices, Seed: *seedN}, 0, c.stdout, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "  done: %s\n", summary(st))

	pw := randomPassword()
	hash, err := password.Hash(pw, cfg.Auth.PasswordIterations)
	if err != nil {
		return err
	}
	if err := db.CreateUser(ctx, &izy.User{Username: "admin", DisplayName: "Administrator", Role: izy.RoleAdmin}, hash); err != nil {
		return fmt.Errorf("create user admin: %w", err)
	}

	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(c.stdout, `
Izytroniq demo is running.
  URL:       %s
  Login:     admin / %s
  API:       curl -s -H 'Content-Type: application/json' -d '{"username":"admin","password":"%s"}' %sapi/v1/login
             curl -s -H "Authorization: Bearer $TOKEN" %sapi/v1/dashboard
  Data:      %s
  Logs:      %s
Press Ctrl+C to stop.
`, url, pw, pw, url, url, dir, filepath.Join(dir, "logs", LogFileName))

	ts, err := openTransfers(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer ts.Close()
	sc := serverConfig(&cfg)
	sc.Transfers = ts
	sc.Syncer = newSyncer(db, nil, logger) // a demo runs in evaluation mode: every client may check out
	srv := server.New(db, sc, logger)
	return srv.Serve(ctx, ln, "", "")
}
