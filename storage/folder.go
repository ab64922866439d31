package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"lms-backup/atomicfile"
)

// lockSuffix ends the name of every lock file, so that List can leave them out.
const lockSuffix = ".lock"

// FolderStore is a local folder. Objects are files written with atomicfile
// (temporary file, fsync, rename, fsync of the folder).
type FolderStore struct {
	dir string
}

var _ Store = (*FolderStore)(nil)

// NewFolder returns the store for folder dir. The folder is not created;
// operations on a missing folder return ErrNotFound.
func NewFolder(dir string) *FolderStore { return &FolderStore{dir: dir} }

// splitPath tells a folder location from a file location.
func splitPath(location string) (dir, name string, err error) {
	if location == "" {
		return "", "", errors.New("location: empty path")
	}
	if strings.HasSuffix(location, "/") {
		return filepath.Clean(location), "", nil
	}
	if st, err := os.Stat(location); err == nil && st.IsDir() {
		return location, "", nil
	}
	dir, name = filepath.Split(location)
	if dir == "" {
		dir = "."
	}
	return filepath.Clean(dir), name, nil
}

func (s *FolderStore) String() string { return s.dir }

func (s *FolderStore) path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, name), nil
}

// folderErr wraps a file system error with the matching sentinel.
func folderErr(op, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w (check the path)", op, path, ErrNotFound)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s: %w: %v (check the folder's owner and mode)", op, path, ErrAuth, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// Create writes name through atomicfile with mode 0600. The temporary file
// is flocked while it is written, so CleanIncomplete never removes a live
// writer's file.
func (s *FolderStore) Create(ctx context.Context, name string) (Writer, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := atomicfile.Create(p, 0o600)
	if err != nil {
		return nil, folderErr("create", p, err)
	}
	w := &folderWriter{f: f, ctx: ctx}
	// The watcher may run at once (ctx already done): it waits on mu
	// until stop is set.
	w.mu.Lock()
	w.stop = context.AfterFunc(ctx, func() { w.Abort() })
	w.mu.Unlock()
	return w, nil
}

// folderWriter adds the ctx watcher to an atomicfile.File; mu serialises
// the watcher's Abort with Write and Commit.
type folderWriter struct {
	f    *atomicfile.File
	ctx  context.Context
	stop func() bool

	mu      sync.Mutex
	aborted bool
}

func (w *folderWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Write(p)
}

func (w *folderWriter) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop()
	if !w.aborted && w.ctx.Err() != nil {
		// Cancelled: abort here rather than race the ctx watcher.
		w.f.Abort()
		w.aborted = true
	}
	if w.aborted {
		if err := context.Cause(w.ctx); err != nil {
			return fmt.Errorf("commit %s: %w", w.f.Name(), err)
		}
		return fmt.Errorf("commit %s: aborted", w.f.Name())
	}
	return w.f.Commit()
}

func (w *folderWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop()
	err := w.f.Abort()
	w.aborted = true
	return err
}

func (s *FolderStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, folderErr("open", p, err)
	}
	return f, nil
}

func (s *FolderStore) OpenReaderAt(ctx context.Context, name string) (ReaderAt, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, folderErr("open", p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, folderErr("stat", p, err)
	}
	return &fileReaderAt{File: f, size: st.Size()}, nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (f *fileReaderAt) Size() int64 { return f.size }

func (s *FolderStore) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	p, err := s.path(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, folderErr("stat", p, err)
	}
	if !st.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w (not a regular file)", p, ErrNotFound)
	}
	return ObjectInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List returns the regular files whose names start with prefix, except
// temporary files of atomicfile and lock files.
func (s *FolderStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, folderErr("list", s.dir, err)
	}
	var out []ObjectInfo
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !e.Type().IsRegular() || atomicfile.IsTemp(n) || isLockName(n) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		} else if err != nil {
			return nil, folderErr("list", s.dir, err)
		}
		out = append(out, ObjectInfo{Name: n, Size: info.Size(), ModTime: info.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *FolderStore) Delete(ctx context.Context, name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return folderErr("delete", p, err)
	}
	return nil
}

// isLockName reports whether a base name is a lock this package takes.
func isLockName(n string) bool { return strings.HasPrefix(n, ".") && strings.HasSuffix(n, lockSuffix) }

// LockName returns the name of the lock file or object for a lock called
// name (hidden, ending in ".lock", never listed).
func LockName(name string) string { return "." + name + lockSuffix }

// Lock takes an exclusive flock on the file LockName(name) in the folder,
// as rotate.Acquire does, and writes owner into it. The kernel releases the
// lock when the process ends, however it ends, so a dead holder never
// leaves a stale lock. flock is not reliable on network file systems (NFS,
// SMB): use a bucket or a local folder.
func (s *FolderStore) Lock(ctx context.Context, name, owner string) (Lock, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := filepath.Join(s.dir, LockName(name))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, folderErr("open lock", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		held, _ := io.ReadAll(io.LimitReader(f, 512))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by %q (let that run finish, or find it with fuser %s)", ErrLocked, p, strings.TrimSpace(string(held)), p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// The owner is informative only; a failure to record it does not
	// weaken the lock.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(owner+"\n"), 0)
	}
	return &folderLock{f: f}, nil
}

type folderLock struct{ f *os.File }

func (l *folderLock) Unlock(ctx context.Context) error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// CleanIncomplete removes the temporary files of killed writes of objects
// whose names start with prefix, with atomicfile.Sweep: a file still locked
// by a live writer is kept whatever its age (flock tells the live from the
// dead here). olderThan picks the final names to sweep (those with a
// temporary file last written over olderThan ago); Sweep then removes every
// unlocked temporary file of those names written over 10 s ago.
func (s *FolderStore) CleanIncomplete(ctx context.Context, prefix string, olderThan time.Duration, match func(string) bool) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, folderErr("clean", s.dir, err)
	}
	finals := map[string]bool{}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), atomicfile.TempPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		i := strings.LastIndexByte(rest, '-')
		if i < 0 || !strings.HasPrefix(rest[:i], prefix) || (match != nil && !match(rest[:i])) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < olderThan {
			continue
		}
		finals[rest[:i]] = true
	}
	var removed []string
	for final := range finals {
		gone, err := atomicfile.Sweep(filepath.Join(s.dir, final))
		removed = append(removed, gone...)
		if err != nil {
			return removed, fmt.Errorf("clean %s: %w", s.dir, err)
		}
	}
	sort.Strings(removed)
	return removed, nil
}
