package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"lms-backup/paginate"
)

// DefaultChunkRows is the rows of a chunk when Options.ChunkRows is 0.
// Measured at fixture scale 20 on 2 cores (BENCHMARKS.md): 50,000 to
// 200,000 give the same wall time within noise; smaller chunks cost more
// boundary queries and frames that end early, larger ones leave a worker
// alone with the last big chunk.
const DefaultChunkRows = 100000

// chunk is a key range of one table: the rows whose key is after after and
// not after through (see paginate.Query); nil bounds are open, so a chunk
// with neither is the whole table.
type chunk struct {
	t              *table
	after, through [][]byte
}

// planChunks cuts t into chunks of about rows rows in key order and hands
// each to emit as soon as it is known, so reading starts while the rest of
// the table is planned. A table without a key, or with an estimate of at
// most two chunks, is one chunk; so is a table whose key has an ENUM, SET
// or BIT column (paginate.KeyOrdinal): compared with a number such a
// column gives no range scan, so every boundary and every chunk would scan
// the index from its start.
//
// How the bounds are found:
//   - a single integer key whose values are dense (max-min+1 at most twice
//     the row estimate) is cut by arithmetic on MIN and MAX: two cheap
//     index lookups, and a chunk never holds more than rows rows (a unique
//     integer key has at most one row per value) while their number stays
//     within twice the estimate over rows;
//   - every other key (composite, text, binary, sparse or skewed integers
//     such as 1..1000 plus 10^12..10^12+1000) by walking the key's index
//     inside the snapshot (paginate.Boundary): each chunk holds exactly rows
//     rows, however the values are spread, for one index scan of the table
//     on the server. Arithmetic there could make millions of empty chunks
//     or one chunk holding almost everything.
//
// conn must be inside the readers' snapshot.
func planChunks(ctx context.Context, conn *sql.Conn, t *table, rows int, emit func(chunk) error) error {
	if len(t.key) == 0 || t.Estimate <= 2*int64(rows) || hasOrdinal(t.key) {
		return emit(chunk{t: t})
	}
	if len(t.key) == 1 && isInteger(t.columnType(t.key[0].Name)) {
		lo, hi, ok, err := keyRange(ctx, conn, t)
		if err != nil {
			return err
		}
		if span := uint64(hi) - uint64(lo); ok && span/2 < uint64(t.Estimate) {
			return denseChunks(t, lo, hi, rows, emit)
		}
	}
	q := paginate.Query{Table: t.Name, Columns: t.exprs, Key: t.key, History: t.History}
	var after [][]byte
	for {
		through, err := paginate.Boundary(ctx, conn, q, after, rows)
		if err != nil {
			return err
		}
		if err := emit(chunk{t: t, after: after, through: through}); err != nil {
			return err
		}
		if through == nil {
			return nil
		}
		after = through
	}
}

// denseChunks cuts the integer key range [lo, hi] into chunks of width
// rows: (.., lo+w-1], (lo+w-1, lo+2w-1], ..., (lo+kw-1, ..). The first and
// last are open, so the bounds never overflow and no row is missed.
// Offsets from lo are unsigned, so ranges wider than int64 work too.
func denseChunks(t *table, lo, hi int64, rows int, emit func(chunk) error) error {
	w := uint64(rows)
	span := uint64(hi) - uint64(lo) // hi-lo, exact in uint64
	var after [][]byte
	for off := w - 1; off < span; off += w {
		through := [][]byte{strconv.AppendInt(nil, int64(uint64(lo)+off), 10)}
		if err := emit(chunk{t: t, after: after, through: through}); err != nil {
			return err
		}
		after = through
		if off > span-w { // the next step would pass span (or wrap)
			break
		}
	}
	return emit(chunk{t: t, after: after})
}

// keyRange returns MIN and MAX of t's single-column key; false when the
// table is empty (the estimate was stale) or a value does not fit an int64
// (a BIGINT UNSIGNED above 2^63), so that the caller walks the index.
func keyRange(ctx context.Context, conn *sql.Conn, t *table) (lo, hi int64, ok bool, err error) {
	col := string(AppendIdent(nil, t.key[0].Name))
	var min, max sql.NullString
	q := "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + string(AppendIdent(nil, t.Name))
	if err := conn.QueryRowContext(ctx, q).Scan(&min, &max); err != nil {
		return 0, 0, false, fmt.Errorf("key range: %w", err)
	}
	if !min.Valid || !max.Valid {
		return 0, 0, false, nil
	}
	lo, err1 := strconv.ParseInt(min.String, 10, 64)
	hi, err2 := strconv.ParseInt(max.String, 10, 64)
	return lo, hi, err1 == nil && err2 == nil && lo <= hi, nil
}

// hasOrdinal reports a key column compared by its ordinal number.
func hasOrdinal(key []paginate.KeyColumn) bool {
	for _, k := range key {
		if k.Type == paginate.KeyOrdinal {
			return true
		}
	}
	return false
}

// isInteger reports an integer DATA_TYPE.
func isInteger(dataType string) bool {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

// columnType returns the DATA_TYPE of the dumped column name, "" when
// there is none (a generated column).
func (t *table) columnType(name string) string {
	for _, c := range t.Columns {
		if c.Name == name {
			return c.DataType
		}
	}
	return ""
}
