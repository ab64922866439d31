package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// Create starts a multipart upload of name. The writer holds one buffer of
// PartSize bytes: each full buffer is sent as a part before Write returns,
// so memory stays at one part however long the stream. Commit sends the
// last part, completes the upload and checks the object's size against the
// bytes sent. Abort, a failed Write or Commit, and cancelling ctx abort the
// upload, so nothing appears under name and no parts are left billed.
func (s *S3Store) Create(ctx context.Context, name string) (Writer, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, s.wrap("create", key, err)
	}
	w := &s3Writer{
		s: s, ctx: ctx, key: key, id: id,
		buf:   allocPart(int(s.cfg.partSize())),
		limit: s.cfg.partSize() * int64(s.cfg.maxParts()),
	}
	// The watcher may run at once (ctx already done): it waits on mu
	// until stop is set.
	w.mu.Lock()
	w.stop = context.AfterFunc(ctx, func() { w.Abort() })
	w.mu.Unlock()
	return w, nil
}

type s3Writer struct {
	s     *S3Store
	ctx   context.Context
	key   string
	id    string
	buf   []byte
	limit int64 // parts x part size: the most this upload can hold
	stop  func() bool

	mu    sync.Mutex // serialises the ctx watcher's Abort with Write/Commit
	parts []minio.CompletePart
	sent  int64 // bytes acknowledged in parts
	err   error // sticky
	done  bool
}

// Write buffers p and sends every full part.
func (w *s3Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, fmt.Errorf("write %s: writer closed", w.key)
	}
	if w.sent+int64(len(w.buf))+int64(len(p)) > w.limit {
		w.fail(fmt.Errorf("write s3://%s/%s: %w: it would exceed %d parts x %d bytes (raise the part size); upload aborted",
			w.s.bucket, w.key, ErrTooLarge, w.s.cfg.maxParts(), w.s.cfg.partSize()))
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				w.fail(err)
				return n, w.err
			}
		}
	}
	return n, nil
}

// flush sends the buffer as the next part. Called with mu held.
func (w *s3Writer) flush() error {
	num := len(w.parts) + 1
	part, err := w.s.core.PutObjectPart(w.ctx, w.s.bucket, w.key, w.id, num,
		bytes.NewReader(w.buf), int64(len(w.buf)), minio.PutObjectPartOptions{})
	if err != nil {
		return w.s.wrap(fmt.Sprintf("upload part %d of", num), w.key, err)
	}
	if part.Size != int64(len(w.buf)) {
		return fmt.Errorf("upload part %d of s3://%s/%s: the server stored %d of %d bytes", num, w.s.bucket, w.key, part.Size, len(w.buf))
	}
	w.parts = append(w.parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
	w.sent += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// fail records err and aborts the upload. Called with mu held.
func (w *s3Writer) fail(err error) {
	w.err = err
	if aerr := w.abortLocked(); aerr != nil {
		w.err = fmt.Errorf("%w (and aborting the upload failed: %v; the next run's CleanIncomplete removes it)", err, aerr)
	}
}

// Commit sends the last part, completes the upload and checks the size.
func (w *s3Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop()
	if w.err == nil && !w.done && w.ctx.Err() != nil {
		// Cancelled: abort here rather than race the ctx watcher.
		w.fail(fmt.Errorf("commit s3://%s/%s: %w", w.s.bucket, w.key, context.Cause(w.ctx)))
	}
	if w.err != nil {
		return w.err
	}
	if w.done {
		return fmt.Errorf("commit %s: writer closed", w.key)
	}
	if len(w.buf) > 0 || len(w.parts) == 0 {
		if err := w.flush(); err != nil {
			w.fail(err)
			return w.err
		}
	}
	if _, err := w.s.core.CompleteMultipartUpload(w.ctx, w.s.bucket, w.key, w.id, w.parts, minio.PutObjectOptions{}); err != nil {
		w.fail(w.s.wrap("complete", w.key, err))
		return w.err
	}
	w.done = true
	w.releaseBuf()
	oi, err := w.s.core.StatObject(w.ctx, w.s.bucket, w.key, minio.StatObjectOptions{})
	if err != nil {
		return w.s.wrap("check size of", w.key, err)
	}
	if oi.Size != w.sent {
		// Never leave a short object under a final name.
		rmErr := w.s.core.RemoveObject(context.WithoutCancel(w.ctx), w.s.bucket, w.key, minio.RemoveObjectOptions{})
		return fmt.Errorf("commit s3://%s/%s: the object has %d bytes but %d were sent (removed: %v)", w.s.bucket, w.key, oi.Size, w.sent, rmErr == nil)
	}
	return nil
}

// Abort aborts the upload. It is a no-op after Commit or a failure.
func (w *s3Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop()
	if w.err == nil && !w.done {
		w.err = fmt.Errorf("write s3://%s/%s: aborted", w.s.bucket, w.key)
	}
	return w.abortLocked()
}

// abortLocked aborts the multipart upload once, with a context that
// survives the cancellation that may have caused it.
func (w *s3Writer) abortLocked() error {
	if w.done {
		return nil
	}
	w.done = true
	w.releaseBuf()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 2*w.s.cfg.timeout())
	defer cancel()
	err := w.s.core.AbortMultipartUpload(ctx, w.s.bucket, w.key, w.id)
	if err != nil && !errors.Is(w.s.wrap("", "", err), ErrNotFound) {
		return w.s.wrap("abort upload of", w.key, err)
	}
	return nil
}

// allocPart returns an empty buffer of capacity n for one part, mapped
// outside the Go heap: it lives as long as the upload, is never scanned,
// and does not raise the GC's heap goal (with GOGC=100 a long-lived 8 MiB
// buffer let the rest of a dump's heap grow 8 MiB more before a
// collection). It still counts in the process's RSS. Should the mapping
// fail, an ordinary slice is used.
func allocPart(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, 0, n)
	}
	return b[:0]
}

// releaseBuf gives the part buffer back. Called with mu held, after the
// last part was sent or the upload aborted: nothing reads it any more.
func (w *s3Writer) releaseBuf() {
	if b := w.buf[:cap(w.buf)]; len(b) > 0 {
		_ = syscall.Munmap(b) // EINVAL for allocPart's fallback slice, which the GC has
	}
	w.buf = nil
}
