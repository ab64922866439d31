package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// S3Store is a prefix of a bucket on an S3-compatible service.
type S3Store struct {
	core   *minio.Core
	bucket string
	prefix string // "" or ending in "/"
	cfg    Config
}

var _ Store = (*S3Store)(nil)

// NewS3 returns the store for prefix ("" or ending in "/") of bucket. It
// lists one key to check the endpoint, the credentials and the bucket, so a
// wrong setting fails here with ErrUnreachable, ErrAuth or ErrNoBucket.
func NewS3(ctx context.Context, bucket, prefix string, cfg Config) (*S3Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("storage: prefix %q must end in /", prefix)
	}
	tr, err := cfg.transport()
	if err != nil {
		return nil, err
	}
	endpoint, secure, lookup := "s3.amazonaws.com", true, minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		u, _ := url.Parse(cfg.Endpoint) // Validate checked it
		endpoint, secure, lookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	retries := cfg.Retries
	if retries <= 0 {
		retries = 3
	}
	core, err := minio.NewCore(endpoint, &minio.Options{
		Creds:        cfg.creds(),
		Secure:       secure,
		Transport:    tr,
		Region:       cfg.region(),
		BucketLookup: lookup,
		MaxRetries:   retries,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: %s", redact(err.Error(), cfg.secrets()))
	}
	s := &S3Store{core: core, bucket: bucket, prefix: prefix, cfg: cfg}
	// A GET, not HEAD bucket: a HEAD error has no body, so wrong
	// credentials could not be told from a missing bucket.
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// probe lists at most one key to check the bucket and the credentials. A
// plain AccessDenied passes: the credentials are valid and the key may be
// allowed to get and put objects without being allowed to list (a restore
// of one object); the first real operation then says what is refused.
func (s *S3Store) probe(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		if oi.Err != nil {
			if minio.ToErrorResponse(oi.Err).Code == "AccessDenied" {
				return nil
			}
			return s.wrap("open", s.prefix, oi.Err)
		}
		break
	}
	return nil
}

func (s *S3Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3Store) key(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return s.prefix + name, nil
}

// wrap turns a client error into one line that wraps the matching sentinel
// and names no secret.
func (s *S3Store) wrap(op, key string, err error) error {
	loc := "s3://" + s.bucket + "/" + key
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", op, loc, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("%s %s: %w", op, loc, ErrNotFound)
	case "NoSuchBucket":
		return fmt.Errorf("%s %s: %w (create bucket %s, or check its name and AWS_ENDPOINT_URL)", op, loc, ErrNoBucket, s.bucket)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AccountProblem", "AllAccessDisabled",
		"InvalidSecurity", "MissingSecurityHeader", "XAdminUserNotFound": // the last: versitygw's unknown key
		return fmt.Errorf("%s %s: %w: %s (%s)", op, loc, ErrAuth, redact(resp.Code, s.cfg.secrets()), s.cfg.credentialsHint())
	}
	var uerr *url.Error
	var nerr net.Error
	var cerr *tls.CertificateVerificationError
	var uaerr x509.UnknownAuthorityError
	switch {
	case errors.As(err, &cerr), errors.As(err, &uaerr):
		return fmt.Errorf("%s %s: %w: TLS certificate not trusted (set AWS_CA_BUNDLE to the service's CA file)", op, loc, ErrUnreachable)
	case errors.As(err, &uerr), errors.As(err, &nerr):
		return fmt.Errorf("%s %s: %w: %s (check AWS_ENDPOINT_URL and the network)", op, loc, ErrUnreachable, redact(rootMessage(err), s.cfg.secrets()))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, loc, err)
	}
	if resp.StatusCode == 401 || resp.StatusCode == 403 {
		return fmt.Errorf("%s %s: %w: %s (check the credentials and the key's permissions)", op, loc, ErrAuth, redact(resp.Code, s.cfg.secrets()))
	}
	if resp.StatusCode == 404 && resp.Code == "" {
		return fmt.Errorf("%s %s: %w", op, loc, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %s", op, loc, redact(err.Error(), s.cfg.secrets()))
}

// rootMessage is the innermost error's text (a url.Error repeats the URL).
func rootMessage(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// redact removes every secret from a message, in case a server or the
// client library ever echoes one.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return msg
}

func (s *S3Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap("open", key, err)
	}
	return &s3Body{rc: rc, s: s, key: key}, nil
}

// s3Body maps read errors (a dropped connection) to the sentinels.
type s3Body struct {
	rc  io.ReadCloser
	s   *S3Store
	key string
}

func (b *s3Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.wrap("read", b.key, err)
	}
	return n, err
}

func (b *s3Body) Close() error { return b.rc.Close() }

func (s *S3Store) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	key, err := s.key(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.wrap("stat", key, err)
	}
	return ObjectInfo{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// OpenReaderAt stats the object once; each ReadAt is one ranged GET.
func (s *S3Store) OpenReaderAt(ctx context.Context, name string) (ReaderAt, error) {
	info, err := s.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	return &s3ReaderAt{s: s, ctx: ctx, key: s.prefix + name, size: info.Size}, nil
}

type s3ReaderAt struct {
	s    *S3Store
	ctx  context.Context
	key  string
	size int64
}

func (r *s3ReaderAt) Size() int64  { return r.size }
func (r *s3ReaderAt) Close() error { return nil }

// ReadAt reads len(p) bytes at off with one ranged GET; it is safe for
// concurrent use.
func (r *s3ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", r.key)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+want-1); err != nil {
		return 0, err
	}
	rc, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
	if err != nil {
		return 0, r.s.wrap("read", r.key, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		return n, r.s.wrap("read", r.key, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// List lists one level under the store's prefix (no "/" in names),
// leaving out lock objects.
func (s *S3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []ObjectInfo
	for oi := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix}) {
		if oi.Err != nil {
			return nil, s.wrap("list", s.prefix+prefix, oi.Err)
		}
		name := strings.TrimPrefix(oi.Key, s.prefix)
		if strings.Contains(name, "/") || isLockName(name) {
			continue
		}
		out = append(out, ObjectInfo{Name: name, Size: oi.Size, ModTime: oi.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete stats the object first, since S3 deletes a missing key without
// an error.
func (s *S3Store) Delete(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if _, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err != nil {
		return s.wrap("delete", key, err)
	}
	if err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// CleanIncomplete aborts the multipart uploads of keys under the store's
// prefix starting with prefix that were initiated more than olderThan ago.
// S3 cannot tell a live upload from a dead one, so hold the lock and pick
// olderThan longer than any run (an upload's parts are billed until then).
func (s *S3Store) CleanIncomplete(ctx context.Context, prefix string, olderThan time.Duration, match func(string) bool) ([]string, error) {
	var removed []string
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, s.prefix+prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return removed, s.wrap("list uploads", s.prefix+prefix, err)
		}
		for _, u := range res.Uploads {
			name := strings.TrimPrefix(u.Key, s.prefix)
			if strings.Contains(name, "/") || time.Since(u.Initiated) < olderThan || (match != nil && !match(name)) {
				continue
			}
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil {
				if errors.Is(s.wrap("", "", err), ErrNotFound) {
					continue // aborted or completed meanwhile
				}
				return removed, s.wrap("abort upload", u.Key, err)
			}
			removed = append(removed, fmt.Sprintf("%s (upload %s, started %s)", u.Key, u.UploadID, u.Initiated.UTC().Format(time.RFC3339)))
		}
		if !res.IsTruncated {
			return removed, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}
