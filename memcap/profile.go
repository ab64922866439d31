package memcap

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// profileTime is the UTC timestamp in profile file names: sortable, no
// colons, milliseconds so that two profiles in one second differ.
const profileTime = "20060102T150405.000Z"

// tempPrefix starts the name of a profile being written.
const tempPrefix = ".memcap-tmp-"

// WriteProfile runs runtime.GC, then writes the heap profile (live objects
// as of that collection, gzipped protobuf as pprof.Lookup("heap").WriteTo
// with debug 0 gives) to
// ProfileDir/<prefix>-heap-<UTC time>-<reason>.pprof, mode 0600, and
// returns its path. The file appears complete or not at all (temporary
// file, sync, rename, folder sync). reason is reduced to letters, digits,
// '-' and '_' ("manual" if empty); a name already taken gets a -2, -3...
// suffix. It is safe for concurrent use and blocks for a full collection;
// no lock is held during it. It also records the peak RSS.
func (g *Guard) WriteProfile(reason string) (path string, err error) {
	runtime.GC()
	g.profMu.Lock()
	defer g.profMu.Unlock()
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return "", fmt.Errorf("write heap profile: %w", err)
	}
	base := g.prefix + "-heap-" + time.Now().UTC().Format(profileTime) + "-" + cleanReason(reason)
	path = filepath.Join(g.dir, base+".pprof")
	for i := 2; exists(path); i++ {
		path = filepath.Join(g.dir, fmt.Sprintf("%s-%d.pprof", base, i))
	}
	err = writeFileAtomic(path, 0o600, func(w io.Writer) error {
		return pprof.Lookup("heap").WriteTo(w, 0)
	})
	if err != nil {
		return "", fmt.Errorf("write heap profile %s: %w", path, err)
	}
	g.profiles = append(g.profiles, path)
	g.noteRSSLocked()
	return path, nil
}

// noteRSSLocked folds VmHWM into the peak RSS. The caller holds profMu.
// Outside Linux (no /proc) the peak stays 0.
func (g *Guard) noteRSSLocked() {
	if n, err := peakRSS(filepath.Join(g.root, "proc/self/status")); err == nil {
		g.peakRSS = max(g.peakRSS, n)
	}
}

// cleanReason makes reason safe in a file name.
func cleanReason(reason string) string {
	const maxLen = 40
	var b strings.Builder
	for _, r := range reason {
		if b.Len() >= maxLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "manual"
	}
	return b.String()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeFileAtomic writes path through write: a temporary file in the same
// folder, chmod perm, Sync, Close, Rename, then a sync of the folder. On
// any error the temporary file is removed and path is untouched.
func writeFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	if err = d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync folder: %w", err)
	}
	return d.Close()
}
