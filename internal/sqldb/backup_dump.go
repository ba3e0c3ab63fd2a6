package sqldb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DumpTables returns every table of the database (the current schema on PostgreSQL) as
// sorted rows, each row its columns printed with %#v and joined by tabs. Restores are
// checked by comparing two such dumps; it reads everything, so it is for tests and small
// databases.
func (db *DB) DumpTables(ctx context.Context) (map[string][]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if db.dialect == Postgres {
		q = `SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname`
	}
	rows, err := db.r.QueryContext(ctx, q)
	if err != nil {
		return nil, dbErr("list tables", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, dbErr("list tables", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr("list tables", err)
	}
	out := map[string][]string{}
	for _, name := range names {
		lines, err := db.dumpTable(ctx, name)
		if err != nil {
			return nil, err
		}
		out[name] = lines
	}
	return out, nil
}

func (db *DB) dumpTable(ctx context.Context, name string) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT * FROM "+quoteIdent(name))
	if err != nil {
		return nil, dbErr("dump "+name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, dbErr("dump "+name, err)
	}
	lines := []string{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, dbErr("dump "+name, err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case time.Time:
				v = x.UTC().Format(time.RFC3339Nano)
			case []byte:
				v = string(x)
			}
			parts[i] = cols[i] + "=" + fmt.Sprintf("%#v", v)
		}
		lines = append(lines, strings.Join(parts, "\t"))
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("dump "+name, err)
	}
	sort.Strings(lines)
	return lines, nil
}
