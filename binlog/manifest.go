package binlog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Manifest describes one archived binary log file (a segment).
type Manifest struct {
	// File is the server's name of the binary log file.
	File string `json:"file"`
	// Object is the segment's name in the archive.
	Object string `json:"object"`
	// First and End are the positions of the first event and just past the
	// last one (the file's size).
	First int64 `json:"first_pos"`
	End   int64 `json:"end_pos"`
	// FirstTime and LastTime are the times of the first and last events.
	FirstTime time.Time `json:"first_time"`
	LastTime  time.Time `json:"last_time"`
	// StartState is the server's GTID state when the file began (its GTID
	// list event); FirstGTID and LastGTID are the first and last
	// transactions the file holds ("" for none).
	StartState []string `json:"gtid_start_state"`
	FirstGTID  string   `json:"first_gtid,omitempty"`
	LastGTID   string   `json:"last_gtid,omitempty"`
	// Transactions counts the GTID events.
	Transactions int    `json:"transactions"`
	ServerID     uint32 `json:"server_id"`
	// Next is the file a closing rotate event names; Stopped is set when
	// the file ends with the server's stop event (a shutdown).
	Next    string `json:"next,omitempty"`
	Stopped bool   `json:"stopped,omitempty"`
	// SHA256 is the checksum of the binary log file's bytes (before
	// compression and encryption), Size their count.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Archived is when the segment was written.
	Archived time.Time `json:"archived"`
	// GapBefore is set when the file does not follow the previous segment
	// and the archiver was told to go on (--start-file after a purge):
	// restores cannot cross it.
	GapBefore bool `json:"gap_before,omitempty"`
}

// Closed reports whether the file ends with a rotate or stop event: the
// server wrote nothing more to it.
func (m *Manifest) Closed() bool { return m.Next != "" || m.Stopped }

// Summarize reads a whole binary log file from r and describes it. A file
// that ends inside an event is an error unless partial is set, in which
// case the manifest describes the complete events.
func Summarize(r io.Reader, partial bool) (Manifest, error) {
	h := sha256.New()
	s, err := NewScanner(io.TeeReader(r, h))
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	for s.Next() {
		if err := m.add(s.Event()); err != nil {
			return m, err
		}
	}
	if s.Truncated() && !partial {
		return m, fmt.Errorf("%w: %v at position %d", ErrCorrupt, errTruncated, s.End())
	}
	if err := s.Err(); err != nil && !s.Truncated() {
		return m, err
	}
	m.First, m.End = s.First(), s.End()
	m.Size = s.Offset()
	if !s.Truncated() {
		m.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return m, nil
}

// add folds one event into m.
func (m *Manifest) add(ev *Event) error {
	if ev.End == 0 {
		return nil // artificial
	}
	t := time.Unix(int64(ev.Time), 0).UTC()
	if m.FirstTime.IsZero() {
		m.FirstTime = t
	}
	m.LastTime = t
	m.Next, m.Stopped = "", false
	switch ev.Type {
	case typeFormat:
		m.ServerID = ev.ServerID
	case typeGTIDList:
		list, err := gtidListOf(ev)
		if err != nil {
			return err
		}
		m.StartState = m.StartState[:0]
		for _, g := range list {
			m.StartState = append(m.StartState, g.String())
		}
	case typeGTID:
		g, _, err := gtidOf(ev)
		if err != nil {
			return err
		}
		if m.FirstGTID == "" {
			m.FirstGTID = g.String()
		}
		m.LastGTID = g.String()
		m.Transactions++
	case typeRotate:
		next, err := rotateOf(ev)
		if err != nil {
			return err
		}
		m.Next = next
	case typeStop:
		m.Stopped = true
	case typeStartEncrypt:
		return fmt.Errorf("binlog: the server encrypts its binary log files (encrypt_binlog); the archive cannot read their events")
	}
	return nil
}

// NextName is the file the server starts after name: the same base with
// the number one higher, as in binlog.000041 -> binlog.000042.
func NextName(name string) (string, error) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || dot == len(name)-1 {
		return "", fmt.Errorf("binlog: %q is not a binary log file name (BASE.NUMBER)", name)
	}
	num := name[dot+1:]
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return "", fmt.Errorf("binlog: %q is not a binary log file name (BASE.NUMBER)", name)
	}
	s := strconv.FormatUint(n+1, 10)
	if len(s) < len(num) {
		s = strings.Repeat("0", len(num)-len(s)) + s
	}
	return name[:dot+1] + s, nil
}

// follows reports whether file b is the one the server starts after a,
// and says why not.
func follows(a *Manifest, b string) error {
	want := a.Next
	if want == "" {
		var err error
		if want, err = NextName(a.File); err != nil {
			return err
		}
	}
	if b != want {
		return fmt.Errorf("%s is followed by %s, not by %s", a.File, b, want)
	}
	return nil
}

// checkState reports whether b's starting GTID state holds a's last
// transaction: a GTID missing there means transactions between the two
// files are missing from the archive (or the server's GTID state was
// reset).
func checkState(a, b *Manifest) error {
	if a.LastGTID == "" {
		return nil
	}
	for _, g := range b.StartState {
		if g == a.LastGTID {
			return nil
		}
	}
	la, _ := ParseGTID(a.LastGTID)
	for _, g := range b.StartState {
		if gb, err := ParseGTID(g); err == nil && gb.Domain == la.Domain && gb.Server == la.Server {
			return fmt.Errorf("%s starts at GTID %s but %s ends at %s", b.File, g, a.File, a.LastGTID)
		}
	}
	return nil
}

// FileLess reports whether binary log file a comes before b: names of one
// base compare by their numbers.
func FileLess(a, b string) bool {
	da, db := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
	if da > 0 && db > 0 && a[:da] == b[:db] {
		na, ea := strconv.ParseUint(a[da+1:], 10, 64)
		nb, eb := strconv.ParseUint(b[db+1:], 10, 64)
		if ea == nil && eb == nil {
			return na < nb
		}
	}
	return a < b
}
