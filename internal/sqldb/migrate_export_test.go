package sqldb

import "fmt"

// AddTestMigration adds a migration with the given SQL (directives included) after
// db's own and returns its version. Only db sees it: another DB on the same database is
// a binary that does not know it.
func (db *DB) AddTestMigration(sql string) int {
	var extra []migration
	if v, ok := testMigrations.Load(db); ok {
		extra = v.([]migration)
	}
	n := len(db.migrations()) + 1
	extra = append(extra, newMigration(n, fmt.Sprintf("%04d_test.sql", n), []byte(sql)))
	testMigrations.Store(db, extra)
	return n
}
