// Package rotate manages a folder of nightly dumps: it names each new dump
// after its database and time, keeps two overlapping runs from writing the
// same database's dumps at once, sweeps the temporary files of runs that
// were killed, and deletes old dumps this tool made once a new one verified.
//
// Only names this package generates count as its dumps:
// "<db>-<YYYYMMDD>T<HHMMSS>Z<ext>", ext one of .sql.zst, .sql.gz, .sql,
// each optionally followed by .age (encrypted).
// Any other file in the folder is never touched.
package rotate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"lms-backup/atomicfile"
)

// ErrBusy means another run holds the folder's lock for the database.
var ErrBusy = errors.New("rotate: another run is writing this database's dumps")

const stamp = "20060102T150405Z"

// Name returns the file name of a dump of db taken at t, with extension ext
// (".sql.zst", ".sql.gz" or ".sql").
func Name(db string, t time.Time, ext string) string {
	return db + "-" + t.UTC().Format(stamp) + ext
}

// parse reports the time of a name Name made for db, and whether it is one.
func parse(db, name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, db+"-")
	if !ok || len(rest) < len(stamp) {
		return time.Time{}, false
	}
	switch strings.TrimSuffix(rest[len(stamp):], ".age") {
	case ".sql.zst", ".sql.gz", ".sql":
	default:
		return time.Time{}, false
	}
	t, err := time.Parse(stamp, rest[:len(stamp)])
	return t, err == nil
}

// Parse reports the database and time of a name Name made, for any
// database, and whether it is one.
func Parse(name string) (db string, t time.Time, ok bool) {
	base := strings.TrimSuffix(name, ".age")
	for _, ext := range []string{".sql.zst", ".sql.gz", ".sql"} {
		if rest, found := strings.CutSuffix(base, ext); found {
			if len(rest) < len(stamp)+2 || rest[len(rest)-len(stamp)-1] != '-' {
				return "", time.Time{}, false
			}
			db = rest[:len(rest)-len(stamp)-1]
			t, err := time.Parse(stamp, rest[len(rest)-len(stamp):])
			return db, t, err == nil
		}
	}
	return "", time.Time{}, false
}

// IsDump reports whether name is a dump of db as Name names it.
func IsDump(db, name string) bool {
	_, ok := parse(db, name)
	return ok
}

// Lock is a held lock on a folder for one database. Close releases it.
type Lock struct{ f *os.File }

// Acquire takes the lock file dir/.lms-backup-<db>.lock without waiting.
// The kernel releases it when the process ends, however it ends, so a
// killed run never leaves a stale lock.
func Acquire(dir, db string) (*Lock, error) {
	path := filepath.Join(dir, ".lms-backup-"+db+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (a dump of %s into %s is still running; let it finish, or find the stuck process with fuser %s)",
				ErrBusy, path, db, dir, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Close releases the lock.
func (l *Lock) Close() error { return l.f.Close() }

// Sweep removes the temporary files that killed dumps of db left in dir
// and returns their names. Call it while holding the lock: no live run of
// this database can be writing them then.
func Sweep(dir, db string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		base, ok := strings.CutPrefix(name, atomicfile.TempPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		// The temporary name is TempPrefix + final name + "-" + random.
		if i := strings.LastIndexByte(base, '-'); i < 0 {
			continue
		} else if _, ok := parse(db, base[:i]); !ok {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// Policy says which dumps to keep. Zero values keep everything.
type Policy struct {
	Keep     int       // keep the newest Keep dumps (0: no count limit)
	KeepDays int       // keep dumps younger than this many days (0: no age limit)
	Now      time.Time // the time ages are measured from
}

// Prune deletes the dumps of db in dir that the policy does not keep and
// returns their names. The newest dump is always kept. With both limits
// set, a dump is kept if either keeps it.
func Prune(dir, db string, p Policy) ([]string, error) {
	if p.Keep <= 0 && p.KeepDays <= 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	var removed []string
	for _, name := range Expired(db, names, p) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// Expired returns, among names (of a folder or a bucket prefix), the dumps
// of db that the policy does not keep, newest first. Names that are not
// db's dumps (see Name) are never returned; the newest dump never is.
func Expired(db string, names []string, p Policy) []string {
	if p.Keep <= 0 && p.KeepDays <= 0 {
		return nil
	}
	type dump struct {
		name string
		t    time.Time
	}
	var dumps []dump
	for _, n := range names {
		if t, ok := parse(db, n); ok {
			dumps = append(dumps, dump{n, t})
		}
	}
	sort.Slice(dumps, func(i, j int) bool { return dumps[i].t.After(dumps[j].t) })
	var out []string
	for i, d := range dumps {
		byCount := p.Keep > 0 && i < p.Keep
		byAge := p.KeepDays > 0 && p.Now.Sub(d.t) < time.Duration(p.KeepDays)*24*time.Hour
		if i == 0 || byCount || byAge {
			continue
		}
		out = append(out, d.name)
	}
	return out
}
