package paginate

import (
	"context"
	"fmt"
	"strings"
)

// findKeySQL lists the columns of the table's unique indexes in index order.
const findKeySQL = `SELECT s.INDEX_NAME, s.COLUMN_NAME, s.SUB_PART IS NOT NULL, s.INDEX_TYPE, c.DATA_TYPE, c.IS_NULLABLE,
  IFNULL(c.CHARACTER_SET_NAME, ''), IFNULL(c.COLLATION_NAME, '')
FROM information_schema.STATISTICS s
JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
WHERE s.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0
ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX`

// FindKey returns the key to page table by: its PRIMARY KEY, else of its
// UNIQUE indexes whose columns are all NOT NULL the one with the fewest
// columns (ties broken by index name). It returns nil, nil when there is none;
// New then reads the table in one streamed query.
//
// Indexes that cannot drive a keyset range are skipped: prefix indexes
// (col(10)), non-BTREE ones (a MEMORY table's HASH, MariaDB's long UNIQUE
// hash), and those with a FLOAT/DOUBLE column (their text is rounded). Each
// column's Type comes from its DATA_TYPE (see KeyType) and its Index is -1:
// set Index to the column's position in Query.Columns when the query selects
// it unchanged. A KeyText column with a charset gets its Charset and
// Collation, so that the cursor pages on the bytes it holds (see KeyText).
// An empty schema means the connection's current database.
func FindKey(ctx context.Context, db Querier, schema, table string) ([]KeyColumn, error) {
	rows, err := db.QueryContext(ctx, findKeySQL, schema, table)
	if err != nil {
		return nil, fmt.Errorf("find key of %s: %w", table, err)
	}
	defer rows.Close()
	var (
		best, cur         []KeyColumn
		bestName, curName string
		curOK             bool
	)
	finish := func() {
		if !curOK || len(cur) == 0 {
			return
		}
		switch {
		case bestName == "PRIMARY":
		case curName == "PRIMARY", best == nil, len(cur) < len(best):
			best, bestName = cur, curName
		}
	}
	for rows.Next() {
		var (
			index, column, indexType, dataType, nullable string
			charset, collation                           string
			prefix                                       bool
		)
		if err := rows.Scan(&index, &column, &prefix, &indexType, &dataType, &nullable, &charset, &collation); err != nil {
			return nil, fmt.Errorf("find key of %s: %w", table, err)
		}
		if index != curName || cur == nil {
			finish()
			cur, curName, curOK = []KeyColumn{}, index, true
		}
		typ, ok := keyTypeOf(dataType)
		if !ok || prefix || !strings.EqualFold(indexType, "BTREE") || nullable != "NO" {
			curOK = false
		}
		k := KeyColumn{Name: column, Index: -1, Type: typ}
		if typ == KeyText && charset != "" && collation != "" {
			k.Charset, k.Collation = charset, collation
		}
		cur = append(cur, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find key of %s: %w", table, err)
	}
	finish()
	return best, nil
}

// keyTypeOf maps information_schema.COLUMNS.DATA_TYPE to a KeyType; false
// for types that cannot be compared exactly from their text.
func keyTypeOf(dataType string) (KeyType, bool) {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "date", "datetime", "timestamp", "time", "year":
		return KeyNumber, true
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return KeyText, true
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return KeyBinary, true
	case "enum", "set", "bit":
		return KeyOrdinal, true
	case "float", "double", "real", "double precision":
		return KeyNumber, false
	}
	// UUID, INET4, INET6 and other types the server parses from their text.
	return KeyText, true
}
