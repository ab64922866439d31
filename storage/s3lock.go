package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// lockBody is the content of a lock object.
type lockBody struct {
	Owner   string    `json:"owner"`
	Token   string    `json:"token"` // random, tells our lock from another's
	Expires time.Time `json:"expires"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
}

// deadHere reports whether the lock's holder ran on this host and its
// process is gone: then the lock is stale before it expires (a killed
// run on the same machine, the usual case for a nightly job), and the next
// run need not wait for the expiry.
func (b lockBody) deadHere() bool {
	host, err := os.Hostname()
	if err != nil || b.Host != host || b.PID <= 0 || b.PID == os.Getpid() {
		return false
	}
	return syscall.Kill(b.PID, 0) == syscall.ESRCH
}

// Lock takes the lock object LockName(name) under the store's prefix. It
// holds the owner, a random token and an expiry LockTTL ahead; the holder
// renews it every LockTTL/3 until Unlock.
//
// Taking it is a conditional write: PUT with "If-None-Match: *" when no
// lock exists, and PUT with "If-Match: <etag>" to replace an expired one,
// so of two runs racing, the server lets exactly one win. AWS S3 (since
// 2024), MinIO, Ceph RGW, Cloudflare R2 and versitygw honour these
// headers. On a service that ignores them the lock is best effort: the
// lock is read back after the write and the run whose token is not there
// backs off, which leaves only runs starting within the same instant
// unprotected.
//
// When a holder dies (killed, machine lost), its lock stays until its
// expiry (at most LockTTL after its last renewal); then the next run
// replaces it. Expiry is judged by the taker's clock: keep clocks in sync
// (NTP). A holder that cannot renew (network down) before its lock expires
// has lost it; Unlock then reports ErrLocked.
func (s *S3Store) Lock(ctx context.Context, name, owner string) (Lock, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	key := s.prefix + LockName(name)
	tok := make([]byte, 16)
	rand.Read(tok)
	host, _ := os.Hostname()
	l := &s3Lock{s: s, key: key, body: lockBody{Owner: owner, Token: hex.EncodeToString(tok), Host: host, PID: os.Getpid()}}

	etag, err := l.put(ctx, "")
	if isPrecondition(err) {
		held, heldTag, rerr := s.readLock(ctx, key)
		switch {
		case errors.Is(rerr, ErrNotFound):
			// Released meanwhile: one more try.
			etag, err = l.put(ctx, "")
		case rerr != nil:
			return nil, rerr
		case time.Now().Before(held.Expires) && !held.deadHere():
			return nil, s.lockedErr(key, held)
		default:
			// Expired, or its holder on this host is gone: replace
			// exactly that lock object.
			etag, err = l.put(ctx, heldTag)
		}
		if isPrecondition(err) {
			return nil, fmt.Errorf("%w: s3://%s/%s was taken by another run at the same moment (try again later)", ErrLocked, s.bucket, key)
		}
	}
	if err != nil {
		return nil, s.wrap("lock", key, err)
	}
	// Read back: catches a service that ignored the condition.
	got, _, err := s.readLock(ctx, key)
	if err != nil {
		return nil, err
	}
	if got.Token != l.body.Token {
		return nil, s.lockedErr(key, got)
	}
	l.etag = etag
	l.stopRenew = make(chan struct{})
	l.renewDone = make(chan struct{})
	go l.renew(context.WithoutCancel(ctx))
	return l, nil
}

func (s *S3Store) lockedErr(key string, held lockBody) error {
	return fmt.Errorf("%w: s3://%s/%s is held by %q until %s (let that run finish; a dead holder's lock expires then)",
		ErrLocked, s.bucket, key, held.Owner, held.Expires.UTC().Format(time.RFC3339))
}

func isPrecondition(err error) bool {
	if err == nil {
		return false
	}
	r := minio.ToErrorResponse(err)
	return r.Code == "PreconditionFailed" || r.StatusCode == 412 || r.Code == "ConditionalRequestConflict" || r.StatusCode == 409
}

// readLock returns the lock object's content and ETag.
func (s *S3Store) readLock(ctx context.Context, key string) (lockBody, string, error) {
	rc, oi, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return lockBody{}, "", s.wrap("read lock", key, err)
	}
	defer rc.Close()
	var b lockBody
	data, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return b, "", s.wrap("read lock", key, err)
	}
	if err := json.Unmarshal(data, &b); err != nil {
		// Not ours or damaged: treat as expired so it cannot block forever.
		return lockBody{Owner: "unreadable lock object"}, oi.ETag, nil
	}
	return b, oi.ETag, nil
}

type s3Lock struct {
	s         *S3Store
	key       string
	stopRenew chan struct{}
	renewDone chan struct{}

	mu   sync.Mutex
	body lockBody
	etag string
	lost error
	off  bool
}

// put writes the lock with a new expiry: If-None-Match: * when ifMatch is
// empty, else If-Match: ifMatch.
func (l *s3Lock) put(ctx context.Context, ifMatch string) (string, error) {
	l.body.Expires = time.Now().Add(l.s.cfg.lockTTL())
	data, _ := json.Marshal(l.body)
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if ifMatch == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(ifMatch)
	}
	info, err := l.s.core.PutObject(ctx, l.s.bucket, l.key, bytes.NewReader(data), int64(len(data)), "", "", opts)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// renew extends the expiry every LockTTL/3 until Unlock.
func (l *s3Lock) renew(ctx context.Context) {
	defer close(l.renewDone)
	t := time.NewTicker(l.s.cfg.lockTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stopRenew:
			return
		case <-t.C:
		}
		l.mu.Lock()
		rctx, cancel := context.WithTimeout(ctx, l.s.cfg.lockTTL()/3)
		etag, err := l.put(rctx, l.etag)
		cancel()
		switch {
		case err == nil:
			l.etag = etag
		case isPrecondition(err):
			l.lost = fmt.Errorf("%w: s3://%s/%s was taken over by another run while this one held it (it expired)", ErrLocked, l.s.bucket, l.key)
		case time.Now().After(l.body.Expires):
			l.lost = fmt.Errorf("renew lock: %w (the lock may have expired)", l.s.wrap("renew lock", l.key, err))
		}
		lost := l.lost != nil
		l.mu.Unlock()
		if lost {
			return
		}
	}
}

// Unlock stops renewing and deletes the lock object if it is still ours.
// It returns ErrLocked when the lock was lost while held.
func (l *s3Lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	if l.off {
		l.mu.Unlock()
		return nil
	}
	l.off = true
	l.mu.Unlock()
	close(l.stopRenew)
	<-l.renewDone
	if l.lost != nil {
		return l.lost
	}
	held, _, err := l.s.readLock(ctx, l.key)
	if err != nil {
		return err
	}
	if held.Token != l.body.Token {
		return fmt.Errorf("%w: s3://%s/%s was taken over by %q while this run held it", ErrLocked, l.s.bucket, l.key, held.Owner)
	}
	if err := l.s.core.RemoveObject(ctx, l.s.bucket, l.key, minio.RemoveObjectOptions{}); err != nil {
		return l.s.wrap("unlock", l.key, err)
	}
	return nil
}
