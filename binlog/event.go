// Package binlog archives a MariaDB server's binary log and plans the
// replay of its events for a restore to a moment: it reads event headers
// and the few event bodies it needs (GTIDs, statements, table maps,
// rotations), keeps the archive's segments and their manifests in a
// storage.Store, supervises the stock mariadb-binlog that speaks the
// replication protocol, and replays a range of events with the stock
// mariadb-binlog and mariadb clients.
//
// It reads the binary log format version 4 (MySQL 5.0 and later, every
// MariaDB), with or without CRC32 event checksums.
package binlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Event types this package decodes or needs to recognise.
const (
	typeQuery          = 2
	typeStop           = 3
	typeRotate         = 4
	typeFormat         = 15
	typeXID            = 16
	typeTableMap       = 19
	typeAnnotateRows   = 160
	typeGTID           = 162
	typeGTIDList       = 163
	typeStartEncrypt   = 164
	typeQueryCompress  = 165
	typeXAPrepare      = 38
	headerSize         = 19
	fileMagic          = "\xfebin"
	maxEventSize       = 1<<30 + 4096 // the server's largest max_allowed_packet, and some
	checksumAlgCRC32   = 1
	gtidFlagStandalone = 1
)

var (
	// ErrCorrupt means a binary log file is not one, or an event is damaged.
	ErrCorrupt = errors.New("binlog: damaged binary log")
	// errTruncated is a stream that ends inside an event: the file is
	// still being written, or was cut.
	errTruncated = errors.New("binlog: file ends inside an event")
)

// Event is one event of a binary log file.
type Event struct {
	// Pos is where the event starts in the server's file, End where it
	// ends (the header's log_pos). Artificial events (a resumed stream's
	// format description, fake rotations) have End 0.
	Pos, End int64
	Time     uint32 // seconds since the epoch, UTC
	Type     byte
	ServerID uint32
	// Body is the event after its header, without its checksum; it is set
	// only for the types the package decodes and is valid until the next
	// call to Scanner.Next.
	Body []byte
}

// decoded are the event types whose bodies Scanner keeps.
func decoded(t byte) bool {
	switch t {
	case typeQuery, typeRotate, typeFormat, typeTableMap, typeGTID, typeGTIDList, typeQueryCompress:
		return true
	}
	return false
}

// Scanner reads the events of one binary log file, or of a piece of one
// that mariadb-binlog --raw wrote when it resumed at a position (the magic
// number, an artificial format description, then the events from that
// position). It checks each event's checksum and that the events follow
// each other. It is not safe for concurrent use.
type Scanner struct {
	r        *bufio.Reader
	off      int64 // bytes of the stream consumed
	checksum bool
	next     int64 // where the next real event must start; 0 before the first
	first    int64 // where the first real event started
	buf      []byte
	hdr      [headerSize]byte
	ev       Event
	err      error
	crc      hashWriter
}

type hashWriter struct{ sum uint32 }

func (h *hashWriter) Write(p []byte) (int, error) {
	h.sum = crc32.Update(h.sum, crc32.IEEETable, p)
	return len(p), nil
}

// NewScanner checks the magic number at the start of r.
func NewScanner(r io.Reader) (*Scanner, error) {
	s := &Scanner{r: bufio.NewReaderSize(r, 64<<10)}
	var magic [4]byte
	if _, err := io.ReadFull(s.r, magic[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errTruncated
		}
		return nil, err
	}
	if string(magic[:]) != fileMagic {
		return nil, fmt.Errorf("%w: no binary log magic number", ErrCorrupt)
	}
	s.off = 4
	return s, nil
}

// Next reads the next event. It returns false at the end of the stream or
// on an error; Err says which.
func (s *Scanner) Next() bool {
	if s.err != nil {
		return false
	}
	s.err = s.read()
	return s.err == nil
}

// Err is nil at a clean end of the stream, errTruncated when the stream
// ends inside an event (see Truncated), and otherwise what went wrong.
func (s *Scanner) Err() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// Truncated reports whether the stream ended inside an event.
func (s *Scanner) Truncated() bool { return errors.Is(s.err, errTruncated) }

// Event returns the event Next read; it is valid until the next call.
func (s *Scanner) Event() *Event { return &s.ev }

// End is the server position just after the last complete real event
// (0 before the first): where a resumed read must continue.
func (s *Scanner) End() int64 { return s.next }

// First is the server position of the first real event (4 for a whole
// file), 0 before one was read.
func (s *Scanner) First() int64 { return s.first }

// Offset is how many bytes of the stream the complete events so far take.
func (s *Scanner) Offset() int64 { return s.off }

func (s *Scanner) read() error {
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return errTruncated
		}
		return err
	}
	h := s.hdr[:]
	size := int64(binary.LittleEndian.Uint32(h[9:]))
	ev := Event{Time: binary.LittleEndian.Uint32(h[0:]), Type: h[4], ServerID: binary.LittleEndian.Uint32(h[5:]),
		End: int64(binary.LittleEndian.Uint32(h[13:]))}
	if size < headerSize || size > maxEventSize {
		return fmt.Errorf("%w: event at offset %d has size %d", ErrCorrupt, s.off, size)
	}
	if ev.End != 0 {
		ev.Pos = ev.End - size
		switch {
		case s.next == 0 && ev.Type == typeFormat && ev.Pos != 4:
			return fmt.Errorf("%w: format description at position %d", ErrCorrupt, ev.Pos)
		case s.next != 0 && ev.Pos != s.next:
			return fmt.Errorf("%w: event at position %d does not follow the one ending at %d", ErrCorrupt, ev.Pos, s.next)
		case ev.Pos < 4:
			return fmt.Errorf("%w: event ends at %d but is %d bytes long", ErrCorrupt, ev.End, size)
		}
	}
	body := size - headerSize
	tail := int64(0)
	if s.checksum || ev.Type == typeFormat {
		tail = 4
	}
	if body < tail {
		return fmt.Errorf("%w: event at offset %d is shorter than its checksum", ErrCorrupt, s.off)
	}
	s.crc.sum = crc32.Update(0, crc32.IEEETable, h)
	keep := decoded(ev.Type)
	if keep {
		if int64(cap(s.buf)) < body {
			s.buf = make([]byte, body)
		}
		s.buf = s.buf[:body]
		if _, err := io.ReadFull(s.r, s.buf); err != nil {
			return truncated(err)
		}
		s.crc.Write(s.buf[:body-tail])
		ev.Body = s.buf[:body-tail]
	} else {
		if _, err := io.CopyN(&s.crc, s.r, body-tail); err != nil {
			return truncated(err)
		}
		if tail > 0 {
			s.buf = s.buf[:0]
			s.buf = append(s.buf, 0, 0, 0, 0)
			if _, err := io.ReadFull(s.r, s.buf[:4]); err != nil {
				return truncated(err)
			}
		}
	}
	if ev.Type == typeFormat {
		// The format description says whether events carry a checksum: its
		// last byte before the checksum names the algorithm.
		if len(ev.Body) < 1 {
			return fmt.Errorf("%w: short format description", ErrCorrupt)
		}
		s.checksum = ev.Body[len(ev.Body)-1] == checksumAlgCRC32
		if !s.checksum {
			tail = 0 // its last four bytes are unused
		}
	}
	if tail > 0 && s.checksum {
		var stored []byte
		if keep {
			stored = s.buf[body-4 : body]
		} else {
			stored = s.buf[:4]
		}
		if binary.LittleEndian.Uint32(stored) != s.crc.sum {
			return fmt.Errorf("%w: checksum mismatch in the event at offset %d", ErrCorrupt, s.off)
		}
	}
	s.off += size
	if ev.End != 0 {
		if s.next == 0 {
			s.first = ev.Pos
		}
		s.next = ev.End
	}
	s.ev = ev
	return nil
}

func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

// GTID is a MariaDB global transaction id.
type GTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// IsZero reports whether g is unset.
func (g GTID) IsZero() bool { return g == GTID{} }

// ParseGTID reads "domain-server-seq".
func ParseGTID(s string) (GTID, error) {
	var g GTID
	var rest string
	n, err := fmt.Sscanf(s, "%d-%d-%d%s", &g.Domain, &g.Server, &g.Seq, &rest)
	if n != 3 || (err != nil && err != io.EOF && rest == "") || rest != "" || fmt.Sprint(g) != s {
		return GTID{}, fmt.Errorf("%q is not a GTID (write DOMAIN-SERVER-SEQUENCE, e.g. 0-1-42)", s)
	}
	return g, nil
}

// gtidOf decodes a GTID event; standalone is set for a transaction that is
// one statement (DDL) without BEGIN and COMMIT.
func gtidOf(ev *Event) (g GTID, standalone bool, err error) {
	if len(ev.Body) < 13 {
		return g, false, fmt.Errorf("%w: short GTID event at %d", ErrCorrupt, ev.Pos)
	}
	g.Seq = binary.LittleEndian.Uint64(ev.Body)
	g.Domain = binary.LittleEndian.Uint32(ev.Body[8:])
	g.Server = ev.ServerID
	return g, ev.Body[12]&gtidFlagStandalone != 0, nil
}

// gtidListOf decodes a GTID list event: the binary log state at the start
// of a file.
func gtidListOf(ev *Event) ([]GTID, error) {
	if len(ev.Body) < 4 {
		return nil, fmt.Errorf("%w: short GTID list event", ErrCorrupt)
	}
	n := int(binary.LittleEndian.Uint32(ev.Body) & 0x0fffffff)
	if len(ev.Body) < 4+16*n {
		return nil, fmt.Errorf("%w: short GTID list event", ErrCorrupt)
	}
	out := make([]GTID, n)
	for i := range out {
		b := ev.Body[4+16*i:]
		out[i] = GTID{Domain: binary.LittleEndian.Uint32(b), Server: binary.LittleEndian.Uint32(b[4:]), Seq: binary.LittleEndian.Uint64(b[8:])}
	}
	return out, nil
}

// queryOf decodes a query event: the default database it ran in and its
// text.
func queryOf(ev *Event) (db, text []byte, err error) {
	b := ev.Body
	if len(b) < 13 {
		return nil, nil, fmt.Errorf("%w: short query event at %d", ErrCorrupt, ev.Pos)
	}
	dbLen := int(b[8])
	statusLen := int(binary.LittleEndian.Uint16(b[11:]))
	rest := b[13:]
	if len(rest) < statusLen+dbLen+1 {
		return nil, nil, fmt.Errorf("%w: short query event at %d", ErrCorrupt, ev.Pos)
	}
	rest = rest[statusLen:]
	return rest[:dbLen], rest[dbLen+1:], nil
}

// tableMapOf decodes the database and table a table map event names.
func tableMapOf(ev *Event) (db, table []byte, err error) {
	b := ev.Body
	if len(b) < 9 {
		return nil, nil, fmt.Errorf("%w: short table map event at %d", ErrCorrupt, ev.Pos)
	}
	n := int(b[8])
	if len(b) < 9+n+2 {
		return nil, nil, fmt.Errorf("%w: short table map event at %d", ErrCorrupt, ev.Pos)
	}
	db = b[9 : 9+n]
	rest := b[9+n+1:]
	m := int(rest[0])
	if len(rest) < 1+m {
		return nil, nil, fmt.Errorf("%w: short table map event at %d", ErrCorrupt, ev.Pos)
	}
	return db, rest[1 : 1+m], nil
}

// rotateOf decodes the next file a rotate event names.
func rotateOf(ev *Event) (string, error) {
	if len(ev.Body) < 8 {
		return "", fmt.Errorf("%w: short rotate event at %d", ErrCorrupt, ev.Pos)
	}
	name := ev.Body[8:]
	if len(name) == 0 || bytes.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("%w: rotate event at %d names no valid file", ErrCorrupt, ev.Pos)
	}
	return string(name), nil
}
