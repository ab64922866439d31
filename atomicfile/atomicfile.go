// Package atomicfile writes a file so that it appears under its final name
// complete or not at all.
//
// Create makes a hidden temporary file in the destination folder; Commit
// syncs, closes and renames it into place and syncs the folder; Abort removes
// it. Readers of the final name never see a partial file, and a failed run
// never replaces the previous one.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TempPrefix starts the name of every temporary file this package creates,
// so that a later run can recognise leftovers of a killed one.
const TempPrefix = ".lms-backup-tmp-"

// File is a file being written. It is not safe for concurrent use.
type File struct {
	f     *os.File
	final string
	done  bool
}

// Create starts writing path. The file gets exactly mode perm (set with
// Chmod, so the umask does not change it). The folder must exist. The
// temporary file stays under an exclusive flock until Commit or Abort (the
// kernel drops it when the process dies), which tells Sweep a live
// writer's file from a killed one's.
func Create(path string, perm os.FileMode) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, fmt.Errorf("create %s: the output path names a folder, not a file", path)
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return &File{f: f, final: path}, nil
}

// Name returns the final path.
func (a *File) Name() string { return a.final }

// TempName returns the temporary path the data goes to until Commit.
func (a *File) TempName() string { return a.f.Name() }

// Write writes to the temporary file.
func (a *File) Write(p []byte) (int, error) {
	if a.done {
		return 0, os.ErrClosed
	}
	return a.f.Write(p)
}

// Commit makes the file visible under its final name, replacing any file
// there. After an error the temporary file is removed and the final name is
// untouched.
func (a *File) Commit() error {
	if a.done {
		return os.ErrClosed
	}
	a.done = true
	tmp := a.f.Name()
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", a.final, err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", a.final, err)
	}
	if err := os.Rename(tmp, a.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename into %s: %w", a.final, err)
	}
	return syncDir(filepath.Dir(a.final))
}

// Abort removes the temporary file. It is a no-op after Commit or Abort, so
// it can be deferred unconditionally.
func (a *File) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	a.f.Close()
	if err := os.Remove(a.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// staleAge is how old a temporary file's last write must be before Sweep
// removes it. It covers the instants in which a live writer's file is not
// locked: between its creation and its flock, and between Close and Rename
// in Commit.
const staleAge = 10 * time.Second

// Sweep removes the temporary files that killed writers of path left: those
// for the same final name that no process holds locked and that were last
// written over 10 s ago. It returns the names it removed.
func Sweep(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // Create will say what is wrong
	} else if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), TempPrefix+base+"-")
		if !ok || strings.Contains(rest, "-") || !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if gone, err := removeIfStale(name); err != nil {
			return removed, err
		} else if gone {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// removeIfStale removes name unless a process holds its lock or it was
// written recently.
func removeIfStale(name string) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, nil // a live writer's
	}
	st, err := f.Stat()
	if err != nil || time.Since(st.ModTime()) < staleAge {
		return false, err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// IsTemp reports whether name (a base name) is a temporary file of this package.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// WriteAt writes to the temporary file at offset off (for formats that
// patch a header after the fact, such as ZIP64 local headers).
func (a *File) WriteAt(p []byte, off int64) (int, error) {
	if a.done {
		return 0, os.ErrClosed
	}
	return a.f.WriteAt(p, off)
}

// Seek sets the offset of the next Write to the temporary file.
func (a *File) Seek(offset int64, whence int) (int64, error) {
	if a.done {
		return 0, os.ErrClosed
	}
	return a.f.Seek(offset, whence)
}
