package report

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// spoolChunk is how many bytes of encoded rows the reading side collects
// before it appends them to the file and lets the writing side see them,
// and how much the writing side reads back at once.
const spoolChunk = 256 << 10

// errSpoolCorrupt means the spool file did not decode: a bug, never data.
var errSpoolCorrupt = errors.New("report: spool file is corrupt")

// spool carries one part's rows from the connection that reads them to
// the goroutine that writes them, through an unlinked temp file: the
// server never waits for the writers, and the writers start on a part as
// soon as its first rows are in, while the server is still sending the
// rest. One goroutine appends (add, finish), one reads (next); they may
// run at the same time. Memory is two chunks, however big the part.
//
// A row is its columns in order, each as uvarint(len+1) and the bytes,
// 0 for NULL.
type spool struct {
	f    *os.File
	cols int

	// Appending side.
	wbuf []byte

	mu   sync.Mutex
	cond *sync.Cond
	size int64 // bytes in the file that the reading side may read
	done bool  // no more rows will come
	err  error // why the rows stopped, when done early

	// Reading side.
	rbuf []byte // bytes read and not yet decoded, from rpos on
	rpos int    // offset in rbuf of the next row
	off  int64  // file offset after rbuf
	vals []sql.RawBytes
	// waited is how long the reading side waited for rows.
	waited time.Duration
}

// newSpool creates the spool's file in dir and unlinks it at once, so
// that nothing is left behind whatever happens to the process.
func newSpool(dir string, cols int) (*spool, error) {
	f, err := os.CreateTemp(dir, "lms-report-")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	os.Remove(f.Name())
	s := &spool{f: f, cols: cols, vals: make([]sql.RawBytes, cols)}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// add appends one row; vals are copied.
func (s *spool) add(vals []sql.RawBytes) error {
	for _, v := range vals {
		if v == nil {
			s.wbuf = append(s.wbuf, 0)
			continue
		}
		s.wbuf = binary.AppendUvarint(s.wbuf, uint64(len(v))+1)
		s.wbuf = append(s.wbuf, v...)
	}
	if len(s.wbuf) >= spoolChunk {
		return s.flush()
	}
	return nil
}

// flush writes the collected rows to the file and shows them to the
// reading side.
func (s *spool) flush() error {
	if len(s.wbuf) == 0 {
		return nil
	}
	n, err := s.f.Write(s.wbuf)
	s.wbuf = s.wbuf[:0]
	if err != nil {
		return fmt.Errorf("write spool file: %w", err)
	}
	s.mu.Lock()
	s.size += int64(n)
	s.mu.Unlock()
	s.cond.Broadcast()
	return nil
}

// finish ends the rows: err nil means all of them are in. Only the first
// call counts; it may come from any goroutine (abort), so it flushes only
// when the appending side itself finishes without error.
func (s *spool) finish(err error) {
	if err == nil {
		err = s.flush()
	}
	s.mu.Lock()
	if !s.done {
		s.done, s.err = true, err
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// next returns the next row, waiting for it if the appending side has not
// got there yet; io.EOF after the last row, the appending side's error if
// it stopped early. The values are valid until the next call.
func (s *spool) next(ctx context.Context) ([]sql.RawBytes, error) {
	for {
		if ok, err := s.decode(); ok || err != nil {
			return s.vals, err
		}
		if err := s.fill(ctx); err != nil {
			return nil, err
		}
	}
}

// decode decodes the row at rpos into vals; false when rbuf does not hold
// all of it yet.
func (s *spool) decode() (bool, error) {
	p := s.rpos
	for i := range s.vals {
		n, w := binary.Uvarint(s.rbuf[p:])
		if w <= 0 {
			return false, nil
		}
		p += w
		if n == 0 {
			s.vals[i] = nil
			continue
		}
		end := p + int(n-1)
		if end > len(s.rbuf) {
			return false, nil
		}
		s.vals[i] = s.rbuf[p:end:end]
		p = end
	}
	s.rpos = p
	return true, nil
}

// fill reads what the appending side has shown since the last read, after
// the bytes not yet decoded; it waits until there is some.
func (s *spool) fill(ctx context.Context) error {
	s.mu.Lock()
	if s.off == s.size && !s.done {
		start := time.Now()
		for s.off == s.size && !s.done {
			s.cond.Wait()
		}
		s.waited += time.Since(start)
	}
	size, done, err := s.size, s.done, s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if s.off == size {
		if done && s.rpos < len(s.rbuf) {
			return errSpoolCorrupt
		}
		return io.EOF
	}
	rest := copy(s.rbuf, s.rbuf[s.rpos:])
	s.rbuf, s.rpos = s.rbuf[:rest], 0
	n := int(min(size-s.off, spoolChunk))
	s.rbuf = slices.Grow(s.rbuf, n)[:rest+n]
	if _, err := s.f.ReadAt(s.rbuf[rest:], s.off); err != nil {
		return fmt.Errorf("read spool file: %w", err)
	}
	s.off += int64(n)
	return nil
}

// close releases the file.
func (s *spool) close() error { return s.f.Close() }
