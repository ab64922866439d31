package dump

import (
	"context"
	"database/sql"
	"slices"

	"lms-backup/dumpfile"
	"lms-backup/paginate"
)

// reader is one connection's reading state, reused from chunk to chunk.
// It belongs to one goroutine.
type reader struct {
	conn *sql.Conn
	row  []byte // the current row's tuple
}

// prepare finds t's key and builds its SELECT expressions and INSERT
// prefix, once, before any chunk of t is planned or read. Key columns
// selected unchanged are read from the row itself.
func (d *dumper) prepare(ctx context.Context, conn *sql.Conn, t *table) error {
	key, err := paginate.FindKey(ctx, conn, d.opts.Database, t.Name)
	if err != nil {
		return err
	}
	t.prefix = append(t.prefix[:0], "INSERT INTO "...)
	t.prefix = AppendIdent(t.prefix, t.Name)
	t.prefix = append(t.prefix, " ("...)
	t.exprs = make([]string, len(t.Columns))
	for i := range t.Columns {
		if i > 0 {
			t.prefix = append(t.prefix, ',')
		}
		t.exprs[i] = selectExpr(&t.Columns[i])
		t.prefix = AppendIdent(t.prefix, t.Columns[i].Name)
	}
	t.prefix = append(t.prefix, ") VALUES "...)
	if t.History && len(key) > 0 && !slices.ContainsFunc(key, func(k paginate.KeyColumn) bool { return k.Name == t.rowEnd }) {
		// A unique key holds once per version: the server's own index
		// is the key plus ROW END (which information_schema lists only
		// for explicitly declared period columns).
		key = append(key, paginate.KeyColumn{Name: t.rowEnd, Index: -1, Type: paginate.KeyNumber})
	}
	for k := range key {
		for i, c := range t.Columns {
			plain := c.Kind == KindNumber || c.Kind == KindText || c.Kind == KindBinary
			if c.Name == key[k].Name && plain && key[k].Type != paginate.KeyOrdinal {
				key[k].Index = i
			}
		}
	}
	t.key = key
	return nil
}

// dumpChunk streams the rows of c into data frames, which the writer
// numbers. A frame holds rows of this chunk only; the last is sent short.
func (d *dumper) dumpChunk(ctx context.Context, rd *reader, c chunk) error {
	t := c.t
	if len(t.Columns) == 0 {
		return nil
	}
	cur, err := paginate.New(paginate.Query{Table: t.Name, Columns: t.exprs, Key: t.key, After: c.after, Through: c.through, History: t.History},
		paginate.Options{PageSize: d.opts.PageRows, Log: d.log.With("table", t.Name)})
	if err != nil {
		return err
	}
	defer cur.Close()
	var (
		fb        *frameBuf
		stmtLen   int   // bytes of the open statement, 0 when none is open
		frameRows int64 // rows in fb
		frameSize = d.frameSize()
	)
	flush := func() error {
		if stmtLen > 0 {
			fb.buf = append(fb.buf, ";\n"...)
			stmtLen = 0
		}
		fb.info = dumpfile.FrameInfo{Kind: dumpfile.KindData, Table: t.Name, Rows: frameRows}
		err := d.pipe.send(ctx, fb)
		t.rows.Add(frameRows)
		d.report(t, frameRows)
		fb, frameRows, frameSize = nil, 0, d.frameSize()
		return err
	}
	err = cur.ForEach(ctx, rd.conn, func(vals []sql.RawBytes) error {
		rd.row = append(rd.row[:0], '(')
		for i := range vals {
			if i > 0 {
				rd.row = append(rd.row, ',')
			}
			rd.row = AppendValue(rd.row, &t.Columns[i], vals[i], vals[i] == nil)
		}
		rd.row = append(rd.row, ')')
		// End the frame before this row would take it past its size (a
		// frame holds at least one row), and the statement before the row
		// would take it past MaxStatement. Frames so stay within their
		// buffers' capacity and the buffers never grow.
		if fb != nil && frameRows > 0 && len(fb.buf)+len(t.prefix)+len(rd.row)+3 > frameSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if stmtLen > 0 && stmtLen+1+len(rd.row)+2 > min(d.opts.MaxStatement, frameSize) {
			fb.buf = append(fb.buf, ";\n"...)
			stmtLen = 0
		}
		if fb == nil {
			var err error
			if fb, err = d.pipe.get(ctx); err != nil {
				return err
			}
			if cap(fb.buf) < frameSize {
				fb.buf = make([]byte, 0, frameSize)
			}
		}
		if stmtLen == 0 {
			fb.buf = append(fb.buf, t.prefix...)
			stmtLen = len(t.prefix)
		} else {
			fb.buf = append(fb.buf, ',')
			stmtLen++
		}
		fb.buf = append(fb.buf, rd.row...)
		stmtLen += len(rd.row)
		frameRows++
		if int64(stmtLen)+2 > d.maxPacket && t.warnedPacket.CompareAndSwap(false, true) {
			d.warn("a row needs a statement larger than the server's max_allowed_packet: the restoring server and client need a larger max_allowed_packet",
				"table", t.Name, "statement_bytes", stmtLen+2, "max_allowed_packet", d.maxPacket)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if fb != nil {
		return flush()
	}
	return nil
}

// frameSize asks for the next data frame's size (at least 64 KiB; a
// smaller frame also bounds its statements) and lets the pipe drop buffers
// much larger than that, grown by a single huge row.
func (d *dumper) frameSize() int {
	n := max(d.opts.FrameSize(), 64<<10)
	d.pipe.keep.Store(int64(2 * n))
	return n
}
