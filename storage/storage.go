// Package storage puts a local folder and an S3-compatible bucket behind one
// small interface, in the spirit of litestream's ReplicaClient: create an
// object atomically, open it for streaming or for range reads, list by
// prefix, delete, take a lock, and clean up what a killed run left.
//
// Open turns a location string into a Store: a folder path, an
// "s3://BUCKET/PREFIX/" prefix, or "s3://BUCKET/KEY" for one object. The
// callers (dump, rotation, verify, restore) never need to know which one
// they talk to.
//
// Names passed to a Store are relative to its folder or prefix and never
// contain "/": a Store is one flat level, as a folder of dumps is today.
//
// Buckets are reached with the settings every S3 tool reads (see Config
// and ConfigFromEnv): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL for non-AWS services
// (addressed path-style), AWS_PROFILE with AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials, AWS_CA_BUNDLE. TLS is always verified. No error
// names a secret.
//
// Locks: a folder uses flock (released by the kernel when the holder
// dies); a bucket uses a lock object taken with conditional writes and an
// expiry (a dead holder's lock lasts until it expires); see S3Store.Lock.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors the command layer maps to exit codes. Every error a Store returns
// for these conditions wraps exactly one of them (test with errors.Is); the
// message around it is one line that says what to do.
var (
	// ErrNotFound: the object (or folder) does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAuth: the credentials are wrong, expired, or not allowed to do this.
	ErrAuth = errors.New("storage: access denied")
	// ErrNoBucket: the bucket does not exist.
	ErrNoBucket = errors.New("storage: no such bucket")
	// ErrUnreachable: the endpoint did not answer (refused, timed out, DNS, TLS).
	ErrUnreachable = errors.New("storage: endpoint unreachable")
	// ErrLocked: another run holds the lock.
	ErrLocked = errors.New("storage: locked by another run")
	// ErrTooLarge: the stream would outgrow the largest object the
	// configured part size allows (parts x part size); the upload was aborted.
	ErrTooLarge = errors.New("storage: object too large for the part size")
)

// Store is a folder or a bucket prefix holding objects. A Store is safe for
// concurrent use by several goroutines; the values it returns (Writer,
// Reader, Lock) are not, unless their doc says otherwise.
type Store interface {
	// Create starts writing the object name. Nothing appears under name
	// until Commit returns nil; an existing object of that name stays
	// readable, unchanged, until then and is replaced at Commit. Cancelling
	// ctx aborts the write as Abort does.
	Create(ctx context.Context, name string) (Writer, error)

	// Open returns the object's content as a stream. The caller closes it.
	// A missing object is ErrNotFound.
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// OpenReaderAt returns the object for range reads. The caller closes
	// it. ReadAt is safe for concurrent use (parallel restore), and ctx
	// bounds every read made through it.
	OpenReaderAt(ctx context.Context, name string) (ReaderAt, error)

	// Stat returns the object's size and modification time.
	Stat(ctx context.Context, name string) (ObjectInfo, error)

	// List returns the complete objects whose names start with prefix,
	// sorted by name. Incomplete writes, temporary files and lock files
	// are never listed.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)

	// Delete removes the object. A missing object is ErrNotFound.
	Delete(ctx context.Context, name string) error

	// Lock takes the lock called name without waiting; a lock already held
	// by another run is ErrLocked. owner is recorded in the lock (host,
	// pid, what runs) so that a stuck holder can be found. How a dead
	// holder's lock is released differs: see FolderStore.Lock and
	// S3Store.Lock.
	Lock(ctx context.Context, name, owner string) (Lock, error)

	// CleanIncomplete removes what killed writes of objects whose names
	// start with prefix (and, when match is not nil, for which match
	// returns true) left behind (temporary files, incomplete multipart
	// uploads) once they are older than olderThan, and returns a
	// description of each removed item. Call it while holding the lock.
	CleanIncomplete(ctx context.Context, prefix string, olderThan time.Duration, match func(name string) bool) ([]string, error)

	// String returns the location (never any credential).
	String() string
}

// Writer is an object being written. It is not safe for concurrent use.
// Exactly one of Commit or Abort ends it; Abort after Commit is a no-op, so
// it can be deferred unconditionally.
type Writer interface {
	io.Writer
	// Commit makes the object appear, complete, under its final name. On
	// error nothing new is under the final name and the partial data is
	// removed.
	Commit() error
	// Abort removes everything written so far.
	Abort() error
}

// ReaderAt is an object opened for range reads.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	// Size is the object's length in bytes.
	Size() int64
}

// Lock is a held lock. Unlock releases it; calling it twice is a no-op.
type Lock interface {
	Unlock(ctx context.Context) error
}

// ObjectInfo describes a complete object.
type ObjectInfo struct {
	Name    string // relative to the store
	Size    int64
	ModTime time.Time
}

// IsRemote reports whether location names a bucket (s3://...) rather than
// a local path.
func IsRemote(location string) bool { return strings.HasPrefix(location, "s3://") }

// Open opens the store a location names and returns it with the object name
// the location points at ("" when it names a folder or a prefix).
//
//   - "s3://BUCKET/PREFIX/" (trailing slash) or "s3://BUCKET": a prefix; name "".
//   - "s3://BUCKET/DIR/KEY": the store is the prefix "DIR/", name "KEY".
//   - a path ending in "/" or naming an existing folder: that folder; name "".
//   - any other path: the store is its folder, name its base name.
//
// cfg is used only for s3:// locations.
func Open(ctx context.Context, location string, cfg Config) (Store, string, error) {
	if rest, ok := strings.CutPrefix(location, "s3://"); ok {
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, "", fmt.Errorf("location %s: no bucket name (write s3://BUCKET/PREFIX/)", location)
		}
		prefix, name := key, ""
		if i := strings.LastIndexByte(key, '/'); i >= 0 {
			prefix, name = key[:i+1], key[i+1:]
		} else {
			prefix, name = "", key
		}
		s, err := NewS3(ctx, bucket, prefix, cfg)
		if err != nil {
			return nil, "", err
		}
		return s, name, nil
	}
	dir, name, err := splitPath(location)
	if err != nil {
		return nil, "", err
	}
	return NewFolder(dir), name, nil
}

// checkName rejects names a flat store cannot hold.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("storage: invalid object name %q (a plain file name is needed)", name)
	}
	return nil
}
