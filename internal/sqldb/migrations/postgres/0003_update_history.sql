-- 0003: the history of `izytroniq update`: every attempt, dry runs included, with the
-- timing of each phase. A row whose finished_at is NULL is an update that was interrupted.
CREATE TABLE update_history (
	id           TEXT PRIMARY KEY,
	started_at   TIMESTAMPTZ NOT NULL,
	finished_at  TIMESTAMPTZ,
	from_version TEXT NOT NULL,
	to_version   TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	phases       TEXT NOT NULL DEFAULT '[]', -- JSON: [{"name","started_at","duration_ms","outcome","error"}]
	message      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX update_history_started ON update_history (started_at);
