package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/izytroniq/izytroniq/internal/clientrel"
	"github.com/izytroniq/izytroniq/internal/handoff"
	"github.com/izytroniq/izytroniq/internal/server"
)

// ServeCommand runs the server until it is interrupted.
type ServeCommand struct {
	*env
}

// Run runs `izytroniq serve`.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "serve", "serve [--config FILE] [--role all|app|sync] [--listen ADDR] [--db DSN] [--migrate]", `
Serve the HTTP API, the web page and the sync service. The server refuses a database
whose schema is older or newer than this binary's; upgrade it with 'izytroniq db upgrade'
first, or pass --migrate to upgrade on start (several processes starting together
migrate exactly once). SIGINT or SIGTERM stops the server gracefully.

SIGHUP (systemctl reload) hands the listening socket over to a new process without
dropping a connection (Linux): the new binary named in DATA_DIR/run/handoff-request.json
('izytroniq update' writes it), else this binary again. The new process serves with the
same arguments; this one finishes the requests it has and exits 0.`)
	var cf configFlags
	cf.register(fs, true)
	role := fs.String("role", "", "process `role`: all (default), app or sync")
	listen := fs.String("listen", "", "listen `address` HOST:PORT (default from the configuration, else "+DefaultListen+")")
	migrate := fs.Bool("migrate", false, "apply pending migrations before serving")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file` until the server stops (for benchmarks)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(c.env, &cf)
	if err != nil {
		return err
	}
	if *role != "" {
		cfg.Role = *role
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, f := range []string{cfg.TLS.Cert, cfg.TLS.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("tls: %w (check tls.cert and tls.key in the configuration)", err)
		}
	}
	logger, closeLog, err := openLog(cfg, c.stdout, true)
	if err != nil {
		return err
	}
	defer closeLog()
	logger.Info("starting", "version", version, "config", cfg.Path, "role", cfg.Role, "data_dir", cfg.DataDir)

	db, dsn, err := openDB(ctx, cfg, logger)
	if err != nil {
		logger.Error("open database", "err", err)
		return err
	}
	defer db.Close()
	if *migrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			logger.Error("migrate", "err", err)
			return fmt.Errorf("migrate: %w", err)
		}
		logger.Info("migrated", "applied", applied)
	}
	if err := db.CheckSchema(ctx); err != nil {
		logger.Error("database schema", "err", err, "dsn", redactDSN(dsn))
		return err
	}
	ln, inherited, err := handoff.Listen("tcp", cfg.Listen)
	if err != nil {
		logger.Error("listen", "err", err)
		return fmt.Errorf("listen on %s: %w (is another server running? change listen or use --listen)", cfg.Listen, err)
	}
	defer ln.Close() // deregisters it from handoff on early returns; Serve closes it too
	if inherited {
		logger.Info("hand-over: took over the listening socket", "addr", ln.Addr().String(), "pid", os.Getpid(), "parent_pid", os.Getppid())
	}
	up, err := handoff.New(handoff.RunDir(cfg.DataDir), logger)
	if err != nil {
		return fmt.Errorf("hand-over: %w", err)
	}
	defer up.Stop()
	// A hand-over ends this process like SIGTERM does, once the new one is ready.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-up.Exit():
			logger.Info("hand-over: the new process serves; finishing the requests in flight", "pid", os.Getpid())
			cancel()
		case <-ctx.Done():
		}
	}()
	ts, err := openTransfers(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ts.Close()
	lic := openLicence(cfg, logger)
	sc := serverConfig(cfg)
	sc.Transfers = ts
	sc.EditionFunc = func() string { return lic.Current().Edition() }
	sc.ClientReleases = clientrel.Open(clientReleasesDir(cfg))
	sy := newSyncer(db, licenceSeats(lic, db), logger)
	sc.Syncer = sy
	if cfg.Role != server.RoleApp {
		go sy.Run(ctx, 10*time.Minute) // the sync worker: tombstone collection
	}
	srv := server.New(db, sc, logger)
	up.OnDrain(srv.Drain)
	go func() {
		// Ready returns once Serve accepts: then the pidfile names this process, systemd
		// and (after a hand-over) the old process learn that it serves.
		if err := up.Ready(); err != nil {
			logger.Error("hand-over: ready", "err", err)
		}
	}()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := srv.Serve(ctx, ln, cfg.TLS.Cert, cfg.TLS.Key); err != nil {
		logger.Error("serve", "err", err)
		return err
	}
	return nil
}
