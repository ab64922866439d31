package dbconn

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// checkError checks the common contract of Open's errors.
func checkError(t *testing.T, err error, kind error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not wrap %v", err, kind)
	}
	msg := err.Error()
	if strings.Contains(msg, secret) || strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, "dbconn:") {
		t.Errorf("error %q leaks the password, spans lines or repeats the sentinel", msg)
	}
	for _, want := range contains {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

// Open's failures that need no server.
func TestOpenUnreachable(t *testing.T) {
	isolate(t)
	sock := filepath.Join(t.TempDir(), "no.sock")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		opts     Options
		kind     error
		contains []string
	}{
		{
			name:     "missing socket",
			opts:     Options{Socket: sock, User: "bob", Password: secret, NoDefaults: true},
			kind:     ErrConnect,
			contains: []string{"connect to " + sock + ": ", "no such file or directory", "(is the server running? check --socket/--host)"},
		},
		{
			name:     "refused TCP port",
			opts:     Options{Host: "127.0.0.1", Port: port, User: "bob", Password: secret, NoDefaults: true},
			kind:     ErrConnect,
			contains: []string{"connect to 127.0.0.1:" + strconv.Itoa(port) + ": ", "check --host/--port)"},
		},
		{
			name:     "refused TCP port via DSN",
			opts:     Options{DSN: "bob:" + secret + "@tcp(127.0.0.1:" + strconv.Itoa(port) + ")/"},
			kind:     ErrConnect,
			contains: []string{"connect to 127.0.0.1:", "check --dsn)"},
		},
		{
			name:     "usage error before any I/O",
			opts:     Options{DSN: "bob:" + secret + "/x"},
			kind:     ErrUsage,
			contains: []string{"parse --dsn: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), tt.opts)
			if db != nil {
				t.Error("Open returned a *sql.DB with an error")
			}
			checkError(t, err, tt.kind, tt.contains...)
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Open(ctx, Options{Socket: sock, User: "bob", NoDefaults: true})
		checkError(t, err, context.Canceled, "connect to "+sock)
		if errors.Is(err, ErrConnect) {
			t.Errorf("error %q wraps ErrConnect after the context ended", err)
		}
	})
}

func TestClassify(t *testing.T) {
	tcp := &mysql.Config{User: "bob", Passwd: secret, Net: "tcp", Addr: "db:3306", DBName: "shop"}
	noPassword := &mysql.Config{User: "bob", Net: "unix", Addr: "/run/mysqld/mysqld.sock"}
	myErr := func(n uint16, msg string) error { return &mysql.MySQLError{Number: n, Message: msg} }
	tests := []struct {
		name     string
		err      error
		cfg      *mysql.Config
		kind     error
		contains []string
	}{
		{
			name: "access denied", err: myErr(1045, "Access denied for user 'bob'@'10.0.0.1' (using password: YES)"), cfg: tcp, kind: ErrAuth,
			contains: []string{"access denied for user 'bob' on db:3306: ", "(check the user and password: --password-file, MYSQL_PWD or --defaults-file)"},
		},
		{
			name: "access denied without password", err: myErr(1045, "Access denied (using password: NO)"), cfg: noPassword, kind: ErrAuth,
			contains: []string{"on /run/mysqld/mysqld.sock", "no password was given"},
		},
		{name: "database access denied", err: myErr(1044, "Access denied for user 'bob'@'%' to database 'shop'"), cfg: tcp, kind: ErrAuth, contains: []string{`to database "shop"`}},
		{name: "unix_socket account", err: myErr(1698, "Access denied for user 'root'@'localhost'"), cfg: noPassword, kind: ErrAuth, contains: []string{"unix_socket"}},
		{name: "host not allowed", err: myErr(1130, "Host '10.0.0.1' is not allowed to connect to this MariaDB server"), cfg: tcp, kind: ErrAuth, contains: []string{"host part"}},
		{name: "unknown database", err: myErr(1049, "Unknown database 'shop'"), cfg: tcp, kind: ErrNoDatabase, contains: []string{`unknown database "shop" on db:3306 (check --database)`}},
		{name: "too many connections", err: myErr(1040, "Too many connections"), cfg: tcp, kind: ErrConnect, contains: []string{"connect to db:3306: Too many connections", "max_connections"}},
		{name: "other server error", err: myErr(1152, "Aborted\nconnection"), cfg: tcp, kind: ErrConnect, contains: []string{"Aborted connection", "error log"}},
		{name: "auth plugin", err: mysql.ErrOldPassword, cfg: tcp, kind: ErrAuth, contains: []string{"authentication method"}},
		{name: "no TLS on the server", err: mysql.ErrNoTLS, cfg: tcp, kind: ErrConnect, contains: []string{"--ssl-mode=PREFERRED or DISABLED"}},
		{
			name: "refused", cfg: tcp, kind: ErrConnect,
			err:      &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
			contains: []string{"is the server running and listening on that port? check --host/--port"},
		},
		{name: "DNS", err: &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, cfg: tcp, kind: ErrConnect, contains: []string{"cannot resolve the host name"}},
		{name: "timeout", err: context.DeadlineExceeded, cfg: tcp, kind: ErrConnect, contains: []string{"timed out"}},
		{name: "server hung up", err: mysql.ErrInvalidConn, cfg: tcp, kind: ErrConnect, contains: []string{"the server closed the connection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(context.Background(), tt.err, tt.cfg, false)
			checkError(t, err, tt.kind, tt.contains...)
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q does not wrap the cause", err)
			}
		})
	}
}
