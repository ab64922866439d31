package dbconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// Open resolves o with Config, opens a connection pool and pings the server,
// so a nil error means the server accepted the account. The caller owns the
// returned *sql.DB, which is safe for concurrent use, and must Close it.
//
// Errors are one line that names the server address (never the password)
// and ends with a hint. They wrap ErrUsage, ErrConnect, ErrAuth or
// ErrNoDatabase, plus the underlying driver or network error; when ctx ended
// first they wrap ctx.Err() instead of a sentinel.
func Open(ctx context.Context, o Options) (*sql.DB, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, usageError("configure the driver: %s", safeDSNMessage(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close() // the ping error is the one worth reporting
		return nil, classify(ctx, err, cfg, o.DSN != "")
	}
	return db, nil
}

// serverErrors maps MySQL/MariaDB error numbers seen while connecting to a
// sentinel and a hint.
var serverErrors = map[uint16]struct {
	kind error
	hint string
}{
	1040: {ErrConnect, "the server has too many connections: retry later or raise max_connections"},
	1044: {ErrAuth, "grant the user access to the database, or check --database"},
	1045: {ErrAuth, "check the user and password: --password-file, MYSQL_PWD or --defaults-file"},
	1049: {ErrNoDatabase, "check --database"},
	1102: {ErrUsage, "the server refuses this database name: check --database"},
	1129: {ErrAuth, "the server blocked this client host after connection errors: run FLUSH HOSTS or mariadb-admin flush-hosts on the server"},
	1130: {ErrAuth, "the server has no account for this user from this client host: check the account's host part, or --host"},
	1203: {ErrConnect, "the user has too many connections: retry later or raise max_user_connections"},
	1226: {ErrConnect, "the user exceeded a resource limit: retry later or raise the account's limits"},
	1251: {ErrAuth, "the account's authentication plugin is not supported by this client"},
	1698: {ErrAuth, "the account uses unix_socket/auth_socket authentication: run as the OS user of that name over the socket, or use an account with a password"},
	1820: {ErrAuth, "the account's password has expired: set a new one with the mysql client"},
	1862: {ErrAuth, "the account's password has expired: set a new one with the mysql client"},
	3118: {ErrAuth, "the account is locked: unlock it with ALTER USER ... ACCOUNT UNLOCK"},
	4151: {ErrAuth, "the account is locked: unlock it with ALTER USER ... ACCOUNT UNLOCK"},
}

// classify turns a connection error into one line that names the server and
// carries a hint; see Open.
func classify(ctx context.Context, err error, cfg *mysql.Config, fromDSN bool) error {
	where := cfg.Addr
	unix := cfg.Net == "unix"
	if ctxErr := ctx.Err(); ctxErr != nil {
		return newError(ctxErr, err, oneLine(fmt.Sprintf("connect to %s: %v", where, err)))
	}

	var me *mysql.MySQLError
	if errors.As(err, &me) {
		known, ok := serverErrors[me.Number]
		if !ok {
			return newError(ErrConnect, err, oneLine(fmt.Sprintf("connect to %s: %v (check the server's error log)", where, err)))
		}
		var msg string
		switch {
		case known.kind == ErrNoDatabase:
			msg = fmt.Sprintf("unknown database %q on %s (%s)", cfg.DBName, where, known.hint)
		case me.Number == 1044:
			msg = fmt.Sprintf("access denied for user '%s' to database %q on %s: %s (%s)", cfg.User, cfg.DBName, where, me.Message, known.hint)
		case me.Number == 1045 && cfg.Passwd == "":
			msg = fmt.Sprintf("access denied for user '%s' on %s: %s (no password was given: use --password-file, MYSQL_PWD or --defaults-file)", cfg.User, where, me.Message)
		case known.kind == ErrAuth:
			msg = fmt.Sprintf("access denied for user '%s' on %s: %s (%s)", cfg.User, where, me.Message, known.hint)
		default:
			msg = fmt.Sprintf("connect to %s: %s (%s)", where, me.Message, known.hint)
		}
		return newError(known.kind, err, oneLine(msg))
	}

	if errors.Is(err, mysql.ErrCleartextPassword) || errors.Is(err, mysql.ErrNativePassword) ||
		errors.Is(err, mysql.ErrOldPassword) || errors.Is(err, mysql.ErrUnknownPlugin) {
		return newError(ErrAuth, err, oneLine(fmt.Sprintf("access denied for user '%s' on %s: %v (the account's authentication method is not supported by this client)", cfg.User, where, err)))
	}
	return newError(ErrConnect, err, oneLine(fmt.Sprintf("connect to %s: %v (%s)", where, err, connectHint(err, unix, fromDSN))))
}

// connectHint suggests a fix for an error that kept the client from talking
// to the server.
func connectHint(err error, unix, fromDSN bool) string {
	check := "check --host/--port"
	if unix {
		check = "check --socket/--host"
	}
	if fromDSN {
		check = "check --dsn"
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, mysql.ErrNoTLS):
		return "the server does not support TLS: use --ssl-mode=PREFERRED or DISABLED, or enable TLS on the server"
	case isTLSError(err):
		return "TLS handshake failed: check --ssl-mode, --ssl-ca, --ssl-cert and --ssl-key"
	case errors.As(err, &dnsErr) && fromDSN:
		return "cannot resolve the host name: " + check
	case errors.As(err, &dnsErr):
		return "cannot resolve the host name: check --host"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED) && unix:
		return "is the server running? " + check
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is the server running and listening on that port? " + check
	case errors.Is(err, fs.ErrPermission) && unix:
		return "check the permissions of the socket and its folder"
	case isTimeout(err):
		return "timed out: is the host reachable and the port open? " + check
	case errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "the server closed the connection: is it MySQL or MariaDB, and does it accept this client? " + check
	}
	return check
}

// isTLSError reports whether err comes from the TLS handshake or
// certificate verification.
func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalid          x509.CertificateInvalidError
		hostname         x509.HostnameError
		verification     *tls.CertificateVerificationError
		alert            tls.AlertError
		record           tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verification) || errors.As(err, &alert) || errors.As(err, &record) ||
		strings.Contains(err.Error(), "tls: ")
}

// isTimeout reports whether err is a dial or I/O timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// oneLine replaces line breaks so that a message stays on one log line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
