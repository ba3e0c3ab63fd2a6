-- 0001: the initial schema. Dates are 'YYYY-MM-DD' text; timestamps are UTC text in the
-- fixed-width form 2006-01-02T15:04:05.000000Z, so text order is time order.

CREATE TABLE IF NOT EXISTS database_info (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL,
	checksum   TEXT NOT NULL
);

-- The global change sequence: one row, incremented inside each write transaction.
CREATE TABLE change_seq (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE customers (
	id         TEXT PRIMARY KEY,
	number     TEXT NOT NULL,
	name       TEXT NOT NULL,
	address    TEXT NOT NULL DEFAULT '',
	contacts   TEXT NOT NULL DEFAULT '[]',
	version    INTEGER NOT NULL,
	seq        INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX customers_number ON customers (number);
CREATE INDEX customers_seq ON customers (seq);

CREATE TABLE locations (
	id          TEXT PRIMARY KEY,
	customer_id TEXT NOT NULL REFERENCES customers (id),
	parent_id   TEXT REFERENCES locations (id),
	kind        TEXT NOT NULL CHECK (kind IN ('property', 'building', 'level', 'room')),
	name        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX locations_customer_parent ON locations (customer_id, parent_id);
CREATE INDEX locations_parent ON locations (parent_id);
CREATE INDEX locations_seq ON locations (seq);

CREATE TABLE devices (
	id                      TEXT PRIMARY KEY,
	customer_id             TEXT NOT NULL REFERENCES customers (id),
	location_id             TEXT REFERENCES locations (id),
	inventory_id            TEXT NOT NULL,
	designation             TEXT NOT NULL,
	type                    TEXT NOT NULL DEFAULT '',
	manufacturer            TEXT NOT NULL DEFAULT '',
	model                   TEXT NOT NULL DEFAULT '',
	serial_number           TEXT NOT NULL DEFAULT '',
	protection_class        TEXT NOT NULL CHECK (protection_class IN ('I', 'II', 'III')),
	cable_length_m          REAL NOT NULL DEFAULT 0,
	cable_cross_section_mm2 REAL NOT NULL DEFAULT 0,
	heating_elements        INTEGER NOT NULL DEFAULT 0,
	heating_power_kw        REAL,
	cost_centre             TEXT NOT NULL DEFAULT '',
	department              TEXT NOT NULL DEFAULT '',
	standard                TEXT NOT NULL DEFAULT '',
	interval_months         INTEGER NOT NULL,
	comment                 TEXT NOT NULL DEFAULT '',
	status                  TEXT NOT NULL CHECK (status IN ('active', 'retired')),
	tag                     TEXT NOT NULL DEFAULT '',
	medical                 INTEGER NOT NULL DEFAULT 0,
	medical_udi             TEXT NOT NULL DEFAULT '',
	applied_parts_b         INTEGER NOT NULL DEFAULT 0,
	applied_parts_bf        INTEGER NOT NULL DEFAULT 0,
	applied_parts_cf        INTEGER NOT NULL DEFAULT 0,
	medical_network         INTEGER NOT NULL DEFAULT 0,
	last_test_date          TEXT,
	last_result             TEXT NOT NULL DEFAULT '',
	next_due                TEXT,
	version                 INTEGER NOT NULL,
	seq                     INTEGER NOT NULL,
	created_at              TEXT NOT NULL,
	updated_at              TEXT NOT NULL
);
CREATE UNIQUE INDEX devices_customer_inventory ON devices (customer_id, inventory_id);
CREATE INDEX devices_customer ON devices (customer_id, id);
CREATE INDEX devices_location ON devices (location_id);
CREATE INDEX devices_next_due ON devices (next_due);
CREATE INDEX devices_seq ON devices (seq);

CREATE TABLE instruments (
	id              TEXT PRIMARY KEY,
	type            TEXT NOT NULL,
	manufacturer    TEXT NOT NULL DEFAULT '',
	model           TEXT NOT NULL DEFAULT '',
	serial_number   TEXT NOT NULL,
	calibration_due TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('active', 'retired')),
	version         INTEGER NOT NULL,
	seq             INTEGER NOT NULL,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
CREATE INDEX instruments_seq ON instruments (seq);

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	display_name  TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL CHECK (role IN ('admin', 'inspector', 'clerk', 'read-only')),
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      INTEGER NOT NULL DEFAULT 0,
	version       INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);

CREATE TABLE grants (
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
	access      TEXT NOT NULL CHECK (access IN ('read', 'write')),
	PRIMARY KEY (user_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX grants_customer ON grants (customer_id);

CREATE TABLE tokens (
	hash       TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	expires_at TEXT
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE login_failures (
	username TEXT PRIMARY KEY,
	count    INTEGER NOT NULL,
	last_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tests (
	id            TEXT PRIMARY KEY,
	device_id     TEXT NOT NULL REFERENCES devices (id),
	customer_id   TEXT NOT NULL REFERENCES customers (id),
	date          TEXT NOT NULL,
	inspector_id  TEXT REFERENCES users (id),
	instrument_id TEXT REFERENCES instruments (id),
	standard      TEXT NOT NULL,
	visual_ok     INTEGER NOT NULL,
	functional_ok INTEGER NOT NULL,
	result        TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
	comment       TEXT NOT NULL DEFAULT '',
	next_due      TEXT,
	version       INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);
CREATE INDEX tests_device_date ON tests (device_id, date);
CREATE INDEX tests_customer ON tests (customer_id, id);
-- No index on tests.instrument_id or tests.inspector_id: instruments and users are never
-- deleted (they are retired or disabled), and each index costs every recorded test.
CREATE INDEX tests_seq ON tests (seq);

CREATE TABLE measurements (
	test_id    TEXT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	value      REAL NOT NULL,
	unit       TEXT NOT NULL,
	base_value REAL,
	parameters TEXT NOT NULL DEFAULT '{}',
	limit_min  REAL,
	limit_max  REAL,
	limit_unit TEXT NOT NULL DEFAULT '',
	result     TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
	PRIMARY KEY (test_id, position)
) WITHOUT ROWID;

CREATE TABLE audit_log (
	id        INTEGER PRIMARY KEY,
	at        TEXT NOT NULL,
	user_id   TEXT NOT NULL DEFAULT '',
	action    TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);

-- Deleted rows, for the change feed of offline clients.
CREATE TABLE tombstones (
	entity      TEXT NOT NULL,
	id          TEXT NOT NULL,
	customer_id TEXT,
	seq         INTEGER NOT NULL,
	deleted_at  TEXT NOT NULL,
	PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX tombstones_seq ON tombstones (seq);
