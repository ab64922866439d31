package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lms-backup/atomicfile"
	"lms-backup/internal/tests3"
)

func TestMain(m *testing.M) { tests3.Main(m) }

// s3Config is the configuration for the test server.
func s3Config(t testing.TB) Config {
	t.Helper()
	srv := tests3.Get(t)
	return Config{
		AccessKeyID:     tests3.AccessKey,
		SecretAccessKey: tests3.SecretKey,
		Endpoint:        srv.Endpoint,
		Timeout:         10 * time.Second,
	}
}

// newS3 opens a fresh bucket's prefix "dumps/" with cfg.
func newS3(t testing.TB, cfg Config) (*S3Store, string) {
	t.Helper()
	bucket := tests3.Get(t).CreateBucket(t)
	s, err := NewS3(context.Background(), bucket, "dumps/", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, bucket
}

// stores returns one fresh store of each kind.
func stores(t *testing.T) map[string]Store {
	t.Helper()
	s3, _ := newS3(t, s3Config(t))
	return map[string]Store{"folder": NewFolder(t.TempDir()), "s3": s3}
}

// incomplete lists the multipart uploads left in an S3 store (none for a folder).
func incomplete(t *testing.T, st Store) []string {
	t.Helper()
	s, ok := st.(*S3Store)
	if !ok {
		return nil
	}
	res, err := s.core.ListMultipartUploads(context.Background(), s.bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range res.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func names(infos []ObjectInfo) string {
	var s []string
	for _, i := range infos {
		s = append(s, i.Name)
	}
	return strings.Join(s, ",")
}

func mustList(t *testing.T, st Store, prefix string) string {
	t.Helper()
	l, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return names(l)
}

func write(t *testing.T, st Store, name string, data []byte) {
	t.Helper()
	w, err := st.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, st Store, name string) []byte {
	t.Helper()
	rc, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestContract runs the same checks against the folder and the bucket.
func TestContract(t *testing.T) {
	ctx := context.Background()
	for kind, st := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Run("atomic create", func(t *testing.T) {
				data := randomBytes(300 << 10)
				w, err := st.Create(ctx, "a-1.sql.zst")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(data); err != nil {
					t.Fatal(err)
				}
				if got := mustList(t, st, "a-"); got != "" {
					t.Fatalf("before Commit, List = %q", got)
				}
				if _, err := st.Stat(ctx, "a-1.sql.zst"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("before Commit, Stat err = %v, want ErrNotFound", err)
				}
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				if err := w.Abort(); err != nil {
					t.Fatalf("Abort after Commit: %v", err)
				}
				if !bytes.Equal(read(t, st, "a-1.sql.zst"), data) {
					t.Fatal("content differs")
				}
				info, err := st.Stat(ctx, "a-1.sql.zst")
				if err != nil || info.Size != int64(len(data)) || info.ModTime.IsZero() {
					t.Fatalf("Stat = %+v, %v", info, err)
				}
				if u := incomplete(t, st); len(u) != 0 {
					t.Fatalf("uploads left: %v", u)
				}
			})
			t.Run("replace keeps the old object until Commit", func(t *testing.T) {
				write(t, st, "r.sql", []byte("old"))
				w, err := st.Create(ctx, "r.sql")
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte("new content"))
				if got := read(t, st, "r.sql"); string(got) != "old" {
					t.Fatalf("before Commit read %q", got)
				}
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				if got := read(t, st, "r.sql"); string(got) != "new content" {
					t.Fatalf("after Commit read %q", got)
				}
			})
			t.Run("empty object", func(t *testing.T) {
				write(t, st, "empty", nil)
				if got := read(t, st, "empty"); len(got) != 0 {
					t.Fatalf("read %d bytes", len(got))
				}
			})
			t.Run("abort leaves nothing", func(t *testing.T) {
				w, err := st.Create(ctx, "b-1.sql")
				if err != nil {
					t.Fatal(err)
				}
				w.Write(randomBytes(100 << 10))
				if err := w.Abort(); err != nil {
					t.Fatal(err)
				}
				if err := w.Commit(); err == nil {
					t.Fatal("Commit after Abort succeeded")
				}
				if got := mustList(t, st, "b-"); got != "" {
					t.Fatalf("List = %q", got)
				}
				if u := incomplete(t, st); len(u) != 0 {
					t.Fatalf("uploads left: %v", u)
				}
				if kind == "folder" {
					entries, _ := os.ReadDir(st.String())
					for _, e := range entries {
						if atomicfile.IsTemp(e.Name()) {
							t.Fatalf("temporary file left: %s", e.Name())
						}
					}
				}
			})
			t.Run("ctx cancel aborts", func(t *testing.T) {
				cctx, cancel := context.WithCancel(ctx)
				w, err := st.Create(cctx, "c-1.sql")
				if err != nil {
					t.Fatal(err)
				}
				w.Write(randomBytes(100 << 10))
				cancel()
				// The abort runs in the AfterFunc; Commit must fail either way.
				if err := w.Commit(); err == nil {
					t.Fatal("Commit after cancel succeeded")
				}
				w.Abort()
				if got := mustList(t, st, "c-"); got != "" {
					t.Fatalf("List = %q", got)
				}
				if u := incomplete(t, st); len(u) != 0 {
					t.Fatalf("uploads left: %v", u)
				}
			})
			t.Run("range reads", func(t *testing.T) {
				data := randomBytes(1 << 20)
				write(t, st, "range", data)
				r, err := st.OpenReaderAt(ctx, "range")
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if r.Size() != int64(len(data)) {
					t.Fatalf("Size = %d", r.Size())
				}
				for _, c := range []struct{ off, n int }{{0, 10}, {12345, 70000}, {len(data) - 5, 5}} {
					p := make([]byte, c.n)
					if n, err := r.ReadAt(p, int64(c.off)); err != nil || n != c.n || !bytes.Equal(p, data[c.off:c.off+c.n]) {
						t.Fatalf("ReadAt(%d, %d) = %d, %v", c.off, c.n, n, err)
					}
				}
				p := make([]byte, 10)
				if n, err := r.ReadAt(p, int64(len(data)-4)); n != 4 || err != io.EOF || !bytes.Equal(p[:4], data[len(data)-4:]) {
					t.Fatalf("ReadAt past the end = %d, %v", n, err)
				}
			})
			t.Run("list and delete by prefix", func(t *testing.T) {
				for _, n := range []string{"db2-3", "db1-2", "db1-1", "other"} {
					write(t, st, n, []byte(n))
				}
				if got := mustList(t, st, "db1-"); got != "db1-1,db1-2" {
					t.Fatalf("List(db1-) = %q", got)
				}
				l, _ := st.List(ctx, "db")
				if names(l) != "db1-1,db1-2,db2-3" || l[2].Size != 5 {
					t.Fatalf("List(db) = %+v", l)
				}
				if err := st.Delete(ctx, "db1-1"); err != nil {
					t.Fatal(err)
				}
				if got := mustList(t, st, "db1-"); got != "db1-2" {
					t.Fatalf("after Delete, List = %q", got)
				}
				if err := st.Delete(ctx, "db1-1"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Delete missing: %v", err)
				}
				if _, err := st.Open(ctx, "nothing"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Open missing: %v", err)
				}
				if _, err := st.Create(ctx, "../x"); err == nil {
					t.Fatal("Create(../x) succeeded")
				}
			})
			t.Run("lock", func(t *testing.T) {
				l, err := st.Lock(ctx, "db1", "run one")
				if err != nil {
					t.Fatal(err)
				}
				_, err = st.Lock(ctx, "db1", "run two")
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "run one") {
					t.Fatalf("second Lock: %v", err)
				}
				other, err := st.Lock(ctx, "db2", "run three")
				if err != nil {
					t.Fatalf("another name's lock: %v", err)
				}
				other.Unlock(ctx)
				if got := mustList(t, st, ""); strings.Contains(got, "lock") {
					t.Fatalf("List shows a lock: %q", got)
				}
				if err := l.Unlock(ctx); err != nil {
					t.Fatal(err)
				}
				if err := l.Unlock(ctx); err != nil {
					t.Fatalf("second Unlock: %v", err)
				}
				l2, err := st.Lock(ctx, "db1", "run two")
				if err != nil {
					t.Fatalf("Lock after Unlock: %v", err)
				}
				l2.Unlock(ctx)
			})
			t.Run("racing takers: exactly one wins", func(t *testing.T) {
				const n = 8
				results := make(chan error, n) // buffered: every taker reports once
				locks := make(chan Lock, n)
				for i := range n {
					go func() {
						l, err := st.Lock(ctx, "race", fmt.Sprintf("taker %d", i))
						if err == nil {
							locks <- l
						}
						results <- err
					}()
				}
				won := 0
				for range n {
					if err := <-results; err == nil {
						won++
					} else if !errors.Is(err, ErrLocked) {
						t.Errorf("taker: %v", err)
					}
				}
				if won != 1 {
					t.Fatalf("%d takers won", won)
				}
				(<-locks).Unlock(ctx)
			})
		})
	}
}

func TestOpenLocation(t *testing.T) {
	ctx := context.Background()
	cfg := s3Config(t)
	bucket := tests3.Get(t).CreateBucket(t)
	dir := t.TempDir()
	for _, c := range []struct{ loc, store, name string }{
		{"s3://" + bucket + "/lms/", "s3://" + bucket + "/lms/", ""},
		{"s3://" + bucket, "s3://" + bucket + "/", ""},
		{"s3://" + bucket + "/lms/db-1.sql.zst", "s3://" + bucket + "/lms/", "db-1.sql.zst"},
		{"s3://" + bucket + "/a/b/key", "s3://" + bucket + "/a/b/", "key"},
		{dir, dir, ""},
		{dir + "/sub/", filepath.Join(dir, "sub"), ""},
		{filepath.Join(dir, "x.sql"), dir, "x.sql"},
	} {
		st, name, err := Open(ctx, c.loc, cfg)
		if err != nil {
			t.Fatalf("Open(%s): %v", c.loc, err)
		}
		if st.String() != c.store || name != c.name {
			t.Errorf("Open(%s) = %s, %q; want %s, %q", c.loc, st, name, c.store, c.name)
		}
	}
	if _, _, err := Open(ctx, "s3:///x", cfg); err == nil {
		t.Error("Open without a bucket succeeded")
	}
}

// TestCreateCancelled: a write started with a context that is already done
// is aborted by its watcher at once; that must not race the writer's own
// set-up, and Commit must fail.
func TestCreateCancelled(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for i := range 200 {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				w, err := st.Create(ctx, fmt.Sprintf("cancelled-%d", i))
				if err != nil {
					continue // refused up front: fine too
				}
				w.Write([]byte("x"))
				if err := w.Commit(); err == nil {
					t.Fatal("Commit with a cancelled context succeeded")
				}
				w.Abort()
			}
			if objs, err := st.List(context.Background(), "cancelled-"); err != nil || len(objs) > 0 {
				t.Errorf("left %v (%v)", objs, err)
			}
		})
	}
}
