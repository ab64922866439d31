// Package tests3 starts a private S3-compatible server for tests: Versity's
// gateway (versitygw) in posix mode on a free loopback port, serving a
// temporary folder.
//
// A test binary calls Main from its TestMain. The server is started before
// the tests and stopped after them. A missing versitygw binary fails the
// whole test binary with a hint to run `make deps`: tests that need S3 are
// never skipped.
package tests3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Root credentials of the private server.
const (
	AccessKey = "lmstestkey"
	SecretKey = "lmstestsecret-Zq81vX"
)

// Server is a running versitygw. Its fields are read-only.
type Server struct {
	Endpoint string // "http://127.0.0.1:PORT"
	Addr     string // "127.0.0.1:PORT"
	Dir      string // the folder holding the buckets

	tmp string
	cmd *exec.Cmd
	log string
}

var (
	current       *Server
	bucketCounter atomic.Int64
)

// Main starts the server, runs the tests, stops it and exits with the
// tests' code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the code for os.Exit.
func Run(m *testing.M) int {
	srv, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests3: %v\n", err)
		return 1
	}
	current = srv
	code := m.Run()
	srv.Stop()
	return code
}

// Get returns the server started by Main.
func Get(t testing.TB) *Server {
	t.Helper()
	if current == nil {
		t.Fatal("tests3: no server: call tests3.Main from TestMain")
	}
	return current
}

// Binary finds versitygw in PATH or in $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.SplitList(gp)...)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, filepath.SplitList(strings.TrimSpace(string(out)))...)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found in PATH or GOPATH/bin: run `make deps` (it runs go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// Start starts a new server in a temporary folder. Stop it with Stop.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "lms-tests3-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	s := &Server{Endpoint: "http://" + addr, Addr: addr, Dir: dir, tmp: tmp, log: filepath.Join(tmp, "versitygw.log")}
	logf, err := os.Create(s.log)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd = cmd
	if err := s.wait(30 * time.Second); err != nil {
		log, _ := os.ReadFile(s.log)
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return s, nil
}

// freePort returns a loopback address with a port nobody listens on now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// wait polls until the server answers HTTP (any status: an anonymous
// request is refused, which proves it serves).
func (s *Server) wait(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if s.cmd.ProcessState != nil {
			return fmt.Errorf("versitygw exited: %v", s.cmd.ProcessState)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within %s: %w", s.Addr, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
// Its folder stays until Stop.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Stop ends the server and removes its folder.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.tmp)
}

// Client returns a minio client with the root credentials, for tests that
// look at the server behind the code under test's back.
func (s *Server) Client(t testing.TB) *minio.Core {
	t.Helper()
	c, err := minio.NewCore(s.Addr, &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateBucket makes a new empty bucket with a unique name and returns it.
func (s *Server) CreateBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("lms-test-%d-%d", os.Getpid(), bucketCounter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("tests3: create bucket %s: %v", name, err)
	}
	return name
}
