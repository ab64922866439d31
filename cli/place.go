package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/binlog"
	"lms-backup/dumpfile"
	"lms-backup/rotate"
	"lms-backup/storage"
)

// A backup place, a folder or a bucket prefix, holds the nightly dumps
// (rotate.Name) and, when the binlog command archives into it, the binary
// log segments (binlog.ObjectPrefix...). The file being written is in a
// local spool: by default DIR/.lms-binlog-spool for a folder; for a
// bucket, --spool-dir on the archiver's machine, and a partial copy in the
// bucket (binlog.PartialPrefix...) for everyone else.

// spoolName is the spool's folder inside a backup folder.
const spoolName = ".lms-binlog-spool"

// place is a backup folder or bucket prefix.
type place struct {
	store  storage.Store
	loc    string // as given: DIR or s3://BUCKET/PREFIX/
	remote bool
	spool  string // the local spool folder; "" when there is none
}

// openPlace opens a backup folder or bucket prefix; spoolDir overrides the
// folder's own spool and gives a bucket one. A bucket that cannot be
// opened is an output error (exit 5) when output is set, else errInput.
func (e *appEnv) openPlace(c *cli.Context, loc, spoolDir string, output bool) (*place, error) {
	if !storage.IsRemote(loc) {
		if !isDir(loc) {
			return nil, usagef("%s is not a folder: name the backup folder (or s3://BUCKET/PREFIX/)", loc)
		}
		if spoolDir == "" {
			spoolDir = filepath.Join(loc, spoolName)
		}
		return &place{store: storage.NewFolder(loc), loc: loc, spool: spoolDir}, nil
	}
	if !strings.HasSuffix(loc, "/") {
		return nil, usagef("%s: name the bucket prefix with a trailing slash (s3://BUCKET/PREFIX/)", loc)
	}
	cfg, err := e.storageConfig(c)
	if err != nil {
		return nil, err
	}
	store, _, err := storage.Open(c.Context, loc, cfg)
	if err != nil {
		if output {
			return nil, storeOutputError(err)
		}
		return nil, fmt.Errorf("%w: %w", errInput, err)
	}
	return &place{store: store, loc: loc, remote: true, spool: spoolDir}, nil
}

// path is how openDump names an object of the place.
func (p *place) path(name string) string {
	if p.remote {
		return p.loc + name
	}
	return filepath.Join(p.loc, name)
}

// dumpRef is a dump in a backup place and its header.
type dumpRef struct {
	name   string
	path   string
	header dumpfile.Header
}

// placeDumps reads the headers of the dumps in p, oldest first. A dump
// whose header cannot be read (encrypted without --identity, damaged) is
// skipped with a warning and counted.
func (e *appEnv) placeDumps(c *cli.Context, p *place) (out []dumpRef, skipped int, err error) {
	objs, err := p.store.List(c.Context, "")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: list %s: %w", errInput, p.loc, err)
	}
	for _, o := range objs {
		if _, _, ok := rotate.Parse(o.Name); !ok {
			continue
		}
		path := p.path(o.Name)
		rd, _, err := e.openDump(c, path)
		if err != nil {
			e.log.Warn("skipping a dump whose header cannot be read", "file", path, "err", err)
			skipped++
			continue
		}
		// The header is the first frame.
		if _, err := rd.Next(); err != nil || rd.Header() == nil {
			rd.Close()
			e.log.Warn("skipping a dump whose header cannot be read", "file", path, "err", err)
			skipped++
			continue
		}
		out = append(out, dumpRef{name: o.Name, path: path, header: *rd.Header()})
		rd.Close()
	}
	slices.SortFunc(out, func(a, b dumpRef) int { return a.header.Started.Compare(b.header.Started) })
	return out, skipped, nil
}

// pruneSegments removes the archived segments that no dump left in p
// needs: those before the oldest binary log file a dump records. A dump
// whose header cannot be read here (encrypted: the backup host has no
// key) is taken to need every segment with events from a day before the
// time in its name on (its snapshot is after that time, and no commit
// takes a day), so its segments are kept.
func (e *appEnv) pruneSegments(c *cli.Context, p *place) ([]string, error) {
	dumps, _, err := e.placeDumps(c, p)
	if err != nil {
		return nil, err
	}
	objs, err := p.store.List(c.Context, "")
	if err != nil {
		return nil, err
	}
	readable := map[string]bool{}
	for _, d := range dumps {
		readable[d.name] = true
	}
	a := e.archiveOf(c, p)
	segs, err := a.Segments(c.Context)
	if err != nil {
		return nil, err
	}
	keepFrom := len(segs) // the first segment some dump needs
	constrained := false  // some dump says where it starts
	for _, d := range dumps {
		if d.header.BinlogFile == "" {
			continue
		}
		constrained = true
		for i, m := range segs {
			if !binlog.FileLess(m.File, d.header.BinlogFile) {
				keepFrom = min(keepFrom, i)
				break
			}
		}
	}
	for _, o := range objs {
		_, named, ok := rotate.Parse(o.Name)
		if !ok || readable[o.Name] {
			continue
		}
		constrained = true
		for i, m := range segs {
			if !m.LastTime.Before(named.Add(-24 * time.Hour)) {
				keepFrom = min(keepFrom, i)
				break
			}
		}
	}
	if !constrained {
		return nil, nil // no dump records a position: nothing says what is unneeded
	}
	var removed []string
	for _, m := range segs[:keepFrom] {
		if err := a.Delete(c.Context, m); err != nil {
			return removed, err
		}
		removed = append(removed, m.Object)
	}
	return removed, nil
}
