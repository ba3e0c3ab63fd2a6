//go:build !izytroniq_testmigration

package sqldb

// extraMigrations returns the migrations a test build adds after the embedded ones;
// this build adds none (see migrate_testmigration.go).
func extraMigrations(string, int) []migration { return nil }
