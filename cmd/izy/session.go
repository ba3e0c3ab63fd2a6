package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// session is a signed-in command's config, API client (every call retried, see retry.go)
// and open replica.
type session struct {
	cfg     *Config
	client  *remote
	replica *replica.Replica
}

func (s *session) Close() error {
	if s.replica != nil {
		return s.replica.Close()
	}
	return nil
}

// errNotLoggedIn says what to do next.
var errNotLoggedIn = izy.Errorf(izy.EUNAUTHORIZED, "not logged in: run izy login --server URL --user NAME")

// openSession loads the config and opens the replica; it needs a prior login.
func (e *env) openSession(ctx context.Context) (*session, error) {
	cfg, err := loadConfig(e.home)
	if err != nil {
		return nil, err
	}
	if cfg.Server == "" || cfg.Token == "" {
		return nil, errNotLoggedIn
	}
	c, err := client.New(cfg.Server, client.WithToken(cfg.Token), client.WithClientVersion(version))
	if err != nil {
		return nil, err
	}
	rt, err := newRetrier(e)
	if err != nil {
		return nil, err
	}
	r, err := replica.Open(ctx, replicaPath(e.home))
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, client: &remote{c: c, r: rt}, replica: r}, nil
}

// online explains a failed server call in terms of what to do next.
func (s *session) online(err error) error {
	if err == nil {
		return nil
	}
	if client.IsNetError(err) {
		return fmt.Errorf("cannot reach the server %s (%v); your offline work is safe in the outbox — run the command again when online", s.cfg.Server, netCause(err))
	}
	var g *gaveUpError
	if errors.As(err, &g) { // the server kept answering 429, 502, 503 or 504
		return izy.Errorf(izy.ErrorCode(err), "%s; gave up after %d attempts in %s — your offline work is safe in the outbox: run the command again later",
			izy.ErrorMessage(err), g.attempts, g.since.Round(time.Second))
	}
	if izy.ErrorCode(err) == izy.EUNAUTHORIZED {
		return izy.Errorf(izy.EUNAUTHORIZED, "the server no longer accepts your sign-in (%s): run izy login --server %s --user %s", izy.ErrorMessage(err), s.cfg.Server, s.cfg.Username)
	}
	return err
}

// handshake checks that the server speaks our protocol.
func (s *session) handshake(ctx context.Context) (*client.Handshake, error) {
	h, err := s.client.Handshake(ctx, client.HandshakeRequest{ClientVersion: version, ProtocolVersion: izy.ProtocolVersion, ClientID: s.cfg.ClientID})
	if err != nil {
		return nil, s.online(err)
	}
	if !h.ProtocolSupported {
		return h, izy.Errorf(izy.ECONFLICT, "the server (version %s) speaks sync protocols %v, this client %d: update izy", h.ServerVersion, h.ProtocolVersions, izy.ProtocolVersion)
	}
	return h, nil
}

// netCause is the cause of a network failure without the call that failed.
func netCause(err error) error {
	var n *client.NetError
	if errors.As(err, &n) {
		var g *gaveUpError
		if errors.As(err, &g) {
			return fmt.Errorf("%v; gave up after %d attempts in %s", n.Err, g.attempts, g.since.Round(time.Second))
		}
		return n.Err
	}
	return errors.Unwrap(err)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "izy"
	}
	return h
}
