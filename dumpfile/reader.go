package dumpfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// MaxFrame bounds the text a Reader accepts before a frame's end marker. A
// frame holds at least one whole row, so this is also the largest row a dump
// can carry back.
const MaxFrame = 1 << 30

var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

// Frame is one checked frame read from a dump.
type Frame struct {
	Info FrameInfo
	// Data is the frame's SQL text without its marker line. It is valid
	// until the next call to Next.
	Data []byte
	// Offset is the position of Data[0] in the uncompressed text.
	Offset int64
	// Index is the 0-based position of the frame in the file.
	Index int
}

// Reader reads and checks the frames of a dump. It is not safe for
// concurrent use.
type Reader struct {
	src     io.Reader
	br      *bufio.Reader
	zstd    *zstd.Decoder
	comp    Compression
	buf     []byte
	offset  int64
	frames  int
	header  *Header
	trailer *Trailer
	rows    map[string]int64
	parts   map[string]int
	done    bool
	err     error

	// What the trailer is checked against: where each frame ends in the
	// text, where each compressed frame ends (nil without compression),
	// which frame holds each table's schema and data parts.
	textEnds  []int64
	frameText *frameText
	schemaAt  map[string]int
	dataAt    map[string][][2]int64 // frame index, rows
	objects   bool                  // an objects frame was read: no schema or data may follow
	// sequences names the schema frames that define a sequence (which
	// the trailer does not list) and no table.
	sequences map[string]bool
}

// NewReader detects the compression of r from its first bytes and checks
// that it holds an lms-backup dump. It does not close r; call Close to
// release the decompressor.
func NewReader(r io.Reader) (*Reader, error) {
	under := &countReader{r: r}
	raw := bufio.NewReaderSize(under, 64<<10)
	magic, err := raw.Peek(4)
	if err != nil && len(magic) == 0 {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the input is empty", ErrNotDump)
		}
		return nil, fmt.Errorf("%w: cannot read its start: %v", ErrCorrupt, err)
	}
	rd := &Reader{src: raw, rows: map[string]int64{}, parts: map[string]int{},
		schemaAt: map[string]int{}, dataAt: map[string][][2]int64{}, sequences: map[string]bool{}}
	var text io.Reader
	src := source{raw, under}
	switch {
	case bytes.HasPrefix(magic, zstdMagic):
		rd.comp = Zstd
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxFrame))
		if err != nil {
			return nil, fmt.Errorf("start zstd: %w", err)
		}
		rd.zstd = dec
		rd.frameText = newZstdText(src, dec)
		text = rd.frameText
	case bytes.HasPrefix(magic, gzipMagic):
		rd.comp = Gzip
		ft, err := newGzipText(src)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip header: %v", ErrCorrupt, err)
		}
		rd.frameText = ft
		text = ft
	default:
		rd.comp = None
		text = raw
	}
	rd.br = bufio.NewReaderSize(text, 1<<20)
	first, err := rd.br.Peek(len(headerPrefix))
	if string(first) != headerPrefix {
		if err != nil && !errors.Is(err, io.EOF) && rd.comp != None {
			return nil, fmt.Errorf("%w: cannot decompress the start (%s): %v", ErrCorrupt, rd.comp, err)
		}
		if start, _ := rd.br.Peek(64 << 10); bytes.Contains(start, []byte(framePrefix)) {
			rd.Close()
			return nil, fmt.Errorf("%w: the first frame is not the header: frames out of order", ErrCorrupt)
		}
		rd.Close()
		return nil, fmt.Errorf("%w: it does not start with %q (for a plain SQL script use the mariadb client)", ErrNotDump, headerPrefix)
	}
	return rd, nil
}

// Compression returns the detected compression.
func (r *Reader) Compression() Compression { return r.comp }

// Header returns the dump's header; nil until the first frame was read.
func (r *Reader) Header() *Header { return r.header }

// Trailer returns the dump's trailer; nil until the last frame was read.
func (r *Reader) Trailer() *Trailer { return r.trailer }

// Next reads and checks the next frame. It returns io.EOF after the trailer
// frame, and an error wrapping ErrCorrupt for a damaged or truncated dump.
// Errors are sticky.
//
// A frame is returned only in its place: the header first, a table's schema
// frame (one per table) before its data frames, data parts in order, objects
// frames after every schema and data frame. The trailer frame is returned
// only when it lists exactly the tables the file defines (sequences aside),
// its counts match the frames' and its index locates every schema and data
// frame at the offset and length it was read from; frames before it were
// returned before those checks could be made.
func (r *Reader) Next() (*Frame, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		r.err = io.EOF
		if _, err := r.br.ReadByte(); err != io.EOF {
			r.err = fmt.Errorf("%w: unexpected data after the trailer at byte %d", ErrCorrupt, r.offset)
		}
		return nil, r.err
	}
	f, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return f, nil
}

func (r *Reader) next() (*Frame, error) {
	r.buf = r.buf[:0]
	for {
		lineStart := len(r.buf)
		var err error
		for {
			var chunk []byte
			chunk, err = r.br.ReadSlice('\n')
			r.buf = append(r.buf, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
			if len(r.buf) > MaxFrame {
				return nil, fmt.Errorf("%w: frame %d at byte %d has no end marker within %d MiB", ErrCorrupt, r.frames+1, r.offset, MaxFrame>>20)
			}
		}
		if err != nil {
			if err == io.EOF {
				if len(r.buf) == 0 {
					return nil, fmt.Errorf("%w: the file ends after %d frames without the trailer: the dump did not finish", ErrCorrupt, r.frames)
				}
				return nil, fmt.Errorf("%w: the file ends inside frame %d (starting at byte %d): truncated", ErrCorrupt, r.frames+1, r.offset)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: the file ends inside frame %d (starting at byte %d): truncated", ErrCorrupt, r.frames+1, r.offset)
			}
			return nil, fmt.Errorf("%w: frame %d at byte %d: %v", ErrCorrupt, r.frames+1, r.offset, err)
		}
		line := r.buf[lineStart:]
		if !bytes.HasPrefix(line, []byte(framePrefix)) {
			continue
		}
		info, ok := checkMarker(line, r.buf[:lineStart])
		if !ok {
			// Not this frame's marker: text that looks like one (or a
			// damaged one, which the trailer check then reports).
			continue
		}
		f := &Frame{Info: info, Data: r.buf[:lineStart], Offset: r.offset, Index: r.frames}
		if err := r.account(f); err != nil {
			return nil, err
		}
		r.offset += int64(len(r.buf))
		r.textEnds = append(r.textEnds, r.offset)
		r.frames++
		return f, nil
	}
}

// checkMarker parses a marker line and checks it against the frame content.
func checkMarker(line, content []byte) (FrameInfo, bool) {
	var info FrameInfo
	if err := json.Unmarshal(bytes.TrimSpace(line[len(framePrefix):]), &info); err != nil {
		return info, false
	}
	if info.Bytes != int64(len(content)) || info.CRC != frameSum(content, info) {
		return info, false
	}
	return info, true
}

// account checks a frame's place in the file and its counts.
func (r *Reader) account(f *Frame) error {
	where := fmt.Sprintf("frame %d at byte %d", f.Index+1, f.Offset)
	if (f.Index == 0) != (f.Info.Kind == KindHeader) {
		return fmt.Errorf("%w: %s: a %s frame where the header belongs", ErrCorrupt, where, f.Info.Kind)
	}
	switch f.Info.Kind {
	case KindHeader:
		line, _, _ := bytes.Cut(f.Data, []byte("\n"))
		var h Header
		if err := json.Unmarshal(line[len(headerPrefix):], &h); err != nil {
			return fmt.Errorf("%w: %s: header line: %v", ErrCorrupt, where, err)
		}
		if h.Format != Format {
			return fmt.Errorf("%w: format %d; this lms-backup reads format %d (use a matching lms-backup version)", ErrNotDump, h.Format, Format)
		}
		r.header = &h
	case KindSchema:
		if r.objects {
			return fmt.Errorf("%w: %s: the definition of %q after the objects frames, which need every table before them", ErrCorrupt, where, f.Info.Table)
		}
		if _, dup := r.schemaAt[f.Info.Table]; dup {
			return fmt.Errorf("%w: %s: a second definition of %q", ErrCorrupt, where, f.Info.Table)
		}
		r.schemaAt[f.Info.Table] = f.Index
		if definesSequence(f.Data) {
			r.sequences[f.Info.Table] = true
		}
	case KindData:
		if _, ok := r.schemaAt[f.Info.Table]; !ok {
			return fmt.Errorf("%w: %s: rows of table %q before its definition", ErrCorrupt, where, f.Info.Table)
		}
		if r.objects {
			return fmt.Errorf("%w: %s: rows of table %q after the objects frames", ErrCorrupt, where, f.Info.Table)
		}
		r.rows[f.Info.Table] += f.Info.Rows
		r.parts[f.Info.Table]++
		if f.Info.Part != r.parts[f.Info.Table] {
			return fmt.Errorf("%w: %s: part %d of table %q where part %d belongs", ErrCorrupt, where, f.Info.Part, f.Info.Table, r.parts[f.Info.Table])
		}
		r.dataAt[f.Info.Table] = append(r.dataAt[f.Info.Table], [2]int64{int64(f.Index), f.Info.Rows})
	case KindObjects:
		r.objects = true
	case KindTrailer:
		return r.readTrailer(f, where)
	default:
		return fmt.Errorf("%w: %s: unknown frame kind %q", ErrCorrupt, where, f.Info.Kind)
	}
	return nil
}

func (r *Reader) readTrailer(f *Frame, where string) error {
	i := bytes.LastIndex(f.Data, []byte(trailerPrefix))
	if i < 0 {
		return fmt.Errorf("%w: %s: trailer frame without a trailer line", ErrCorrupt, where)
	}
	line, _, _ := bytes.Cut(f.Data[i+len(trailerPrefix):], []byte("\n"))
	var t Trailer
	if err := json.Unmarshal(line, &t); err != nil {
		return fmt.Errorf("%w: %s: trailer line: %v", ErrCorrupt, where, err)
	}
	if t.Frames != f.Index {
		return fmt.Errorf("%w: the trailer counts %d frames, the file has %d", ErrCorrupt, t.Frames, f.Index)
	}
	seen := map[string]bool{}
	for _, ts := range t.Tables {
		if seen[ts.Name] {
			return fmt.Errorf("%w: the trailer lists table %q twice", ErrCorrupt, ts.Name)
		}
		seen[ts.Name] = true
		if _, ok := r.schemaAt[ts.Name]; !ok {
			return fmt.Errorf("%w: the trailer lists table %q, the file has no definition of it", ErrCorrupt, ts.Name)
		}
		if got := r.rows[ts.Name]; got != ts.Rows || r.parts[ts.Name] != ts.DataFrames {
			return fmt.Errorf("%w: table %q: the trailer says %d rows in %d frames, the file has %d rows in %d frames",
				ErrCorrupt, ts.Name, ts.Rows, ts.DataFrames, got, r.parts[ts.Name])
		}
		if err := checkIndex(ts); err != nil {
			return fmt.Errorf("%w: table %q: %v", ErrCorrupt, ts.Name, err)
		}
		if err := r.checkPlaces(ts); err != nil {
			return fmt.Errorf("%w: table %q: %v", ErrCorrupt, ts.Name, err)
		}
	}
	for name := range r.rows {
		if !seen[name] {
			return fmt.Errorf("%w: table %q has data frames but is missing from the trailer", ErrCorrupt, name)
		}
	}
	for name, i := range r.schemaAt {
		if !seen[name] && !r.sequences[name] {
			return fmt.Errorf("%w: frame %d defines table %q, which the trailer does not list", ErrCorrupt, i+1, name)
		}
	}
	r.trailer = &t
	r.done = true
	return nil
}

// checkIndex checks a table's frame index against its counts; checkPlaces
// then checks the offsets against the file. A table without an index
// passes here and fails there.
func checkIndex(ts TableSummary) error {
	if ts.Frames == nil {
		return nil
	}
	var rows int64
	for _, f := range ts.Frames {
		rows += f[2]
	}
	if len(ts.Frames) != ts.DataFrames || rows != ts.Rows {
		return fmt.Errorf("the trailer's index lists %d frames with %d rows, its counts say %d with %d", len(ts.Frames), rows, ts.DataFrames, ts.Rows)
	}
	return nil
}

var (
	createSequence = regexp.MustCompile(`(?i)\bCREATE\s+(OR\s+REPLACE\s+)?SEQUENCE\b`)
	createTable    = regexp.MustCompile(`(?i)\bCREATE\s+(OR\s+REPLACE\s+)?(TEMPORARY\s+)?TABLE\b`)
)

// definesSequence reports whether a schema frame creates a sequence and no
// table.
func definesSequence(data []byte) bool {
	return createSequence.Match(data) && !createTable.Match(data)
}

// checkPlaces checks that the trailer's index of ts locates the frames
// the file holds: its schema frame and each data frame in part order, at
// the offset and with the length each was read from.
func (r *Reader) checkPlaces(ts TableSummary) error {
	if ts.Schema == nil || ts.Frames == nil && ts.DataFrames > 0 {
		return fmt.Errorf("the trailer has no index of its frames")
	}
	at, err := r.place(r.schemaAt[ts.Name])
	if err != nil {
		return err
	}
	if at != *ts.Schema {
		return fmt.Errorf("the index puts its definition at %d+%d, the file has it at %d+%d", ts.Schema[0], ts.Schema[1], at[0], at[1])
	}
	for i, fi := range r.dataAt[ts.Name] {
		at, err := r.place(int(fi[0]))
		if err != nil {
			return err
		}
		if want := ts.Frames[i]; want[0] != at[0] || want[1] != at[1] || want[2] != fi[1] {
			return fmt.Errorf("the index puts part %d at %d+%d with %d rows, the file has it at %d+%d with %d rows", i+1, want[0], want[1], want[2], at[0], at[1], fi[1])
		}
	}
	return nil
}

// place returns the [offset, length] in the file of frame i, which must be
// one whole compressed frame.
func (r *Reader) place(i int) ([2]int64, error) {
	start, end := int64(0), r.textEnds[i]
	if i > 0 {
		start = r.textEnds[i-1]
	}
	if r.frameText == nil {
		return [2]int64{start, end - start}, nil
	}
	ends := r.frameText.ends
	if i >= len(ends) || ends[i].text != end || i > 0 && ends[i-1].text != start {
		return [2]int64{}, fmt.Errorf("frame %d is not one whole %s frame", i+1, r.comp)
	}
	var off int64
	if i > 0 {
		off = ends[i-1].file
	}
	return [2]int64{off, ends[i].file - off}, nil
}

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.zstd != nil {
		r.zstd.Close()
		r.zstd = nil
	}
	return nil
}

// ReadFrameAt reads and checks the one frame stored at [off, off+n) of a
// dump compressed with c, as the trailer's index (TableSummary.Schema and
// Frames) locates it, without reading anything before it: the way to read
// one table of a large dump. The frame's Offset and Index are unknown
// (zero). Errors wrap ErrCorrupt when the bytes are not one whole frame.
func ReadFrameAt(r io.ReaderAt, c Compression, off, n int64) (*Frame, error) {
	if off < 0 || n <= 0 || n > MaxFrame {
		return nil, fmt.Errorf("%w: no frame at %d+%d", ErrCorrupt, off, n)
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, off); err != nil {
		return nil, fmt.Errorf("%w: read frame at %d+%d: %v", ErrCorrupt, off, n, err)
	}
	var text []byte
	var err error
	switch c {
	case Zstd:
		var dec *zstd.Decoder
		if dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxFrame)); err != nil {
			return nil, fmt.Errorf("start zstd: %w", err)
		}
		defer dec.Close()
		text, err = dec.DecodeAll(raw, nil)
	case Gzip:
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(bytes.NewReader(raw)); err == nil {
			gz.Multistream(false)
			text, err = io.ReadAll(gz)
		}
	default:
		text = raw
	}
	if err != nil {
		return nil, fmt.Errorf("%w: frame at %d+%d: %v", ErrCorrupt, off, n, err)
	}
	body := bytes.TrimSuffix(text, []byte("\n"))
	i := bytes.LastIndex(body, []byte(framePrefix))
	if i < 0 || len(body) == len(text) {
		return nil, fmt.Errorf("%w: the bytes at %d+%d do not end with a frame marker", ErrCorrupt, off, n)
	}
	info, ok := checkMarker(body[i:], text[:i])
	if !ok {
		return nil, fmt.Errorf("%w: the frame at %d+%d does not match its marker", ErrCorrupt, off, n)
	}
	return &Frame{Info: info, Data: text[:i]}, nil
}
