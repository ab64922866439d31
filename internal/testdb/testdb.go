// Package testdb starts a private MariaDB server for tests.
//
// A test binary calls Main from its TestMain. When LMS_TEST_DSN is set, that
// server is used instead (root-capable DSN without a database). Otherwise Main
// runs mariadb-install-db into a temporary datadir and starts mariadbd on a
// unix socket with networking disabled, then shuts it down after the tests.
// A server that cannot be started fails the whole test binary: tests that need
// MariaDB are never skipped.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TimeZone is the server's default time zone. It is not UTC on purpose, so
// that tests notice TIMESTAMP values shifted by a session time zone.
const TimeZone = "+03:00"

// Server is a running MariaDB server. Its fields are read-only.
type Server struct {
	// Socket is the unix socket path; empty when the server came from LMS_TEST_DSN.
	Socket string
	// Config is a root connection configuration without a database.
	Config *mysql.Config

	dir  string
	cmd  *exec.Cmd
	args []string // mariadbd's, for Restart
}

var current *Server

var dbCounter atomic.Int64

// Main starts (or attaches to) a server, runs the tests, stops the server
// and exits with the tests' code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the code for os.Exit.
func Run(m *testing.M) int {
	srv, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: %v\n", err)
		return 1
	}
	current = srv
	code := m.Run()
	if err := srv.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testdb: stop server: %v\n", err)
		code = 1
	}
	return code
}

// Get returns the server started by Main.
func Get(t testing.TB) *Server {
	t.Helper()
	if current == nil {
		t.Fatal("testdb: no server: call testdb.Main from TestMain")
	}
	return current
}

func start() (*Server, error) {
	if dsn := os.Getenv("LMS_TEST_DSN"); dsn != "" {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("parse LMS_TEST_DSN: %w", err)
		}
		s := &Server{Config: cfg}
		if cfg.Net == "unix" {
			s.Socket = cfg.Addr
		}
		return s, s.wait(10 * time.Second)
	}
	return startPrivate(nil)
}

// startPrivate starts a new private server in a temporary folder. extra
// replaces --skip-networking when given (e.g. a loopback port and TLS).
func startPrivate(extra []string) (*Server, error) {
	for _, bin := range []string{"mariadb-install-db", "mariadbd"} {
		if _, err := lookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found: install mariadb-server (make test does it) or set LMS_TEST_DSN", bin)
		}
	}
	dir, err := os.MkdirTemp("", "lms-testdb-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sock")
	// A private tmpdir, for the bootstrap too: the server keeps internal
	// temporary tables there, and a shared /tmp may be swept by other
	// programs under its feet.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := installDB(data, tmp); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	mariadbd, _ := lookPath("mariadbd")
	args := []string{"--no-defaults",
		"--datadir=" + data, "--socket=" + sock, "--tmpdir=" + tmp,
		"--pid-file=" + filepath.Join(dir, "pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--user=root", "--default-time-zone=" + TimeZone,
		"--log-bin=" + filepath.Join(dir, "binlog"), "--server-id=1",
		"--max-allowed-packet=256M", "--innodb-buffer-pool-size=128M",
		"--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"}
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--port") }) {
		args = append(args, "--skip-networking")
	}
	cmd := exec.Command(mariadbd, append(args, extra...)...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mariadbd: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "unix"
	cfg.Addr = sock
	cfg.InterpolateParams = true
	s := &Server{Socket: sock, Config: cfg, dir: dir, cmd: cmd, args: append(args, extra...)}
	if err := s.wait(60 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return s, nil
}

// StartExtra starts another private server for a test that will break it
// (kill it, restart it), never the shared one. It is stopped and removed
// when the test ends.
//
// extra are more mariadbd options; networking is on when they hold a
// "--port" (pass "--bind-address=127.0.0.1" with it).
func StartExtra(t testing.TB, extra ...string) *Server {
	t.Helper()
	s, err := startPrivate(extra)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.stop()
		} else {
			os.RemoveAll(s.dir)
		}
	})
	return s
}

// Kill ends the server with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("testdb: Kill needs a server started by the harness")
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Restart shuts the server down cleanly (as an upgrade or a reboot would)
// and starts it again on the same data and socket.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("testdb: Restart needs a server started by the harness")
	}
	s.shutdown()
	mariadbd, _ := lookPath("mariadbd")
	s.cmd = exec.Command(mariadbd, s.args...)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("testdb: restart mariadbd: %v", err)
	}
	if err := s.wait(60 * time.Second); err != nil {
		t.Fatalf("testdb: restart: %v", err)
	}
}

// lookPath finds a server binary, also in the sbin folders that a non-root PATH lacks.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func (s *Server) wait(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		db, err := sql.Open("mysql", s.Config.FormatDSN())
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not answer within %s: %w", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) stop() (err error) {
	if s.cmd == nil {
		return nil
	}
	defer func() {
		if err != nil {
			// A crashed server explains itself only in its error log.
			if log, rerr := os.ReadFile(filepath.Join(s.dir, "error.log")); rerr == nil {
				lines := strings.Split(string(log), "\n")
				err = fmt.Errorf("%w\nlast lines of the server's error log:\n%s", err, strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
		os.RemoveAll(s.dir)
	}()
	return s.shutdown()
}

// shutdown asks the server to shut down and waits for it, killing it
// after 30 s.
func (s *Server) shutdown() error {
	db, err := sql.Open("mysql", s.Config.FormatDSN())
	if err == nil {
		db.Exec("SHUTDOWN")
		db.Close()
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		return <-done
	}
}

// DSN returns a root DSN for database db ("" for none).
func (s *Server) DSN(db string) string {
	cfg := s.Config.Clone()
	cfg.DBName = db
	return cfg.FormatDSN()
}

// Open returns a connection pool to database db, closed when the test ends.
func (s *Server) Open(t testing.TB, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("mysql", s.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// CreateDB creates an empty database with a unique name starting with prefix,
// drops it when the test ends, and returns its name.
func (s *Server) CreateDB(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), dbCounter.Add(1))
	root := s.Open(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// Exec runs statements in database db, failing the test on the first error.
func (s *Server) Exec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	conn := s.Open(t, db)
	for _, q := range stmts {
		if _, err := conn.Exec(q); err != nil {
			t.Fatalf("exec %q: %v", abbreviate(q), err)
		}
	}
}

// ClientArgs returns the arguments that point the stock mariadb client at
// this server as root (no password).
func (s *Server) ClientArgs() []string {
	args := []string{"--no-defaults", "--user=" + s.Config.User}
	if s.Config.Net == "unix" {
		args = append(args, "--socket="+s.Config.Addr)
	} else {
		host, port, _ := strings.Cut(s.Config.Addr, ":")
		args = append(args, "--host="+host, "--port="+port, "--protocol=tcp")
	}
	if s.Config.Passwd != "" {
		args = append(args, "--password="+s.Config.Passwd)
	}
	return args
}

func abbreviate(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// installDB creates a datadir with mariadb-install-db. The bootstrap of
// MariaDB 10.11.19 has been seen to crash (signal 11 in ha_maria's
// drop_table) on a loaded machine; a crashed bootstrap is retried once in
// an empty datadir, and a second failure is the error.
func installDB(data, tmp string) error {
	install, _ := lookPath("mariadb-install-db")
	var out []byte
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		os.RemoveAll(data)
		out, err = exec.Command(install, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--user=root").CombinedOutput()
		if err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "testdb: mariadb-install-db failed (attempt %d): %v\n", attempt, err)
	}
	return fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
}
