-- izytroniq:contract
-- A test-only contract step (build tag izytroniq_testmigration): it rewrites data in a
-- way older binaries would misread, so rolling back needs the backup.
UPDATE customers SET name = name || ' (migrated)';
