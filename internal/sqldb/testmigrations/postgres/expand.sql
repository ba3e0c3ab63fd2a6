-- A test-only expand step (build tag izytroniq_testmigration): a new table older
-- binaries ignore.
CREATE TABLE test_expand (id TEXT PRIMARY KEY, note TEXT NOT NULL DEFAULT '');
