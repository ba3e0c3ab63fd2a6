//go:build izytroniq_testmigration

package sqldb

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
)

// The build tag izytroniq_testmigration adds real migrations after the embedded ones,
// so tests of `izytroniq update` can build (go build -tags …, or GOFLAGS=-tags=… for
// izytroniq release build) a newer release whose schema differs from this tree's:
// testmigrations/DIALECT/expand.sql, numbered one past the last embedded migration, and
// with the tag izytroniq_testcontract too, contract.sql after it — a contract step that
// changes data, so a rollback must restore the database from the backup. No release is
// ever built with these tags.
//
//go:embed testmigrations
var testMigrationFS embed.FS

func extraMigrations(dialect string, n int) []migration {
	names := []string{"expand"}
	if withTestContract {
		names = append(names, "contract")
	}
	var ms []migration
	for i, name := range names {
		b, err := fs.ReadFile(testMigrationFS, path.Join("testmigrations", dialect, name+".sql"))
		if err != nil {
			panic(err)
		}
		v := n + 1 + i
		ms = append(ms, newMigration(v, fmt.Sprintf("%04d_test_%s.sql", v, name), b))
	}
	return ms
}
