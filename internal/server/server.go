package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
)

// Config is what the server needs to know beyond its store. cmd/izytroniq fills it from
// the config file; zero fields get the defaults named below.
type Config struct {
	ProductVersion       string // this binary's version, e.g. "1.4.0"
	SchemaVersion        int    // the schema version this binary's migrations reach
	ProtocolVersions     []int  // sync wire protocol versions accepted; default [1]
	MinClientVersion     string // clients below it must update before downloading
	CurrentClientVersion string // the client release offered for download
	Edition              string // licence edition, or "evaluation"
	Windows              izy.EscalationWindows
	PasswordIterations   int           // PBKDF2 cost of new hashes; default password.DefaultIterations
	TokenTTL             time.Duration // lifetime of a login token; default 12 h
	MaxBodyBytes         int64         // request body limit; default 1 MiB
	Role                 string        // all (default), app or sync
	Now                  func() time.Time
	Transfers            Transfers // the /bits service; nil answers 503 there
	Syncer               Syncer    // the sync service; nil answers 503 on its routes
	// EditionFunc, when set, is asked for the edition on every use instead of Edition:
	// a licence installed while the server runs takes effect at once.
	EditionFunc func() string
	// ClientReleases, when set, holds the published izy builds: the handshake's current
	// and minimum client versions come from it instead of the two fields above.
	ClientReleases ClientReleases
}

// Process roles (serve --role).
const (
	RoleAll  = "all"
	RoleApp  = "app"
	RoleSync = "sync"
)

// Defaults for zero Config fields.
const (
	DefaultTokenTTL     = 12 * time.Hour
	DefaultMaxBodyBytes = 1 << 20
	// ShutdownTimeout bounds how long Serve waits for in-flight requests after its
	// context ends.
	ShutdownTimeout = 30 * time.Second
)

// Server is the HTTP server. Build it with New; it holds no state two server processes
// could disagree on (tokens and login failures live in the store), only metrics.
type Server struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	closing atomic.Bool // Drain was called: every response closes its connection

	dummyHash func() string // a hash of the configured cost, for unknown users
}

// New returns a server for store. It panics on a Config that cannot work, such as
// escalation windows out of order, because that is a wiring bug.
func New(store Store, cfg Config, logger *slog.Logger) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Windows == (izy.EscalationWindows{}) {
		cfg.Windows = izy.DefaultWindows
	}
	if err := cfg.Windows.Validate(); err != nil {
		panic(fmt.Sprintf("server.New: %v", err))
	}
	if cfg.PasswordIterations <= 0 {
		cfg.PasswordIterations = password.DefaultIterations
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if len(cfg.ProtocolVersions) == 0 {
		cfg.ProtocolVersions = []int{1}
	}
	if cfg.Role == "" {
		cfg.Role = RoleAll
	}
	if cfg.Edition == "" {
		cfg.Edition = "evaluation"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: store, cfg: cfg, log: logger, metrics: newMetrics(cfg.Now())}
	iterations := cfg.PasswordIterations
	s.dummyHash = sync.OnceValue(func() string {
		h, _ := password.Hash("no user has this password", iterations)
		return h
	})
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.handler = s.middleware(mux)
	return s
}

// edition is the licence edition the server reports.
func (s *Server) edition() string {
	if s.cfg.EditionFunc != nil {
		return s.cfg.EditionFunc()
	}
	return s.cfg.Edition
}

// Handler returns the server's HTTP handler with all middleware applied.
func (s *Server) Handler() http.Handler { return s.handler }

// Drain makes every response from now on carry "Connection: close", so keep-alive
// clients reconnect (to the process that took the listening socket over, see
// internal/handoff) instead of meeting an idle connection closed by Shutdown.
func (s *Server) Drain() { s.closing.Store(true) }

// drainWriter adds "Connection: close" to responses whose header is written after
// Drain, including those of requests that began before it.
type drainWriter struct {
	http.ResponseWriter
	closing *atomic.Bool
	wrote   bool
}

func (w *drainWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if w.closing.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *drainWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (w *drainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Serve serves on ln, with TLS when certFile and keyFile are both given, until ctx ends;
// then it stops accepting connections and waits up to ShutdownTimeout for requests in
// flight to finish. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.handler.ServeHTTP(&drainWriter{ResponseWriter: w, closing: &s.closing}, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	errc := make(chan error, 1)
	go func() {
		if certFile != "" && keyFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info("serving", "addr", ln.Addr().String(), "tls", certFile != "" && keyFile != "", "role", s.cfg.Role, "version", s.cfg.ProductVersion)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serr)
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// today is the calendar day in the process's time zone, as people at the site see it.
func (s *Server) today() izy.Date { return izy.DateOf(s.now()) }
