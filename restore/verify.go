package restore

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"lms-backup/dumpfile"
)

// Report is what Verify found in a sound dump.
type Report struct {
	Header      dumpfile.Header
	Trailer     dumpfile.Trailer
	Compression dumpfile.Compression
	Frames      int
	Statements  int
	Tables      int
	Rows        int64
	Bytes       int64 // uncompressed size
}

// Verify reads a whole dump without a server: it checks every frame
// (checksum, order, trailer), splits every frame into statements and counts
// the row tuples of every INSERT against the frame's and the trailer's row
// counts. It returns an error wrapping dumpfile.ErrCorrupt for any mismatch.
func Verify(ctx context.Context, rd *dumpfile.Reader) (*Report, error) {
	rep := &Report{Compression: rd.Compression()}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rep.Frames++
		rep.Bytes = f.Offset + int64(len(f.Data))
		var rows int64
		err = Split(f.Data, func(s Statement) error {
			rep.Statements++
			if f.Info.Kind != dumpfile.KindData {
				return nil
			}
			table, n, ok := Rows(s.Text)
			if !ok || table != f.Info.Table {
				return fmt.Errorf("statement at byte %d is not an INSERT into %q: %s", f.Offset+int64(s.Offset), f.Info.Table, head(s.Text))
			}
			rows += int64(n)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: frame %d at byte %d: %v", dumpfile.ErrCorrupt, f.Index+1, f.Offset, err)
		}
		switch f.Info.Kind {
		case dumpfile.KindSchema:
			if bytes.Contains(f.Data, []byte("\nCREATE TABLE ")) {
				rep.Tables++
			}
		case dumpfile.KindData:
			if rows != f.Info.Rows {
				return nil, fmt.Errorf("%w: frame %d (table %s part %d) holds %d rows, its marker says %d", dumpfile.ErrCorrupt, f.Index+1, f.Info.Table, f.Info.Part, rows, f.Info.Rows)
			}
			rep.Rows += rows
		}
	}
	rep.Header = *rd.Header()
	rep.Trailer = *rd.Trailer()
	return rep, nil
}
