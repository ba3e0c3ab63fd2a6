package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// session is a signed-in command's config, API client and open replica.
type session struct {
	cfg     *Config
	client  *client.Client
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
	c, err := client.New(cfg.Server, client.WithToken(cfg.Token))
	if err != nil {
		return nil, err
	}
	r, err := replica.Open(ctx, replicaPath(e.home))
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, client: c, replica: r}, nil
}

// online explains a failed server call in terms of what to do next.
func (s *session) online(err error) error {
	if err == nil {
		return nil
	}
	if client.IsNetError(err) {
		return fmt.Errorf("cannot reach the server %s (%v); your offline work is safe in the outbox — try again when online", s.cfg.Server, errors.Unwrap(err))
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

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "izy"
	}
	return h
}
