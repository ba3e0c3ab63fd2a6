-- 0006: offline seats of the licence. Each client ID that checks out while a licence is
-- in effect is bound to a seat on its first checkout and keeps it until an administrator
-- frees it (izytroniq license seats release). Expand only: a new table older binaries
-- ignore.
CREATE TABLE license_seats (
	client_id TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL,
	bound_at  TEXT NOT NULL
) WITHOUT ROWID;
