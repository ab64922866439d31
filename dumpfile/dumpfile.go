// Package dumpfile defines the lms-backup dump file: plain SQL text cut into
// frames, each frame compressed on its own.
//
// A dump is a sequence of frames. Every frame is SQL text that ends with one
// marker line
//
//	-- lms-backup frame {"kind":"data","table":"loans","part":3,"rows":5120,"bytes":1048211,"crc32c":"89ab01cd"}
//
// which states what the frame holds, how many bytes come before the marker
// and their CRC-32C. The first frame (kind "header") starts with a line
// "-- lms-backup dump {...}" describing the dump and sets up the session; the
// last frame (kind "trailer") restores the session and carries a line
// "-- lms-backup trailer {...}" with the row count of every table. A file
// without its trailer is incomplete. Statements never span frames, and frames
// never span tables.
//
// Tables may interleave: a table's schema frame comes before its data
// frames, whose parts are numbered 1, 2, 3... in file order, but frames of
// other tables may come between them (a parallel dump writes chunks as its
// connections finish them). The trailer also indexes the file: per table
// the [offset, length] of its schema frame and [offset, length, rows] of
// each data frame in part order, offsets and lengths counted in the
// file's (compressed) bytes, so a reader can seek to a table's frames and
// decompress only those (each frame is a whole zstd frame or gzip member).
//
// With zstd each frame is one zstd frame, with gzip one gzip member; a
// concatenation of those is still one valid stream for `zstd -dc` or
// `gunzip`, and the text is one valid script for the stock mariadb client,
// which takes the markers for comments. Frames let a later writer append
// chunks compressed by parallel workers, and let a reader check every frame
// before it executes any of its statements.
package dumpfile

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"time"
)

// Format is the version of the file format this package writes and reads.
const Format = 1

const (
	headerPrefix  = "-- lms-backup dump "
	framePrefix   = "-- lms-backup frame "
	trailerPrefix = "-- lms-backup trailer "
)

var (
	// ErrNotDump means the input is not an lms-backup dump at all.
	ErrNotDump = errors.New("dumpfile: not an lms-backup dump")
	// ErrCorrupt means the input is a damaged or truncated dump.
	ErrCorrupt = errors.New("dumpfile: damaged or incomplete dump")
)

// Kind says what a frame holds.
type Kind string

// Frame kinds, in the order they appear in a dump.
const (
	KindHeader  Kind = "header"  // session set-up
	KindSchema  Kind = "schema"  // one table's or sequence's definition
	KindData    Kind = "data"    // rows of one table
	KindObjects Kind = "objects" // routines, views, triggers or events
	KindTrailer Kind = "trailer" // session restore and row counts
)

// FrameInfo is the content of a frame's end marker.
type FrameInfo struct {
	Kind  Kind   `json:"kind"`
	Table string `json:"table,omitempty"`
	Part  int    `json:"part,omitempty"` // 1-based number of a data frame within its table
	Rows  int64  `json:"rows,omitempty"`
	Bytes int64  `json:"bytes"` // length of the frame before the marker line
	// CRC is the CRC-32C (Castagnoli) of those bytes followed by Kind,
	// Table, Part and Rows (see frameSum), as 8 hex digits.
	CRC string `json:"crc32c"`
}

// Header describes a dump. It is the JSON of the first line of the file.
type Header struct {
	Format        int       `json:"format"`
	Tool          string    `json:"tool"`
	ServerVersion string    `json:"server_version"`
	Database      string    `json:"database"`
	Started       time.Time `json:"started"`
	// Consistency names how the snapshot was taken, e.g. "single-transaction".
	Consistency string `json:"consistency"`
	// BinlogFile and BinlogPos are the source's binary log coordinates of the
	// snapshot, when the server writes a binary log.
	BinlogFile string `json:"binlog_file,omitempty"`
	BinlogPos  int64  `json:"binlog_pos,omitempty"`
	// GTID is the server's GTID position of the snapshot, when known.
	GTID string `json:"gtid,omitempty"`
	// Charset and Collation are the source database's defaults
	// (information_schema.SCHEMATA); empty in dumps written before they
	// were recorded. A restore that creates its target uses them.
	Charset   string `json:"charset,omitempty"`
	Collation string `json:"collation,omitempty"`
}

// TableSummary is what the trailer says about one table.
type TableSummary struct {
	Name       string `json:"name"`
	Rows       int64  `json:"rows"`
	DataFrames int    `json:"data_frames"`
	// Schema is the [offset, length] in the file of the table's schema
	// frame. A Reader refuses a trailer without it (written before the
	// index existed).
	Schema *[2]int64 `json:"schema,omitempty"`
	// Frames holds [offset, length, rows] in the file of each data frame,
	// part 1 first; nil when the table has no data frames.
	Frames [][3]int64 `json:"frames,omitempty"`
}

// Trailer closes a dump.
type Trailer struct {
	Completed time.Time `json:"completed"`
	// Frames counts the frames before the trailer frame, the header included.
	Frames int            `json:"frames"`
	Tables []TableSummary `json:"tables"`
}

// Compression is how frames are compressed.
type Compression string

// Compressions.
const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// ParseCompression parses a --compress value.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case None, Gzip, Zstd:
		return c, nil
	case "zst":
		return Zstd, nil
	case "gz":
		return Gzip, nil
	}
	return "", fmt.Errorf("unknown compression %q (use zstd, gzip or none)", s)
}

// CompressionFor returns the compression a file name's extension implies,
// and false when the name has no known extension.
func CompressionFor(path string) (Compression, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".zst", ".zstd":
		return Zstd, true
	case ".gz", ".gzip":
		return Gzip, true
	case ".sql":
		return None, true
	}
	return "", false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameSum returns the checksum of a frame: CRC-32C of its content and then
// of its kind, table, part and rows, so that a damaged marker cannot move
// rows to another table.
func frameSum(content []byte, info FrameInfo) string {
	c := crc32.Update(0, castagnoli, content)
	meta := fmt.Appendf(nil, "\x00%s\x00%s\x00%d\x00%d", info.Kind, info.Table, info.Part, info.Rows)
	c = crc32.Update(c, castagnoli, meta)
	sum := [4]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
	return hex.EncodeToString(sum[:])
}

// AppendHeaderLine appends the first line of a dump.
func AppendHeaderLine(buf []byte, h Header) []byte {
	h.Format = Format
	return appendJSONLine(buf, headerPrefix, h)
}

// AppendTrailerLine appends the trailer line of the last frame.
func AppendTrailerLine(buf []byte, t Trailer) []byte {
	return appendJSONLine(buf, trailerPrefix, t)
}

// appendMarker appends the end marker of a frame whose content is buf.
func appendMarker(buf []byte, info FrameInfo) []byte {
	info.Bytes = int64(len(buf))
	info.CRC = frameSum(buf, info)
	return appendJSONLine(buf, framePrefix, info)
}

func appendJSONLine(buf []byte, prefix string, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are marshalled
	}
	buf = append(buf, prefix...)
	buf = append(buf, j...)
	return append(buf, '\n')
}
