package dbconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	// connectTimeout bounds dialing and the TLS handshake of each new
	// connection. Reads and writes have no timeout: a dump can stream for
	// hours.
	connectTimeout = 10 * time.Second
	// maxPasswordFileSize bounds how much of a password file is read.
	maxPasswordFileSize = 64 << 10
)

// Config validates o and resolves it into a driver configuration: it reads
// the defaults file (unless NoDefaults or DSN), the password file, MYSQL_PWD
// and the TLS files. Its errors wrap ErrUsage and name the file at fault,
// never its contents or the DSN.
//
// The config always has ParseTime off, InterpolateParams on, MultiStatements
// off, charset utf8mb4 with collation utf8mb4_general_ci, Loc UTC, native
// passwords allowed, MaxAllowedPacket 0 (fetched from the server), a read
// buffer of 256 KiB in front of each connection (see readBuffer) and, unless
// the DSN sets one, a 10s connect timeout; no read or write timeouts.
//
// The result is the caller's own, registered nowhere. It holds the password
// in clear text: never log it or its FormatDSN; use Describe.
func (o Options) Config() (*mysql.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var cfg *mysql.Config
	var err error
	if o.DSN != "" {
		cfg, err = o.dsnConfig()
	} else {
		cfg, err = o.optionsConfig()
	}
	if err != nil {
		return nil, err
	}
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_general_ci")); err != nil {
		return nil, usageError("set charset: %v", err)
	}
	cfg.ParseTime = false
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	cfg.Loc = time.UTC
	cfg.AllowNativePasswords = true
	cfg.MaxAllowedPacket = 0
	cfg.DialFunc = dialBuffered
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	return cfg, nil
}

// optionsConfig builds the config from the option fields and the defaults
// file.
func (o Options) optionsConfig() (*mysql.Config, error) {
	fset, err := o.readDefaults()
	if err != nil {
		return nil, err
	}
	r, err := o.merge(fset)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User = r.user
	cfg.DBName = r.database
	if cfg.Passwd, err = o.password(fset); err != nil {
		return nil, err
	}
	serverName := r.host
	if r.unix {
		cfg.Net, cfg.Addr = "unix", r.socket
		serverName = "localhost"
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(r.host, strconv.Itoa(r.port))
	}
	err = applyTLS(cfg, tlsOptions{
		mode: r.sslMode, ca: r.sslCA, cert: r.sslCert, key: r.sslKey,
		serverName: serverName, unix: r.unix,
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// dsnConfig builds the config from o.DSN; the SSL fields override the DSN's
// tls parameter only when one of them is set.
func (o Options) dsnConfig() (*mysql.Config, error) {
	cfg, err := parseDSN(o.DSN)
	if err != nil {
		return nil, err
	}
	if o.Database != "" {
		cfg.DBName = o.Database
	}
	if cfg.Passwd == "" {
		if cfg.Passwd, err = o.password(fileSettings{}); err != nil {
			return nil, err
		}
	}
	if o.SSLMode == "" && o.SSLCA == "" && o.SSLCert == "" && o.SSLKey == "" {
		return cfg, nil
	}
	if (o.SSLCert == "") != (o.SSLKey == "") {
		return nil, usageError("--ssl-cert and --ssl-key must be given together")
	}
	mode, ok := parseSSLMode(o.SSLMode)
	if !ok {
		mode = sslPreferred
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || cfg.Net == "unix" {
		host = "localhost"
	}
	err = applyTLS(cfg, tlsOptions{
		mode: mode, ca: o.SSLCA, cert: o.SSLCert, key: o.SSLKey,
		serverName: host, unix: cfg.Net == "unix",
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// password returns the password by the precedence documented on Options.
func (o Options) password(fset fileSettings) (string, error) {
	switch {
	case o.Password != "":
		return o.Password, nil
	case o.PasswordFile != "":
		return readPasswordFile(o.PasswordFile)
	case fset.hasPassword:
		return fset.password, nil
	}
	return os.Getenv("MYSQL_PWD"), nil
}

// readPasswordFile returns the first line of the file at path without its
// line ending.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fileError("read password file", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordFileSize))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fileError("read password file", path, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// parseDSN parses a go-sql-driver DSN. Its error messages are written here
// from a fixed list, because the driver's may quote parts of the DSN, and
// with them the password; the driver's error is not wrapped for the same
// reason.
func parseDSN(dsn string) (cfg *mysql.Config, err error) {
	defer func() {
		if r := recover(); r != nil { // the driver panics on the removed "strict" parameter
			cfg, err = nil, dsnError("unsupported parameter (strict mode was removed from the driver)")
		}
	}()
	cfg, err = mysql.ParseDSN(dsn)
	if err != nil {
		return nil, dsnError(safeDSNMessage(err))
	}
	return cfg, nil
}

func dsnError(msg string) error {
	return usageError("parse --dsn: %s (the form is user:password@tcp(host:port)/dbname or user:password@unix(/path/to/socket)/dbname)", msg)
}

// safeDSNMessage describes a ParseDSN or NewConnector error in words that
// cannot contain any part of the DSN. It knows the messages of
// go-sql-driver/mysql v1.10.
func safeDSNMessage(err error) string {
	msg := err.Error()
	switch msg {
	case "invalid DSN: did you forget to escape a param value?",
		"invalid DSN: network address not terminated (missing closing brace)",
		"invalid DSN: missing the slash separating the database name",
		"invalid DSN: interpolateParams can not be used with unsafe collations":
		return strings.TrimPrefix(msg, "invalid DSN: ")
	}
	for _, m := range []struct{ prefix, say string }{
		{"invalid dbname", "invalid escaping in the database name"},
		{"default addr for network", "unknown network: use tcp or unix, and end the password with @"},
		{"invalid value / unknown config name", "unknown value of the tls parameter"},
		{"invalid value for TLS config name", "invalid escaping in the tls parameter"},
		{"invalid value / unknown server pub key name", "unknown value of the serverPubKey parameter"},
		{"invalid value for server pub key name", "invalid escaping in the serverPubKey parameter"},
		{"invalid connectionAttributes", "invalid escaping in the connectionAttributes parameter"},
		{"invalid bool value", "a boolean parameter is not true or false"},
		{"invalid timeTruncate", "invalid timeTruncate parameter"},
		{"time: ", "a duration parameter is not a duration such as 30s"},
		{"strconv.", "a numeric parameter is not a number"},
		{"unknown time zone", "unknown time zone in the loc parameter"},
		{"invalid URL escape", "invalid %-escape in a parameter"},
	} {
		if strings.HasPrefix(msg, m.prefix) {
			return m.say
		}
	}
	return "malformed DSN"
}

// tlsOptions are the resolved SSL settings.
type tlsOptions struct {
	mode          string // canonical SSL mode
	ca, cert, key string // file paths, may be empty
	serverName    string // host name checked by VERIFY_IDENTITY
	unix          bool   // connecting over the unix socket
}

// applyTLS sets cfg.TLS, cfg.TLSConfig and cfg.AllowFallbackToPlaintext for
// the MySQL SSL mode in t:
//
//   - DISABLED: no TLS.
//   - PREFERRED: TLS if the server offers it, unverified ("preferred"); over
//     the unix socket no TLS, as the socket is local. With a CA it is
//     VERIFY_CA, as in the mysql client.
//   - REQUIRED: TLS, certificate not verified (like MySQL's REQUIRED).
//   - VERIFY_CA: the chain is verified against the CA (or the system roots),
//     the host name is not.
//   - VERIFY_IDENTITY: full verification against t.serverName.
//
// The client certificate is loaded when given. Errors wrap ErrUsage.
func applyTLS(cfg *mysql.Config, t tlsOptions) error {
	cfg.TLS, cfg.TLSConfig, cfg.AllowFallbackToPlaintext = nil, "", false
	mode := t.mode
	switch {
	case mode == sslPreferred && t.unix:
		mode = sslDisabled
	case mode == sslPreferred && t.ca != "":
		mode = sslVerifyCA
	}
	if mode == sslDisabled {
		cfg.TLSConfig = "false"
		return nil
	}
	if mode == sslPreferred && t.cert == "" {
		cfg.TLSConfig = "preferred"
		cfg.AllowFallbackToPlaintext = true
		return nil
	}
	tc := &tls.Config{}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return newError(ErrUsage, err, fmt.Sprintf("load client certificate %s and key %s: %s (check --ssl-cert and --ssl-key)",
				t.cert, t.key, pathErrorText(err)))
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	var roots *x509.CertPool // nil: the system roots
	if t.ca != "" && (mode == sslVerifyCA || mode == sslVerifyIdentity) {
		var err error
		if roots, err = loadCA(t.ca); err != nil {
			return err
		}
	}
	switch mode {
	case sslPreferred:
		tc.InsecureSkipVerify = true
		cfg.AllowFallbackToPlaintext = true
	case sslRequired:
		tc.InsecureSkipVerify = true
	case sslVerifyCA:
		tc.InsecureSkipVerify = true // the host name is not checked; the chain is, below
		tc.VerifyConnection = verifyChain(roots)
	case sslVerifyIdentity:
		tc.RootCAs = roots
		tc.ServerName = t.serverName
	}
	cfg.TLS = tc
	return nil
}

// loadCA reads a PEM file of CA certificates.
func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError("read --ssl-ca file", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageError("read --ssl-ca file %s: no PEM certificate found (check the file)", path)
	}
	return pool, nil
}

// verifyChain returns a tls.Config.VerifyConnection that checks the server's
// chain against roots (nil: the system roots) but not its host name. Unlike
// VerifyPeerCertificate it also runs on resumed sessions.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// pathErrorText returns err's message without the path an *fs.PathError
// repeats.
func pathErrorText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
