package cli

// What a restore to a moment and verify read from a backup place's binary
// log archive: the segments, the spooled or partially uploaded file being
// written, the range of moments, and the gaps.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/binlog"
)

// archiveOf returns the binary log archive kept in a backup place.
func (e *appEnv) archiveOf(c *cli.Context, p *place) *binlog.Archive {
	a := &binlog.Archive{Store: p.store}
	a.Unseal = func(r io.Reader) (io.Reader, error) { return decrypting(c, r, "a binary log segment") }
	return a
}

// archivedFiles is the archive's view for a restore: the segments, then
// the file still being written, from the local spool or else as the
// bucket's partial copy, in order.
type archivedFiles struct {
	segs  []binlog.Manifest
	spool binlog.Spool
	// spooled are the spool's files after the last segment, with where
	// each ends.
	spooled []*binlog.Assembled
	// partial is the partial copy's manifest, used when the spool has
	// nothing after the segments.
	partial *binlog.Manifest
}

func (e *appEnv) readArchive(c *cli.Context, p *place) (*archivedFiles, error) {
	a := e.archiveOf(c, p)
	af := &archivedFiles{spool: binlog.Spool{Dir: p.spool}}
	// The spool is read before the segments: a file the archiver moves
	// from one to the other in between is then in both (and taken from the
	// segments), never in neither.
	var spooled []*binlog.Assembled
	if p.spool != "" {
		files, err := af.spool.Files()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			asm, err := af.spool.Assemble(f)
			if err != nil {
				return nil, err
			}
			if asm.End > 0 {
				spooled = append(spooled, asm)
			}
		}
	}
	segs, err := a.Segments(c.Context)
	if err != nil {
		return nil, fmt.Errorf("%w: read the binary log archive in %s: %w", errInput, p.loc, err)
	}
	af.segs = segs
	for _, asm := range spooled {
		if len(segs) == 0 || binlog.FileLess(segs[len(segs)-1].File, asm.File) {
			af.spooled = append(af.spooled, asm)
		}
	}
	if len(af.spooled) == 0 {
		pm, err := a.Partial(c.Context)
		if err != nil {
			return nil, fmt.Errorf("%w: read the binary log archive in %s: %w", errInput, p.loc, err)
		}
		if pm != nil && (len(segs) == 0 || binlog.FileLess(segs[len(segs)-1].File, pm.File)) {
			af.partial = pm
		}
	}
	return af, nil
}

// names lists every file the archive holds, in order.
func (af *archivedFiles) names() []string {
	var out []string
	for _, s := range af.segs {
		out = append(out, s.File)
	}
	for _, s := range af.spooled {
		out = append(out, s.File)
	}
	if af.partial != nil {
		out = append(out, af.partial.File)
	}
	return out
}

// checkFrom reports a gap in the files from `from` on: every file must
// follow the one before it.
func (af *archivedFiles) checkFrom(from string) error {
	names := af.names()
	i := slices.Index(names, from)
	if i < 0 {
		return fmt.Errorf("%w: the archive does not hold %s, where the dump's position is (start the archiver before the next dump, from that dump)", binlog.ErrGap, from)
	}
	var segs []binlog.Manifest
	for _, s := range af.segs {
		if !binlog.FileLess(s.File, from) {
			segs = append(segs, s)
		}
	}
	if err := binlog.CheckChain(segs); err != nil {
		return err
	}
	for j := i + 1; j < len(names); j++ {
		want, err := binlog.NextName(names[j-1])
		if err != nil {
			return err
		}
		if j-1 < len(af.segs) && af.segs[j-1].Next != "" && !af.segs[j-1].Stopped {
			want = af.segs[j-1].Next
		}
		if names[j] != want {
			return fmt.Errorf("%w: %s is followed by %s, not by %s", binlog.ErrGap, names[j-1], names[j], want)
		}
	}
	return nil
}

// acceptedGap is the newest segment that records an accepted gap before
// it ("" for none): restores start after it.
func (af *archivedFiles) acceptedGap() string {
	for i := len(af.segs) - 1; i >= 0; i-- {
		if af.segs[i].GapBefore {
			return af.segs[i].File
		}
	}
	return ""
}

// lastTime is the time of the newest archived event.
func (af *archivedFiles) lastTime() (time.Time, error) {
	if af.partial != nil && !af.partial.LastTime.IsZero() {
		return af.partial.LastTime, nil
	}
	if n := len(af.spooled); n > 0 {
		m, err := summarizeSpooled(af.spooled[n-1])
		if err == nil && !m.LastTime.IsZero() {
			return m.LastTime, nil
		}
	}
	if n := len(af.segs); n > 0 {
		return af.segs[n-1].LastTime, nil
	}
	return time.Time{}, errors.New("the archive is empty")
}

func summarizeSpooled(a *binlog.Assembled) (binlog.Manifest, error) {
	pr, pw := io.Pipe()
	go func() { _, err := a.WriteTo(pw); pw.CloseWithError(err) }()
	defer pr.Close()
	return binlog.Summarize(pr, true)
}

// fetch writes the files from `from` on into tmp, one at a time as next is
// called, so a restore reads only as far as it needs.
type fetcher struct {
	af   *archivedFiles
	arch *binlog.Archive
	tmp  string
	i    int
}

func (f *fetcher) next(ctx context.Context) (binlog.LocalFile, bool, error) {
	segs := len(f.af.segs)
	n := segs + len(f.af.spooled)
	if f.af.partial != nil {
		n++
	}
	if f.i >= n {
		return binlog.LocalFile{}, false, nil
	}
	var lf binlog.LocalFile
	switch {
	case f.i < segs:
		m := f.af.segs[f.i]
		lf = binlog.LocalFile{Name: m.File, Path: filepath.Join(f.tmp, m.File)}
		if err := f.arch.Fetch(ctx, m, lf.Path); err != nil {
			return lf, false, err
		}
	case f.af.partial != nil && f.i == n-1:
		lf = binlog.LocalFile{Name: f.af.partial.File, Path: filepath.Join(f.tmp, f.af.partial.File)}
		m, err := f.arch.FetchPartial(ctx, lf.Name, lf.Path)
		if err != nil {
			return lf, false, err
		}
		f.af.partial = &m
	default:
		a := f.af.spooled[f.i-segs]
		lf = binlog.LocalFile{Name: a.File, Path: filepath.Join(f.tmp, a.File)}
		out, err := os.OpenFile(lf.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return lf, false, err
		}
		_, err = a.WriteTo(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return lf, false, fmt.Errorf("copy the spooled %s: %w", a.File, err)
		}
	}
	f.i++
	return lf, true, nil
}

// skipTo positions the fetcher at file name.
func (f *fetcher) skipTo(name string) {
	names := f.af.names()
	if i := slices.Index(names, name); i >= 0 {
		f.i = i
	}
}

// restorableRange says which moments a restore can reach from the dumps
// and the archive, for messages.
func restorableRange(dumps []dumpRef, af *archivedFiles, loc *time.Location) string {
	var first time.Time
	gap := af.acceptedGap()
	for _, d := range dumps {
		if d.header.BinlogFile != "" && slices.Contains(af.names(), d.header.BinlogFile) &&
			(gap == "" || !binlog.FileLess(d.header.BinlogFile, gap)) {
			first = d.header.Started
			break
		}
	}
	last, err := af.lastTime()
	if first.IsZero() || err != nil {
		return "no moment can be restored: no dump in the folder has its binary log position in the archive"
	}
	return fmt.Sprintf("a restore can reach %s to %s", moment(first, loc), moment(last, loc))
}

// sourceDatabase is the one database whose dumps the folder holds, or
// the one named.
func sourceDatabase(dumps []dumpRef, named string) (string, error) {
	var dbs []string
	for _, d := range dumps {
		if !slices.Contains(dbs, d.header.Database) {
			dbs = append(dbs, d.header.Database)
		}
	}
	switch {
	case named != "":
		if !slices.Contains(dbs, named) {
			return "", usagef("the folder holds no dump of database %s (it has: %s)", named, strings.Join(dbs, ", "))
		}
		return named, nil
	case len(dbs) == 1:
		return dbs[0], nil
	case len(dbs) == 0:
		return "", usagef("the folder holds no dump: a restore to a moment starts from one (lms-backup dump -o DIR/)")
	}
	return "", usagef("the folder holds dumps of several databases (%s): name one with --source-database", strings.Join(dbs, ", "))
}

// verifyPlace reports what a backup folder or bucket prefix can restore:
// its dumps, the archived binary log and its gaps, and the range of
// moments.
func (e *appEnv) verifyPlace(c *cli.Context, p *place) error {
	dumps, _, err := e.placeDumps(c, p)
	if err != nil {
		return err
	}
	af, err := e.readArchive(c, p)
	if err != nil {
		return err
	}
	dir := p.loc
	w := e.stdout
	fmt.Fprintf(w, "%s: %d dumps\n", dir, len(dumps))
	for _, d := range dumps {
		pos := "no binary log position"
		if d.header.BinlogFile != "" {
			pos = fmt.Sprintf("binary log %s:%d, GTID %s", d.header.BinlogFile, d.header.BinlogPos, d.header.GTID)
		}
		fmt.Fprintf(w, "  %s: database %s, taken %s, %s\n", oneLine(d.name), oneLine(d.header.Database),
			moment(d.header.Started, time.Local), pos)
	}
	arch := e.archiveOf(c, p)
	for _, m := range af.segs {
		if err := arch.Fetch(c.Context, m, os.DevNull); err != nil {
			return err
		}
	}
	if af.partial != nil {
		m, err := arch.FetchPartial(c.Context, af.partial.File, os.DevNull)
		if err != nil {
			return err
		}
		af.partial = &m
	}
	switch {
	case len(af.segs) == 0 && len(af.spooled) == 0 && af.partial == nil:
		fmt.Fprintf(w, "binary log archive: empty\n")
	default:
		names := af.names()
		fmt.Fprintf(w, "binary log archive: %d segments (checksums OK)", len(af.segs))
		if len(af.segs) > 0 {
			fmt.Fprintf(w, ", %s to %s, events from %s to %s", af.segs[0].File, af.segs[len(af.segs)-1].File,
				moment(af.segs[0].FirstTime, time.Local), moment(af.segs[len(af.segs)-1].LastTime, time.Local))
		}
		for _, s := range af.spooled {
			fmt.Fprintf(w, "; being written: %s up to position %d", s.File, s.End)
		}
		if pm := af.partial; pm != nil {
			fmt.Fprintf(w, "; being written: %s, uploaded up to position %d (events to %s)", pm.File, pm.End, moment(pm.LastTime, time.Local))
		}
		fmt.Fprintln(w)
		from := names[0]
		if gap := af.acceptedGap(); gap != "" {
			fmt.Fprintf(w, "accepted gap: %s does not follow the segment before it (the archiver was started with --start-file after a purge); no restore reaches across it\n", gap)
			from = gap
		}
		if err := af.checkFrom(from); err != nil {
			fmt.Fprintf(w, "gaps: %s\n", oneLine(err.Error()))
			return err
		}
		fmt.Fprintln(w, "gaps: none")
	}
	fmt.Fprintln(w, restorableRange(dumps, af, time.Local))
	return nil
}

// moment writes t for people: to the second, in loc, with its offset.
func moment(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateTime + " -07:00")
}
