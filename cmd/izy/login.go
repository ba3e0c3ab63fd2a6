package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
)

// LoginCommand signs in and stores the server URL, the token and the client ID.
type LoginCommand struct{ env *env }

type loginResult struct {
	Server            string `json:"server"`
	Username          string `json:"username"`
	ClientID          string `json:"client_id"`
	ServerVersion     string `json:"server_version"`
	Edition           string `json:"edition"`
	ProtocolSupported bool   `json:"protocol_supported"`
	UpdateAvailable   bool   `json:"update_available"`
	UpdateRequired    bool   `json:"update_required"`
}

// Run runs the command.
func (c *LoginCommand) Run(ctx context.Context, args []string) error {
	var asJSON bool
	fs := newFlagSet(c.env, "login", "login --server URL --user NAME [--password-file F]",
		`Sign in and remember the server, the token and this client's ID in the home directory
(config.json, mode 0600). Without --password-file the password is read from standard input
(one line); on a terminal izy asks for it without echo where it can.`, &asJSON)
	server := fs.String("server", "", "server URL, e.g. https://izy.example.com")
	user := fs.String("user", "", "username")
	pwFile := fs.String("password-file", "", "read the password from this file (first line)")
	c.env.retryFlag(fs)
	if err := noArgs(fs, args); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(c.env.home)
	if err != nil {
		return err
	}
	if *server == "" {
		*server = cfg.Server
	}
	if *server == "" || *user == "" {
		return usageErrorf("login needs --server URL and --user NAME")
	}
	pw, err := c.password(*pwFile)
	if err != nil {
		return err
	}
	cl, err := client.New(*server)
	if err != nil {
		return err
	}
	rt, err := newRetrier(c.env)
	if err != nil {
		return err
	}
	s := &session{cfg: cfg, client: &remote{c: cl, r: rt}}
	if cfg.ClientID == "" {
		cfg.ClientID = izy.NewID()
	}
	cfg.Server, cfg.Username = cl.BaseURL(), *user
	if _, err := s.client.Login(ctx, *user, pw); err != nil {
		if client.IsNetError(err) {
			return fmt.Errorf("cannot reach %s: %v; check the URL and the network", *server, err)
		}
		return err
	}
	cfg.Token = cl.Token()
	h, herr := s.handshake(ctx)
	if err := cfg.save(c.env.home); err != nil {
		return err
	}
	res := loginResult{Server: cfg.Server, Username: cfg.Username, ClientID: cfg.ClientID}
	if h != nil {
		res.ServerVersion, res.Edition = h.ServerVersion, h.Edition
		res.ProtocolSupported, res.UpdateAvailable, res.UpdateRequired = h.ProtocolSupported, h.UpdateAvailable, h.UpdateRequired
	}
	if asJSON {
		return writeJSON(c.env.stdout, res)
	}
	fmt.Fprintf(c.env.stdout, "logged in to %s as %s (server %s, %s)\n", res.Server, res.Username, res.ServerVersion, res.Edition)
	if herr != nil {
		fmt.Fprintf(c.env.stderr, "warning: %s\n", izy.ErrorMessage(herr))
	}
	if res.UpdateRequired {
		fmt.Fprintln(c.env.stderr, "warning: this izy is older than the server's minimum; update it before checking out")
	}
	return nil
}

// password reads the password from the file, else from standard input.
func (c *LoginCommand) password(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return firstLine(string(b)), nil
	}
	if f, ok := c.env.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(c.env.stderr, "Password: ")
		restore := noEcho(f)
		line, err := bufio.NewReader(f).ReadString('\n')
		restore()
		fmt.Fprintln(c.env.stderr)
		if err != nil && err != io.EOF {
			return "", err
		}
		return firstLine(line), nil
	}
	line, err := bufio.NewReader(c.env.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	if pw := firstLine(line); pw != "" {
		return pw, nil
	}
	return "", usageErrorf("no password: pass --password-file F or type it on standard input")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimRight(s, "\r")
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
