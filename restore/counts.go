package restore

import (
	"context"
	"database/sql"
	"fmt"

	"lms-backup/dumpfile"
	"lms-backup/internal/sqlident"
	"lms-backup/schema"
)

// checkCounts counts the rows of each table the trailer lists, as database
// holds them now, and returns an error wrapping ErrStatement for the first
// table whose count is not the trailer's. Tables whose rows live elsewhere
// (schema.RowsElsewhere) are skipped: the dump holds none of their rows. A
// system-versioned table is counted with its history, which the dump may
// hold.
func checkCounts(ctx context.Context, conn *sql.Conn, database string, tr *dumpfile.Trailer) error {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME, IFNULL(ENGINE, ''), TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", database)
	if err != nil {
		return fmt.Errorf("list the restored tables: %w", err)
	}
	type table struct{ engine, typ string }
	tables := map[string]table{}
	for rows.Next() {
		var name string
		var t table
		if err := rows.Scan(&name, &t.engine, &t.typ); err != nil {
			rows.Close()
			return fmt.Errorf("list the restored tables: %w", err)
		}
		tables[name] = t
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("list the restored tables: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the restored tables: %w", err)
	}
	for _, ts := range tr.Tables {
		t, ok := tables[ts.Name]
		if !ok {
			return fmt.Errorf("%w: table %s of the dump is not in %s after the restore", ErrStatement, ts.Name, database)
		}
		if schema.RowsElsewhere(t.engine) {
			continue
		}
		q := "SELECT COUNT(*) FROM " + sqlident.Quote(database) + "." + sqlident.Quote(ts.Name)
		if t.typ == "SYSTEM VERSIONED" {
			q += " FOR SYSTEM_TIME ALL"
		}
		var n int64
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("count the rows of %s: %w", ts.Name, err)
		}
		if n != ts.Rows {
			return fmt.Errorf("%w: table %s holds %d rows after the restore, the dump's trailer says %d", ErrStatement, ts.Name, n, ts.Rows)
		}
	}
	return nil
}
