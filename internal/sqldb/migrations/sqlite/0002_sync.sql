-- 0002: sync state (checkouts, uploads, conflicts) next to the data, so a check-in commits
-- both in one transaction.

-- Registered field clients.
CREATE TABLE clients (
	id        TEXT PRIMARY KEY,
	name      TEXT NOT NULL DEFAULT '',
	user_id   TEXT NOT NULL REFERENCES users (id),
	last_seen TEXT NOT NULL
) WITHOUT ROWID;

-- A checkout leases a customer (location_id NULL) or a location subtree to a client.
-- location_id has no foreign key: the location may be deleted while it is out.
CREATE TABLE checkouts (
	id           TEXT PRIMARY KEY,
	client_id    TEXT NOT NULL REFERENCES clients (id),
	user_id      TEXT NOT NULL REFERENCES users (id),
	customer_id  TEXT NOT NULL REFERENCES customers (id),
	location_id  TEXT,
	mode         TEXT NOT NULL CHECK (mode IN ('shared', 'exclusive')),
	protocol     INTEGER NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('ready', 'uploading', 'merging', 'conflicts-pending', 'downloading', 'applying')),
	snapshot_seq INTEGER NOT NULL,
	acked_seq    INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	released_at  TEXT
) WITHOUT ROWID;
CREATE INDEX checkouts_open_customer ON checkouts (customer_id) WHERE released_at IS NULL;
CREATE INDEX checkouts_user ON checkouts (user_id);

-- Uploaded batches: raw JSON stored before applying, the result after.
CREATE TABLE sync_batches (
	checkout_id TEXT NOT NULL REFERENCES checkouts (id),
	batch_id    TEXT NOT NULL,
	protocol    INTEGER NOT NULL,
	raw         TEXT NOT NULL,
	result      TEXT,
	received_at TEXT NOT NULL,
	applied_at  TEXT,
	PRIMARY KEY (checkout_id, batch_id)
) WITHOUT ROWID;

-- The outcome of every mutation, with the mutation whole: nothing is discarded.
CREATE TABLE sync_mutations (
	checkout_id TEXT NOT NULL REFERENCES checkouts (id),
	mutation_id TEXT NOT NULL,
	batch_id    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('applied', 'merged', 'conflict', 'rejected')),
	entity      TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	mutation    TEXT NOT NULL,
	result      TEXT NOT NULL,
	at          TEXT NOT NULL,
	PRIMARY KEY (checkout_id, mutation_id)
) WITHOUT ROWID;

-- Conflicts with the whole mutation and the field triples (base, server, client).
CREATE TABLE conflicts (
	id          TEXT PRIMARY KEY,
	checkout_id TEXT NOT NULL REFERENCES checkouts (id),
	mutation_id TEXT NOT NULL,
	kind        TEXT NOT NULL CHECK (kind IN ('field', 'delete_edit', 'duplicate')),
	entity      TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	fields      TEXT NOT NULL,
	mutation    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
	resolution  TEXT NOT NULL DEFAULT '',
	resolved_by TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	resolved_at TEXT
) WITHOUT ROWID;
CREATE INDEX conflicts_checkout ON conflicts (checkout_id, status);

-- Scope information of a tombstone: the parent location of a deleted location.
ALTER TABLE tombstones ADD COLUMN location_id TEXT;
