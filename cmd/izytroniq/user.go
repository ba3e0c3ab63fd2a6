package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// UserCommand manages users directly in the database, for the first administrator and
// for recovery when nobody can sign in.
type UserCommand struct {
	*env
}

const userUsage = `Usage:
  izytroniq user add --username NAME --role ROLE [--display-name TEXT] [--password-file F] [--grant CUSTOMER_ID:read|write]...
  izytroniq user list [--json]
  izytroniq user passwd --username NAME [--password-file F]

Roles: admin, inspector, clerk, read-only. Without --password-file a random password is
made and printed once. A password file holds the password on its first line; "-" reads
standard input. Every subcommand takes --config FILE and --db DSN.
`

// Run runs `izytroniq user`.
func (c *UserCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, userUsage)
		if len(args) == 0 {
			return usageErrorf("user needs a subcommand: add, list or passwd")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, userUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var cf configFlags
	cf.register(fs, true)
	var run func(context.Context, *sqldb.DB, *Config) error
	required := func() error { return nil } // checks the flags a subcommand cannot do without
	switch sub {
	case "add":
		a := &userAdd{env: c.env}
		fs.StringVar(&a.username, "username", "", "user `name` (letters, digits and . - _ @)")
		fs.StringVar(&a.role, "role", "", "`role`: admin, inspector, clerk or read-only")
		fs.StringVar(&a.displayName, "display-name", "", "full `name` shown in lists")
		fs.StringVar(&a.passwordFile, "password-file", "", "read the password from `file` (\"-\": standard input)")
		fs.Var(&a.grants, "grant", "grant `CUSTOMER_ID:read|write` (repeat for more customers)")
		run = a.run
		required = func() error {
			if a.username == "" || a.role == "" {
				return usageErrorf("user add needs --username and --role")
			}
			return nil
		}
	case "list":
		l := &userList{env: c.env}
		fs.BoolVar(&l.asJSON, "json", false, "print JSON")
		run = l.run
	case "passwd":
		p := &userPasswd{env: c.env}
		fs.StringVar(&p.username, "username", "", "user `name`")
		fs.StringVar(&p.passwordFile, "password-file", "", "read the new password from `file` (\"-\": standard input)")
		run = p.run
		required = func() error {
			if p.username == "" {
				return usageErrorf("user passwd needs --username")
			}
			return nil
		}
	default:
		fmt.Fprint(c.stderr, userUsage)
		return usageErrorf("unknown user subcommand %q", sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if err := required(); err != nil {
		fs.Usage()
		return err
	}
	cfg, db, closeAll, err := openCurrentDB(ctx, c.env, &cf)
	if err != nil {
		return err
	}
	defer closeAll()
	return run(ctx, db, cfg)
}

// grantList is a repeated --grant flag.
type grantList []izy.Grant

func (g *grantList) String() string {
	var s []string
	for _, x := range *g {
		s = append(s, x.CustomerID+":"+x.Access)
	}
	return strings.Join(s, ",")
}

func (g *grantList) Set(v string) error {
	id, access, ok := strings.Cut(v, ":")
	if !ok || !izy.ValidID(id) || access != izy.AccessRead && access != izy.AccessWrite {
		return fmt.Errorf("want CUSTOMER_ID:read or CUSTOMER_ID:write, got %q", v)
	}
	*g = append(*g, izy.Grant{CustomerID: id, Access: access})
	return nil
}

type userAdd struct {
	*env
	username, role, displayName, passwordFile string
	grants                                    grantList
}

func (a *userAdd) run(ctx context.Context, db *sqldb.DB, cfg *Config) error {
	u := &izy.User{Username: a.username, DisplayName: a.displayName, Role: izy.Role(a.role), Grants: a.grants}
	if err := u.Validate(); err != nil {
		return err
	}
	for _, g := range u.Grants {
		if _, err := db.GetCustomer(ctx, g.CustomerID); err != nil {
			return fmt.Errorf("grant for customer %s: %w", g.CustomerID, err)
		}
	}
	pw, generated, err := a.password()
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw, cfg.Auth.PasswordIterations)
	if err != nil {
		return err
	}
	if err := db.CreateUser(ctx, u, hash); err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	fmt.Fprintf(a.stdout, "Created user %s (%s, id %s).\n", u.Username, u.Role, u.ID)
	if generated {
		fmt.Fprintf(a.stdout, "Password: %s\n(shown once; change it with 'izytroniq user passwd --username %s')\n", pw, u.Username)
	}
	return nil
}

func (a *userAdd) password() (string, bool, error) {
	if a.passwordFile == "" {
		return randomPassword(), true, nil
	}
	p, err := readPassword(a.env, a.passwordFile)
	return p, false, err
}

type userList struct {
	*env
	asJSON bool
}

func (l *userList) run(ctx context.Context, db *sqldb.DB, _ *Config) error {
	var users []izy.User
	page := izy.Page{Limit: izy.MaxPageLimit}
	for {
		us, next, err := db.ListUsers(ctx, page)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		users = append(users, us...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if l.asJSON {
		if users == nil {
			users = []izy.User{}
		}
		return writeJSON(l.stdout, users)
	}
	tw := newTable(l.stdout)
	fmt.Fprintln(tw, "USERNAME\tROLE\tDISPLAY NAME\tSTATUS\tGRANTS\tID")
	for _, u := range users {
		status := "enabled"
		if u.Disabled {
			status = "disabled"
		}
		grants := "-"
		if u.Role == izy.RoleAdmin {
			grants = "all"
		} else if len(u.Grants) > 0 {
			grants = fmt.Sprintf("%d customer(s)", len(u.Grants))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, orDash(u.DisplayName), status, grants, u.ID)
	}
	return tw.Flush()
}

type userPasswd struct {
	*env
	username, passwordFile string
}

func (p *userPasswd) run(ctx context.Context, db *sqldb.DB, cfg *Config) error {
	u, _, err := db.UserByUsername(ctx, p.username)
	if err != nil {
		return fmt.Errorf("user %s: %w (list users with 'izytroniq user list')", p.username, err)
	}
	pw, generated := randomPassword(), true
	if p.passwordFile != "" {
		if pw, err = readPassword(p.env, p.passwordFile); err != nil {
			return err
		}
		generated = false
	}
	hash, err := password.Hash(pw, cfg.Auth.PasswordIterations)
	if err != nil {
		return err
	}
	if err := db.SetPassword(ctx, u.ID, hash); err != nil {
		return fmt.Errorf("set password of %s: %w", u.Username, err)
	}
	// A new password also lifts a login block from failed attempts.
	if err := db.ClearLoginFailures(ctx, u.Username); err != nil {
		return fmt.Errorf("clear login failures of %s: %w", u.Username, err)
	}
	fmt.Fprintf(p.stdout, "Password of %s changed.\n", u.Username)
	if generated {
		fmt.Fprintf(p.stdout, "Password: %s\n(shown once)\n", pw)
	}
	return nil
}
