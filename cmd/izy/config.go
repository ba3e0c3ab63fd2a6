package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	izy "github.com/izytroniq/izytroniq"
)

// Config is what izy keeps in HOME/config.json (mode 0600: it holds a token).
type Config struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Token    string `json:"token"`
	ClientID string `json:"client_id"` // made once per home directory; the server knows the client by it
}

func configPath(home string) string  { return filepath.Join(home, "config.json") }
func replicaPath(home string) string { return filepath.Join(home, "replica.db") }

// loadConfig reads the config; a missing file is an empty Config.
func loadConfig(home string) (*Config, error) {
	b, err := os.ReadFile(configPath(home))
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config %s is damaged (%v); remove it and run izy login again", configPath(home), err)
	}
	return &c, nil
}

// save writes the config atomically with mode 0600, making the home directory if needed.
func (c *Config) save(home string) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("make home directory: %w", err)
	}
	if c.ClientID == "" {
		c.ClientID = izy.NewID()
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := configPath(home) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps the mode of an existing file
		return err
	}
	return os.Rename(tmp, configPath(home))
}
