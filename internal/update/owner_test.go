package update_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/update"
)

// TestPostgresNotOwner: a login that may read the schema but neither owns it nor may
// create in it fails the owner-rights check, naming the role and the schema's owner.
func TestPostgresNotOwner(t *testing.T) {
	if os.Getenv(sqldbtest.EnvPostgres) == "" {
		t.Skip(sqldbtest.EnvPostgres + " is not set")
	}
	in := newInstallation(t, sqldb.Postgres)
	admin := in.raw(t)
	var b [4]byte
	rand.Read(b[:])
	role := "izytest_reader_" + hex.EncodeToString(b[:])
	var schema string
	if err := admin.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		admin.Exec("DROP OWNED BY " + role)
		admin.Exec("DROP ROLE " + role)
	})
	u, err := url.Parse(in.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	o := in.opts
	o.DSN = u.String()
	o.PackagePath = in.pkg(t, key(0))
	res, err := update.Run(context.Background(), o)
	if !errors.Is(err, update.ErrPreflightFailed) {
		t.Fatalf("Run = %v, want ErrPreflightFailed\n%s", err, report(res))
	}
	c := check(t, res, "database owner rights")
	if c.Status != update.StatusFail || !strings.Contains(c.Detail, "role "+role+" neither owns schema "+schema) {
		t.Fatalf("owner rights: %+v\n%s", c, report(res))
	}
	if c := check(t, res, "database connection"); c.Status != update.StatusPass {
		t.Errorf("connection: %+v", c)
	}
}
