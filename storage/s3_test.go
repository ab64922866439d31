package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lms-backup/atomicfile"
	"lms-backup/internal/tests3"

	"github.com/minio/minio-go/v7"
)

func TestS3MultipartSmallParts(t *testing.T) {
	cfg := s3Config(t)
	cfg.PartSize = 5 << 20
	st, bucket := newS3(t, cfg)
	data := randomBytes(20<<20 + 12345)
	w, err := st.Create(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, as a compressor makes them.
	for p := data; len(p) > 0; {
		n := min(len(p), 777777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	sw := w.(*s3Writer)
	if len(sw.parts) != 4 {
		t.Fatalf("parts sent before Commit = %d, want 4", len(sw.parts))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, st, "big"), data) {
		t.Fatal("content differs")
	}
	oi, err := tests3.Get(t).Client(t).StatObject(context.Background(), bucket, "dumps/big", minio.StatObjectOptions{})
	if err != nil || oi.Size != int64(len(data)) {
		t.Fatalf("stat = %d, %v", oi.Size, err)
	}
}

func TestS3TooLarge(t *testing.T) {
	cfg := s3Config(t)
	cfg.PartSize, cfg.MaxParts, cfg.AllowSmallParts = 1024, 3, true
	st, _ := newS3(t, cfg)
	w, err := st.Create(context.Background(), "huge")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(3 * 1024)); err != nil {
		t.Fatalf("exactly parts x size: %v", err)
	}
	_, err = w.Write([]byte{1})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "part size") {
		t.Fatalf("Write past parts x size: %v", err)
	}
	if err := w.Commit(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Commit after refusal: %v", err)
	}
	if got := mustList(t, st, ""); got != "" {
		t.Fatalf("List = %q", got)
	}
	if u := incomplete(t, st); len(u) != 0 {
		t.Fatalf("uploads left: %v", u)
	}
}

func TestS3ExpiredLock(t *testing.T) {
	ctx := context.Background()
	st, bucket := newS3(t, s3Config(t))
	put := func(expires time.Time) {
		data, _ := json.Marshal(lockBody{Owner: "dead run", Token: "x", Expires: expires})
		_, err := tests3.Get(t).Client(t).PutObject(ctx, bucket, "dumps/"+LockName("db"), bytes.NewReader(data), int64(len(data)), "", "", minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(time.Now().Add(time.Hour))
	if _, err := st.Lock(ctx, "db", "new run"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "dead run") {
		t.Fatalf("Lock over a live lock: %v", err)
	}
	put(time.Now().Add(-time.Second))
	l, err := st.Lock(ctx, "db", "new run")
	if err != nil {
		t.Fatalf("Lock over an expired lock: %v", err)
	}
	if _, err := st.Lock(ctx, "db", "third run"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "new run") {
		t.Fatalf("Lock over the new lock: %v", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestS3ConditionalWrite checks that the test server honours the headers
// the lock relies on, so the lock tests prove the conditional path, not the
// best-effort read-back.
func TestS3ConditionalWrite(t *testing.T) {
	ctx := context.Background()
	st, bucket := newS3(t, s3Config(t))
	l, err := st.Lock(ctx, "db", "holder")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(ctx)
	opts := minio.PutObjectOptions{}
	opts.SetMatchETagExcept("*")
	_, err = tests3.Get(t).Client(t).PutObject(ctx, bucket, "dumps/"+LockName("db"), bytes.NewReader([]byte("x")), 1, "", "", opts)
	if !isPrecondition(err) {
		t.Fatalf("PUT If-None-Match: * over an existing lock: %v, want 412", err)
	}
	opts = minio.PutObjectOptions{}
	opts.SetMatchETag("0123456789abcdef0123456789abcdef")
	_, err = tests3.Get(t).Client(t).PutObject(ctx, bucket, "dumps/"+LockName("db"), bytes.NewReader([]byte("x")), 1, "", "", opts)
	if !isPrecondition(err) {
		t.Fatalf("PUT If-Match: <other etag>: %v, want 412", err)
	}
}

func TestS3LockRenewed(t *testing.T) {
	ctx := context.Background()
	cfg := s3Config(t)
	cfg.LockTTL = 600 * time.Millisecond
	st, _ := newS3(t, cfg)
	l, err := st.Lock(ctx, "db", "long run")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * cfg.LockTTL) // several renewals
	if _, err := st.Lock(ctx, "db", "other"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock over a renewed lock: %v", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestS3CleanIncomplete(t *testing.T) {
	ctx := context.Background()
	st, bucket := newS3(t, s3Config(t))
	c := tests3.Get(t).Client(t)
	// A killed run: an upload with a part, never completed nor aborted.
	id, err := c.NewMultipartUpload(ctx, bucket, "dumps/db-1.sql.zst", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectPart(ctx, bucket, "dumps/db-1.sql.zst", id, 1, bytes.NewReader([]byte("partial")), 7, minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another database's, and one outside the prefix: not ours to clean.
	c.NewMultipartUpload(ctx, bucket, "dumps/other-1.sql.zst", minio.PutObjectOptions{})
	c.NewMultipartUpload(ctx, bucket, "elsewhere/db-1.sql.zst", minio.PutObjectOptions{})

	removed, err := st.CleanIncomplete(ctx, "db-", time.Hour, nil)
	if err != nil || len(removed) != 0 {
		t.Fatalf("young uploads: removed %v, %v", removed, err)
	}
	time.Sleep(1100 * time.Millisecond)
	removed, err = st.CleanIncomplete(ctx, "db-", time.Second, nil)
	if err != nil || len(removed) != 1 || !strings.Contains(removed[0], "dumps/db-1.sql.zst") {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if u := incomplete(t, st); strings.Join(u, ",") != "dumps/other-1.sql.zst,elsewhere/db-1.sql.zst" {
		t.Fatalf("uploads left: %v", u)
	}
	if got := mustList(t, st, ""); got != "" {
		t.Fatalf("List = %q", got)
	}
}

func TestFolderCleanIncomplete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := NewFolder(dir)
	// A killed writer's file: unlocked and old.
	dead := filepath.Join(dir, atomicfile.TempPrefix+"db-1.sql.zst-123")
	os.WriteFile(dead, []byte("partial"), 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(dead, old, old)
	// A live writer's file.
	w, err := st.Create(ctx, "db-2.sql.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	live := w.(*folderWriter).f.TempName()
	os.Chtimes(live, old, old)

	removed, err := st.CleanIncomplete(ctx, "db-", time.Minute, nil)
	if err != nil || strings.Join(removed, ",") != filepath.Base(dead) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("live writer's file: %v", err)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	cfg := s3Config(t)
	bucket := tests3.Get(t).CreateBucket(t)
	const secret = "wrong-secret-3fK9pQ"
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"wrong secret", Config{AccessKeyID: tests3.AccessKey, SecretAccessKey: secret, Endpoint: cfg.Endpoint}},
		{"wrong session token", Config{AccessKeyID: tests3.AccessKey, SecretAccessKey: secret, SessionToken: "tok-" + secret, Endpoint: cfg.Endpoint}},
		{"unknown key", Config{AccessKeyID: "nobody", SecretAccessKey: secret, Endpoint: cfg.Endpoint}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewS3(context.Background(), bucket, "", c.cfg)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error has the secret or several lines: %q", err)
			}
			t.Log(err)
		})
	}
}

func TestS3CredentialsFile(t *testing.T) {
	cfg := s3Config(t)
	bucket := tests3.Get(t).CreateBucket(t)
	file := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(file, []byte("[default]\naws_access_key_id = nobody\naws_secret_access_key = nope\n\n[lms]\naws_access_key_id = "+
		tests3.AccessKey+"\naws_secret_access_key = "+tests3.SecretKey+"\n"), 0o600)
	st, err := NewS3(context.Background(), bucket, "", Config{Endpoint: cfg.Endpoint, CredentialsFile: file, Profile: "lms"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, st, "x", []byte("x"))
	if _, err := NewS3(context.Background(), bucket, "", Config{Endpoint: cfg.Endpoint, CredentialsFile: file}); !errors.Is(err, ErrAuth) {
		t.Fatalf("default profile: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sec-ret-value")
	t.Setenv("AWS_REGION", "eu-west-3")
	t.Setenv("AWS_ENDPOINT_URL", "https://s3.example.net")
	t.Setenv("AWS_PROFILE", "p")
	c := ConfigFromEnv()
	if c.AccessKeyID != "id" || c.SecretAccessKey != "sec-ret-value" || c.Region != "eu-west-3" || c.Endpoint != "https://s3.example.net" || c.Profile != "p" {
		t.Fatalf("%+v", c)
	}
	if s := c.String(); strings.Contains(s, "sec-ret") {
		t.Fatalf("String shows the secret: %s", s)
	}
}

func TestS3NoBucket(t *testing.T) {
	_, err := NewS3(context.Background(), "no-such-bucket-lms", "x/", s3Config(t))
	if !errors.Is(err, ErrNoBucket) {
		t.Fatalf("err = %v, want ErrNoBucket", err)
	}
	t.Log(err)
}

func TestS3Unreachable(t *testing.T) {
	// A port that accepts connections and never answers, and one that refuses them.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedAddr := refused.Addr().String()
	refused.Close()
	for name, addr := range map[string]string{"silent": l.Addr().String(), "refused": refusedAddr} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{AccessKeyID: "k", SecretAccessKey: "s3cr3t-value", Endpoint: "http://" + addr, Timeout: 500 * time.Millisecond, Retries: 2}
			start := time.Now()
			_, err := NewS3(context.Background(), "lms-bucket", "", cfg)
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("err = %v, want ErrUnreachable", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %s", d)
			}
			t.Log(err)
		})
	}
}

// TestS3TLS: TLS is verified; AWS_CA_BUNDLE adds a trusted CA.
func TestS3TLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>no</Message></Error>`)
	}))
	defer srv.Close()
	cfg := Config{AccessKeyID: "k", SecretAccessKey: "secret-value", Endpoint: srv.URL, Timeout: 2 * time.Second, Retries: 1}
	_, err := NewS3(context.Background(), "lms-bucket", "", cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	t.Log(err)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	cfg.CABundle = bundle
	if _, err := NewS3(context.Background(), "lms-bucket", "", cfg); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("with the CA bundle: %v, want the server's NoSuchBucket", err)
	}
	cfg.CABundle = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := NewS3(context.Background(), "lms-bucket", "", cfg); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Fatalf("missing CA bundle: %v", err)
	}
}

// TestS3ServerDiesMidUpload: a write after the server died fails with
// ErrUnreachable within a bounded time, and Commit fails.
func TestS3ServerDiesMidUpload(t *testing.T) {
	srv, err := tests3.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cfg := s3Config(t)
	cfg.Endpoint, cfg.PartSize, cfg.Timeout, cfg.Retries = srv.Endpoint, 5<<20, 2*time.Second, 2
	st, err := NewS3(context.Background(), srv.CreateBucket(t), "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.Create(context.Background(), "db-1.sql.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(randomBytes(5 << 20)); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	start := time.Now()
	_, err = w.Write(randomBytes(5 << 20))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Write after the server died: %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %s", d)
	}
	if err := w.Commit(); err == nil {
		t.Fatal("Commit succeeded")
	}
	t.Log(err)
}

// TestS3UploadHeap streams 100 MiB through the writer with the default part
// size and samples the live heap: it must stay inside the dump's 32 MiB budget.
func TestS3UploadHeap(t *testing.T) {
	st, _ := newS3(t, s3Config(t))
	runtime.GC()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	base := samples[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	w, err := st.Create(context.Background(), "heap")
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(64 << 10)
	const total = 100 << 20
	for n := 0; n < total; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	info, err := st.Stat(context.Background(), "heap")
	if err != nil || info.Size != total {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	t.Logf("heap: base %.1f MiB, peak %.1f MiB during a 100 MiB upload (part size %d MiB)",
		float64(base)/(1<<20), float64(peak.Load())/(1<<20), DefaultPartSize>>20)
	if peak.Load() > 32<<20 {
		t.Fatalf("peak heap %d bytes > 32 MiB", peak.Load())
	}
}
