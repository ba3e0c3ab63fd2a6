package sqldb

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"
)

// LogicalDump describes a logical export of a PostgreSQL schema: the tables (whose rows
// travel separately as JSON lines, one row_to_json object a line) and the sequences.
type LogicalDump struct {
	SchemaVersion int             `json:"schema_version"`
	Tables        []DumpedTable   `json:"tables"`
	Sequences     []SequenceState `json:"sequences"`
}

// DumpedTable is one exported table.
type DumpedTable struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// SequenceState is a sequence's position, restored with setval.
type SequenceState struct {
	Name      string `json:"name"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// pgTables lists the ordinary tables of the current schema with their primary-key
// columns (all columns, in order, for a table without one).
func pgTables(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (names []string, keys map[string][]string, err error) {
	rows, err := q.QueryContext(ctx, `SELECT c.relname,
			COALESCE((SELECT array_to_string(array_agg(quote_ident(a.attname) ORDER BY k.n), ',')
				FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n), pg_attribute a
				WHERE i.indrelid = c.oid AND i.indisprimary AND a.attrelid = c.oid AND a.attnum = k.attnum),
			(SELECT array_to_string(array_agg(quote_ident(a.attname) ORDER BY a.attnum), ',')
				FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
		FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = current_schema() AND c.relkind = 'r'
		ORDER BY c.relname`)
	if err != nil {
		return nil, nil, dbErr("list tables", err)
	}
	defer rows.Close()
	keys = map[string][]string{}
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return nil, nil, dbErr("list tables", err)
		}
		names = append(names, name)
		keys[name] = strings.Split(key, ",")
	}
	return names, keys, dbErr("list tables", rows.Err())
}

// Export writes every table of the current PostgreSQL schema as JSON lines in
// primary-key order, all inside one REPEATABLE READ, read-only transaction, so the
// tables are one consistent snapshot while the server goes on writing. create is called
// once per table, in name order, and its writer closed before the next.
func (db *DB) Export(ctx context.Context, create func(table string) (io.WriteCloser, error)) (LogicalDump, error) {
	var dump LogicalDump
	if db.dialect != Postgres {
		return dump, fmt.Errorf("the logical export is PostgreSQL only")
	}
	t, err := db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return dump, dbErr("export: begin", err)
	}
	defer t.Rollback()
	if dump.SchemaVersion, err = db.schemaVersion(ctx, t); err != nil {
		return dump, err
	}
	names, keys, err := pgTables(ctx, t)
	if err != nil {
		return dump, err
	}
	for _, name := range names {
		n, err := exportTable(ctx, t, name, keys[name], create)
		if err != nil {
			return dump, fmt.Errorf("export %s: %w", name, err)
		}
		dump.Tables = append(dump.Tables, DumpedTable{Name: name, Rows: n})
	}
	if dump.Sequences, err = pgSequences(ctx, t); err != nil {
		return dump, err
	}
	return dump, nil
}

func exportTable(ctx context.Context, t *sql.Tx, name string, key []string, create func(string) (io.WriteCloser, error)) (int64, error) {
	w, err := create(name)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	rows, err := t.QueryContext(ctx, "SELECT row_to_json(t)::text FROM "+quoteIdent(name)+" t ORDER BY "+strings.Join(key, ", "))
	if err != nil {
		w.Close()
		return 0, dbErr("query", err)
	}
	defer rows.Close()
	var n int64
	var line []byte
	for rows.Next() {
		if err := rows.Scan(&line); err != nil {
			w.Close()
			return n, dbErr("scan", err)
		}
		bw.Write(line)
		if err := bw.WriteByte('\n'); err != nil {
			w.Close()
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		w.Close()
		return n, dbErr("query", err)
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return n, err
	}
	return n, w.Close()
}

func pgSequences(ctx context.Context, t *sql.Tx) ([]SequenceState, error) {
	rows, err := t.QueryContext(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = current_schema() AND c.relkind = 'S' ORDER BY c.relname`)
	if err != nil {
		return nil, dbErr("list sequences", err)
	}
	var names []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, dbErr("list sequences", err)
		}
		names = append(names, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr("list sequences", err)
	}
	var out []SequenceState
	for _, name := range names {
		s := SequenceState{Name: name}
		if err := t.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+quoteIdent(name)).Scan(&s.LastValue, &s.IsCalled); err != nil {
			return nil, dbErr("read sequence "+name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// importBatchBytes bounds the JSON sent in one INSERT.
const importBatchBytes = 4 << 20

// Import replaces the contents of the current PostgreSQL schema with a logical export,
// in one transaction: on any error nothing changes. When the export's schema version
// differs from the database's, the schema's tables are dropped and rebuilt by this
// binary's migrations up to the export's version first (a rollback after an upgrade);
// otherwise every table is truncated. open returns the JSON lines of a table.
func (db *DB) Import(ctx context.Context, dump LogicalDump, open func(table string) (io.ReadCloser, error)) error {
	if db.dialect != Postgres {
		return fmt.Errorf("the logical import is PostgreSQL only")
	}
	ms := migrations(Postgres)
	if dump.SchemaVersion < 1 || dump.SchemaVersion > len(ms) {
		return fmt.Errorf("the backup has schema version %d; this binary knows 1 to %d: restore it with the izytroniq that made it", dump.SchemaVersion, len(ms))
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return dbErr("import", err)
	}
	defer conn.Close()
	t, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return dbErr("import: begin", err)
	}
	defer t.Rollback()
	cur, err := db.schemaVersion(ctx, t)
	if err != nil {
		return err
	}
	if cur != dump.SchemaVersion {
		db.log.Info("rebuilding schema for the backup", "from", cur, "to", dump.SchemaVersion)
		if err := rebuildSchema(ctx, t, ms[:dump.SchemaVersion]); err != nil {
			return err
		}
	}
	names, _, err := pgTables(ctx, t)
	if err != nil {
		return err
	}
	for _, d := range dump.Tables {
		if !slices.Contains(names, d.Name) {
			return fmt.Errorf("import: the backup has table %s, which the database lacks", d.Name)
		}
	}
	if len(names) > 0 {
		qs := make([]string, len(names))
		for i, n := range names {
			qs[i] = quoteIdent(n)
		}
		if _, err := t.ExecContext(ctx, "TRUNCATE "+strings.Join(qs, ", ")); err != nil {
			return dbErr("import: truncate", err)
		}
	}
	order, selfRef, err := pgInsertOrder(ctx, t, names)
	if err != nil {
		return err
	}
	inDump := map[string]bool{}
	for _, d := range dump.Tables {
		inDump[d.Name] = true
	}
	for _, name := range order {
		if !inDump[name] {
			continue
		}
		if err := importTable(ctx, t, name, selfRef[name], open); err != nil {
			return fmt.Errorf("import %s: %w", name, err)
		}
	}
	for _, s := range dump.Sequences {
		if _, err := t.ExecContext(ctx, "SELECT setval($1::regclass, $2, $3)", quoteIdent(s.Name), s.LastValue, s.IsCalled); err != nil {
			return dbErr("import: set sequence "+s.Name, err)
		}
	}
	return dbErr("import: commit", t.Commit())
}

// rebuildSchema drops every table and sequence of the current schema and applies ms.
func rebuildSchema(ctx context.Context, t *sql.Tx, ms []migration) error {
	if _, err := t.ExecContext(ctx, `DO $$ DECLARE r record; BEGIN
		FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'S', 'v', 'm') LOOP
			IF r.relkind = 'r' THEN EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(r.relname) || ' CASCADE';
			ELSIF r.relkind = 'v' THEN EXECUTE 'DROP VIEW IF EXISTS ' || quote_ident(r.relname) || ' CASCADE';
			ELSIF r.relkind = 'm' THEN EXECUTE 'DROP MATERIALIZED VIEW IF EXISTS ' || quote_ident(r.relname) || ' CASCADE';
			ELSE EXECUTE 'DROP SEQUENCE IF EXISTS ' || quote_ident(r.relname) || ' CASCADE';
			END IF;
		END LOOP; END $$`); err != nil {
		return dbErr("import: drop schema objects", err)
	}
	for _, m := range ms {
		if _, err := t.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("import: rebuild schema: migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// pgInsertOrder orders tables so that each comes after the tables its foreign keys
// reference, and reports the tables that reference themselves.
func pgInsertOrder(ctx context.Context, t *sql.Tx, names []string) ([]string, map[string]bool, error) {
	rows, err := t.QueryContext(ctx, `SELECT c.relname, r.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
		JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE k.contype = 'f' AND s.nspname = current_schema()`)
	if err != nil {
		return nil, nil, dbErr("list foreign keys", err)
	}
	defer rows.Close()
	deps := map[string][]string{}
	self := map[string]bool{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return nil, nil, dbErr("list foreign keys", err)
		}
		if from == to {
			self[from] = true
			continue
		}
		deps[from] = append(deps[from], to)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr("list foreign keys", err)
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("import: foreign keys form a cycle through %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range deps[n] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, nil, err
		}
	}
	return order, self, nil
}

// importTable inserts a table's JSON lines in batches. A table that references itself
// goes in one statement, because PostgreSQL checks foreign keys at the end of each
// statement and the rows come in key order, not parent-first.
func importTable(ctx context.Context, t *sql.Tx, name string, oneStatement bool, open func(string) (io.ReadCloser, error)) error {
	r, err := open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	q := "INSERT INTO " + quoteIdent(name) + " SELECT * FROM json_populate_recordset(NULL::" + quoteIdent(name) + ", $1::json)"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 256<<20)
	var batch strings.Builder
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		batch.WriteByte(']')
		_, err := t.ExecContext(ctx, q, batch.String())
		batch.Reset()
		return dbErr("insert", err)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if batch.Len() == 0 {
			batch.WriteByte('[')
		} else {
			batch.WriteByte(',')
		}
		batch.Write(line)
		if !oneStatement && batch.Len() >= importBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return flush()
}
