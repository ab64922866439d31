package binlog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The spool is the local folder mariadb-binlog --raw writes into. Each run
// of it gets a folder of its own (run-000001, run-000002, ...): a run that
// resumes inside a file writes that file again from the resume position,
// under the same name, so the pieces of one file are spread over runs. A
// file is whole again by taking the first piece and, from each later one,
// the events that follow what the earlier pieces hold.

const runPrefix = "run-"

// Spool is the folder of pieces.
type Spool struct{ Dir string }

// piece is one run's copy of (part of) a binary log file.
type piece struct {
	path        string
	first, end  int64 // server positions of its real events: [first, end)
	start       int64 // stream offset where the event at first begins
	closed      bool  // ends with a rotate or stop event
	whole       bool  // starts at the file's beginning (magic at offset 0 is position 0)
	eventsAfter int64 // stream offset just past its last complete event
}

// runs lists the run folders, oldest first.
func (s Spool) runs() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read spool %s: %w", s.Dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), runPrefix) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// NewRun creates the folder for the next run and returns its path.
func (s Spool) NewRun() (string, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", fmt.Errorf("create spool %s: %w", s.Dir, err)
	}
	runs, err := s.runs()
	if err != nil {
		return "", err
	}
	n := 1
	if len(runs) > 0 {
		fmt.Sscanf(strings.TrimPrefix(runs[len(runs)-1], runPrefix), "%d", &n)
		n++
	}
	dir := filepath.Join(s.Dir, fmt.Sprintf("%s%06d", runPrefix, n))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create spool run %s: %w", dir, err)
	}
	return dir, nil
}

// Files lists the binary log files the spool holds pieces of, in order.
func (s Spool) Files() ([]string, error) {
	runs, err := s.runs()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range runs {
		entries, err := os.ReadDir(filepath.Join(s.Dir, r))
		if err != nil {
			return nil, fmt.Errorf("read spool: %w", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e.Name())
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if FileLess(a, b) {
			return -1
		}
		if FileLess(b, a) {
			return 1
		}
		return 0
	})
	return out, nil
}

// pieces reads the pieces of file, oldest run first.
func (s Spool) pieces(file string) ([]piece, error) {
	runs, err := s.runs()
	if err != nil {
		return nil, err
	}
	var out []piece
	for _, r := range runs {
		p := filepath.Join(s.Dir, r, file)
		pc, err := readPiece(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pc)
	}
	return out, nil
}

// readPiece scans one piece.
func readPiece(path string) (piece, error) {
	f, err := os.Open(path)
	if err != nil {
		return piece{}, err
	}
	defer f.Close()
	pc := piece{path: path}
	sc, err := NewScanner(f)
	if errors.Is(err, errTruncated) {
		return pc, nil // not even the magic number yet
	}
	if err != nil {
		return pc, fmt.Errorf("spool %s: %w", path, err)
	}
	last := int64(4)
	var m Manifest
	for sc.Next() {
		ev := sc.Event()
		if ev.End != 0 && pc.end == 0 {
			pc.first = ev.Pos
			pc.start = last
			pc.whole = ev.Pos == 4 && last == 4
		}
		if err := m.add(ev); err != nil {
			return pc, fmt.Errorf("spool %s: %w", path, err)
		}
		last = sc.Offset()
		if ev.End != 0 {
			pc.end = ev.End
			pc.eventsAfter = last
		}
	}
	if err := sc.Err(); err != nil && !sc.Truncated() {
		return pc, fmt.Errorf("spool %s: %w", path, err)
	}
	pc.closed = m.Closed()
	return pc, nil
}

// Assembled is the whole of a spooled file as far as the pieces hold it.
type Assembled struct {
	File   string
	End    int64 // the position just past the last complete event
	Closed bool  // ends with a rotate or stop event
	parts  []part
}

type part struct {
	path       string
	off, count int64
}

// Assemble puts the pieces of file together. A later piece that starts
// past the end of what the earlier ones hold is a gap.
func (s Spool) Assemble(file string) (*Assembled, error) {
	pcs, err := s.pieces(file)
	if err != nil {
		return nil, err
	}
	a := &Assembled{File: file}
	for _, pc := range pcs {
		if pc.end == 0 {
			continue // nothing complete in it
		}
		if a.End == 0 {
			if !pc.whole {
				return nil, fmt.Errorf("%w: the spooled copy of %s starts at position %d, not at the beginning", ErrGap, file, pc.first)
			}
			a.parts = append(a.parts, part{pc.path, 0, pc.eventsAfter})
			a.End, a.Closed = pc.end, pc.closed
			continue
		}
		if pc.end <= a.End {
			continue // holds nothing new
		}
		if pc.first > a.End {
			return nil, fmt.Errorf("%w: %s: the spool holds positions up to %d, then from %d", ErrGap, file, a.End, pc.first)
		}
		// Events are contiguous in both: a.End is an event boundary of pc.
		off := pc.start + (a.End - pc.first)
		a.parts = append(a.parts, part{pc.path, off, pc.eventsAfter - off})
		a.End, a.Closed = pc.end, pc.closed
	}
	return a, nil
}

// WriteTo writes the assembled file to w.
func (a *Assembled) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, p := range a.parts {
		f, err := os.Open(p.path)
		if err != nil {
			return n, err
		}
		m, err := io.Copy(w, io.NewSectionReader(f, p.off, p.count))
		f.Close()
		n += m
		if err != nil {
			return n, err
		}
		if m != p.count {
			return n, fmt.Errorf("spool %s: %w", p.path, io.ErrUnexpectedEOF)
		}
	}
	return n, nil
}

// Remove deletes every piece of file, and the run folders left empty
// except the newest.
func (s Spool) Remove(file string) error {
	runs, err := s.runs()
	if err != nil {
		return err
	}
	for i, r := range runs {
		dir := filepath.Join(s.Dir, r)
		if err := os.Remove(filepath.Join(dir, file)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove spooled %s: %w", file, err)
		}
		if i < len(runs)-1 {
			os.Remove(dir) // only if empty
		}
	}
	return nil
}
