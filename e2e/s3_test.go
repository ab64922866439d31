package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
	"lms-backup/internal/tests3"
)

var (
	s3Once sync.Once
	s3Srv  *tests3.Server
	s3Err  error
)

// s3Server starts the S3 test server (versitygw) on first use; TestMain
// stops it. A missing server fails the test: make deps installs it.
func s3Server(t *testing.T) *tests3.Server {
	t.Helper()
	s3Once.Do(func() { s3Srv, s3Err = tests3.Start() })
	if s3Err != nil {
		t.Fatalf("S3 test server: %v", s3Err)
	}
	return s3Srv
}

func stopS3() {
	if s3Srv != nil {
		s3Srv.Stop()
	}
}

// s3Env is the AWS environment that points the binary at srv.
func s3Env(srv *tests3.Server, secret string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + tests3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_ENDPOINT_URL=" + srv.Endpoint, "AWS_REGION=us-east-1", "AWS_PROFILE=", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// objects lists the keys under prefix in bucket.
func objects(t *testing.T, srv *tests3.Server, bucket, prefix string) []string {
	t.Helper()
	res, err := srv.Client(t).ListObjectsV2(bucket, prefix, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range res.Contents {
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

// TestS3Nightly is the nightly cron line against a real S3 server:
// `dump -o s3://bucket/lms/ --keep 2` three times leaves the two newest
// dumps; verify and restore read straight from the bucket; the stock
// client restores the downloaded object; both copies equal the source.
func TestS3Nightly(t *testing.T) {
	srv := testdb.Get(t)
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	env := s3Env(s3, tests3.SecretKey)
	src := loadFixture(t, srv, "s3src", "torture.sql")
	loc := "s3://" + bucket + "/lms/"
	for i := range 3 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // dump names are to the second
		}
		r := run(t, nil, env, append([]string{"--quiet", "dump", "-D", src, "-o", loc, "--keep", "2"}, connArgs(srv)...)...)
		if r.code != 0 {
			t.Fatalf("dump %d to the bucket: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}
	keys := objects(t, s3, bucket, "lms/")
	if len(keys) != 2 {
		t.Fatalf("objects after three nightly dumps with --keep 2: %q", keys)
	}
	newest := "s3://" + bucket + "/" + keys[1]
	v := run(t, nil, env, "verify", newest)
	if v.code != 0 || !strings.Contains(v.stdout, "OK") {
		t.Fatalf("verify from the bucket: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	dst := srv.CreateDB(t, "s3restored")
	r := run(t, nil, env, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), newest)...)
	if r.code != 0 {
		t.Fatalf("restore from the bucket: exit %d\n%s", r.code, r.stderr)
	}
	compareDatabases(t, srv, src, dst)

	obj, err := s3.Client(t).Client.GetObject(context.Background(), bucket, keys[1], minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "downloaded.sql.zst")
	f, _ := os.Create(local)
	if _, err := io.Copy(f, obj); err != nil {
		t.Fatal(err)
	}
	f.Close()
	text, err := exec.Command("zstd", "-dc", local).Output()
	if err != nil {
		t.Fatal(err)
	}
	viaClient := srv.CreateDB(t, "s3client")
	client(t, srv, viaClient, bytes.NewReader(text))
	compareDatabases(t, srv, src, viaClient)
}

// TestS3Failures: wrong credentials, a missing bucket, an endpoint that
// does not answer: one line each, exit 5 on the output side and 4 on the
// input side, no secret in it, and nothing under a dump's name.
func TestS3Failures(t *testing.T) {
	srv := testdb.Get(t)
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	db, _ := smallDump(t, srv)
	const wrong = "wrong-secret-XYZ123"
	dead := []string{"AWS_ACCESS_KEY_ID=" + tests3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + tests3.SecretKey,
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_REGION=us-east-1"}
	for _, tc := range []struct {
		name string
		env  []string
		loc  string
	}{
		{"wrong credentials", s3Env(s3, wrong), "s3://" + bucket + "/lms/"},
		{"missing bucket", s3Env(s3, tests3.SecretKey), "s3://no-such-bucket-lms/lms/"},
		{"endpoint not answering", dead, "s3://" + bucket + "/lms/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.env, append([]string{"--quiet", "dump", "-D", db, "-o", tc.loc}, connArgs(srv)...)...)
			if r.code != cli.ExitOutput || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("dump: exit %d, want %d and one line:\n%s", r.code, cli.ExitOutput, r.stderr)
			}
			v := run(t, nil, tc.env, "verify", tc.loc+"x.sql.zst")
			if v.code != cli.ExitBadDump {
				t.Errorf("verify: exit %d, want %d:\n%s", v.code, cli.ExitBadDump, v.stderr)
			}
			for _, out := range []string{r.stderr, v.stderr} {
				if strings.Contains(out, wrong) || strings.Contains(out, tests3.SecretKey) {
					t.Errorf("a secret in the error: %s", out)
				}
			}
		})
	}
	if keys := objects(t, s3, bucket, "lms/"); len(keys) != 0 {
		t.Errorf("objects left: %q", keys)
	}
}

// TestS3DumpMemory: a dump to a bucket keeps the budgets of a dump to a
// file (32 MiB heap, 64 MiB RSS), flat from scale 4 to 16 (fresh
// processes, medians of three runs).
func TestS3DumpMemory(t *testing.T) {
	srv := testdb.Get(t)
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	env := s3Env(s3, tests3.SecretKey)
	scales := []int{4, 16}
	live, heap := map[int]int64{}, map[int]int64{}
	for _, scale := range scales {
		db := fixtureDB(t, srv, scale)
		heap[scale], live[scale] = withinBudget(t, "dump to a bucket", scale, 3, func(i int) memStats {
			loc := "s3://" + bucket + "/" + db + "-" + itoa(i) + ".sql.zst"
			return measuredEnv(t, env, append([]string{"dump", "-D", db, "-o", loc}, connArgs(srv)...)...)
		})
	}
	checkFlat(t, scales, live, heap)
}

// TestS3KilledUpload: a dump to a bucket prefix SIGKILLed mid-run leaves
// no object under a dump's name, only an incomplete upload and its lock;
// the next run on the same host takes the lock of the dead process at
// once, removes the upload and writes its own.
func TestS3KilledUpload(t *testing.T) {
	srv := testdb.Get(t)
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	env := s3Env(s3, tests3.SecretKey)
	db, _ := smallDump(t, srv)
	loc := "s3://" + bucket + "/lms/"
	// The table lock holds the dump after its upload has started.
	unlock := lockTable(t, srv, db, "t")
	cmd := exec.Command(bin, append([]string{"dump", "-D", db, "-o", loc, "--threads", "1"}, connArgs(srv)...)...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForState(t, srv, "%metadata lock%")
	cmd.Process.Kill()
	cmd.Wait()
	unlock()
	uploads := func() int {
		n := 0
		for u := range s3.Client(t).Client.ListIncompleteUploads(context.Background(), bucket, "lms/", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			n++
		}
		return n
	}
	// The killed run's lock object stays; no dump is there.
	if keys := objects(t, s3, bucket, "lms/"+db); len(keys) != 0 {
		t.Fatalf("objects after a killed upload: %q", keys)
	}
	if uploads() != 1 {
		t.Fatalf("%d incomplete uploads after the kill, want 1", uploads())
	}
	r := run(t, nil, env, append([]string{"dump", "-D", db, "-o", loc, "--threads", "1"}, connArgs(srv)...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "removed incomplete uploads of earlier runs that were killed") {
		t.Fatalf("next run: exit %d\n%s", r.code, r.stderr)
	}
	if n := uploads(); n != 0 {
		t.Errorf("%d incomplete uploads left after the next run", n)
	}
	if keys := objects(t, s3, bucket, "lms/"+db); len(keys) != 1 {
		t.Errorf("objects after the next run: %q", keys)
	}
}

// TestS3ServerStopsMidUpload: the S3 server goes away while a dump to it
// runs: the dump fails in one line with exit 5, in bounded time, and no
// object is under the dump's name when the server is back.
func TestS3ServerStopsMidUpload(t *testing.T) {
	srv := testdb.Get(t)
	s3, err := tests3.Start() // a server of its own, to stop
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	bucket := s3.CreateBucket(t)
	env := s3Env(s3, tests3.SecretKey)
	db, _ := smallDump(t, srv)
	unlock := lockTable(t, srv, db, "t") // holds the dump after its upload started
	cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", "s3://" + bucket + "/lms/", "--threads", "1"}, connArgs(srv)...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForState(t, srv, "%metadata lock%")
	s3.Kill()
	start := time.Now()
	unlock()
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != cli.ExitOutput {
		t.Fatalf("dump: %v, want exit %d\n%s", err, cli.ExitOutput, stderr.String())
	}
	if took := time.Since(start); took > 3*time.Minute {
		t.Errorf("the dump noticed the server was gone after %s", took)
	}
	// One error line (a warning that the lock could not be released, a
	// log record, may come before it).
	if n := strings.Count(stderr.String(), "lms-backup: "); n != 1 || !strings.Contains(stderr.String(), "endpoint unreachable") {
		t.Errorf("%d error lines, want one naming the unreachable endpoint:\n%s", n, stderr.String())
	}
	if strings.Contains(stderr.String(), tests3.SecretKey) {
		t.Error("the secret in the error")
	}
	// The data folder of the stopped server holds no dump object.
	matches, _ := filepath.Glob(filepath.Join(s3.Dir, bucket, "lms", db+"-*"))
	if len(matches) != 0 {
		t.Errorf("objects under a dump's name: %v", matches)
	}
}

// TestS3DefaultsFile: the bucket's settings may live in the [lms-backup]
// group of the defaults file; the AWS environment variables override it.
func TestS3DefaultsFile(t *testing.T) {
	srv := testdb.Get(t)
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	db, _ := smallDump(t, srv)
	cnf := func(secret string) string {
		p := filepath.Join(t.TempDir(), "backup.cnf")
		text := "[client]\nsocket=" + srv.Config.Addr + "\nuser=" + srv.Config.User + "\n[lms-backup]\n" +
			"aws-access-key-id=" + tests3.AccessKey + "\naws_secret_access_key=" + secret + "\naws-endpoint-url=" + s3.Endpoint + "\naws-region=us-east-1\n"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_ENDPOINT_URL=", "AWS_REGION=", "AWS_PROFILE=", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	r := run(t, nil, clean, "--quiet", "dump", "-D", db, "-o", "s3://"+bucket+"/a/", "--defaults-file", cnf(tests3.SecretKey))
	if r.code != 0 {
		t.Fatalf("settings from the defaults file: exit %d\n%s", r.code, r.stderr)
	}
	// A wrong secret in the file, the right one in the environment.
	env := append(clean, "AWS_SECRET_ACCESS_KEY="+tests3.SecretKey)
	r = run(t, nil, env, "--quiet", "dump", "-D", db, "-o", "s3://"+bucket+"/b/", "--defaults-file", cnf("wrong-secret"))
	if r.code != 0 {
		t.Fatalf("the environment over the defaults file: exit %d\n%s", r.code, r.stderr)
	}
	if len(objects(t, s3, bucket, "a/")) != 1 || len(objects(t, s3, bucket, "b/")) != 1 {
		t.Errorf("objects: %q %q", objects(t, s3, bucket, "a/"), objects(t, s3, bucket, "b/"))
	}
}
