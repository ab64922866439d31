package sqlscript

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
// (checksum, order, trailer), splits every frame into statements, checks
// that each statement is of a kind its frame may hold (frameStatements),
// and counts the row tuples of every INSERT against the frame's and the
// trailer's row counts.
//
// It splits the way both restore paths do: the header from an unknown
// sql_mode (the server's own), every other frame on its own from the zero
// Mode and ";" (what lms-backup restore does), following the SET
// statements as the stock client does. For the client, which reads the
// file as one script, to split the same, the header and every frame but
// the trailer must end in that state; verify checks it.
//
// It returns an error wrapping dumpfile.ErrCorrupt for any mismatch.
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
		sp := FrameSplitter(f.Info.Kind)
		err = sp.Split(f.Data, func(s Statement) error {
			rep.Statements++
			if f.Info.Kind != dumpfile.KindData {
				if err := checkKind(f.Info, s.Text, sp.modeBefore); err != nil {
					return fmt.Errorf("statement at byte %d: %w", f.Offset+int64(s.Offset), err)
				}
				return nil
			}
			table, n, ok := Rows(s.Text)
			if !ok || table != f.Info.Table {
				return fmt.Errorf("statement at byte %d is not an INSERT into %q: %s", f.Offset+int64(s.Offset), f.Info.Table, Head(s.Text))
			}
			rows += int64(n)
			return nil
		})
		if err == nil {
			err = sp.CheckFrameEnd(f.Info.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: frame %d (%s) at byte %d: %v", dumpfile.ErrCorrupt, f.Index+1, f.Info.Kind, f.Offset, err)
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

// FrameSplitter returns the splitter state a frame of kind k starts in on
// the restore paths: the header runs in the server's own sql_mode, which
// is not known; every other frame runs after the header has set the zero
// Mode (CheckFrameEnd makes sure of it).
func FrameSplitter(k dumpfile.Kind) Splitter {
	if k == dumpfile.KindHeader {
		return Splitter{Mode: ModeUnknown}
	}
	return Splitter{}
}

// CheckFrameEnd returns an error when a frame of kind k leaves sp in
// another state than the next frame starts in: the stock client, which
// reads the dump as one script, would then split the next frame
// differently from lms-backup restore. The trailer is last and may leave
// any mode.
func (sp *Splitter) CheckFrameEnd(k dumpfile.Kind) error {
	if k == dumpfile.KindTrailer {
		return nil
	}
	if sp.Delimiter != "" {
		return fmt.Errorf("the frame ends with the delimiter %q in force, not \";\"", sp.Delimiter)
	}
	if sp.Mode != 0 {
		return fmt.Errorf("the frame ends under %v, not the header's NO_AUTO_VALUE_ON_ZERO: the next frame would split differently", sp.Mode)
	}
	return nil
}
