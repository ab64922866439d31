package dbconn

import (
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Built-in defaults, used when neither Options nor the defaults file say.
const (
	defaultPort   = 3306
	defaultSocket = "/run/mysqld/mysqld.sock"
)

// SSL modes, with the MySQL meanings.
const (
	sslDisabled       = "DISABLED"
	sslPreferred      = "PREFERRED"
	sslRequired       = "REQUIRED"
	sslVerifyCA       = "VERIFY_CA"
	sslVerifyIdentity = "VERIFY_IDENTITY"
)

// Options says how to reach the server. Zero values mean defaults. A field
// set here overrides the defaults file, which overrides the built-in default.
//
// The password is the first of these that is set:
//
//  1. Password (the command line; it works, but other local users can read
//     it from the process list, so the caller should log a warning),
//  2. PasswordFile (its first line),
//  3. "password" in the defaults file,
//  4. the MYSQL_PWD environment variable.
//
// With DSN no defaults file is read; a password inside the DSN wins, and
// Password, PasswordFile and MYSQL_PWD (in that order) only fill in when the
// DSN has none.
//
// The defaults file is read in MySQL option-file syntax; the groups
// [client], [client-server], [client-mariadb], [mysqldump] and [lms-backup]
// are used, a later group in that list overriding an earlier one wherever the
// groups appear in the file.
//
// Options holds secrets: log it only through Describe.
type Options struct {
	DSN          string // go-sql-driver DSN (from --dsn or LMS_DSN); exclusive with Host, Port, Socket, User and DefaultsFile
	Host         string // "" or "localhost" means the unix socket (like the mysql client); anything else means TCP
	Port         int    // TCP port; default from the defaults file, else 3306; an error with a unix-socket connection
	Socket       string // default from the defaults file, else /run/mysqld/mysqld.sock
	User         string // default from the defaults file, else the current OS user name
	Password     string // from --password on the command line
	PasswordFile string // the first line of this file is the password (a trailing \r is trimmed)
	DefaultsFile string // option file; when empty, ~/.my.cnf is read if it exists, unless NoDefaults
	NoDefaults   bool   // read no defaults file at all
	SSLMode      string // DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY (any case); default PREFERRED
	SSLCA        string // PEM file of CA certificates; without it VERIFY_CA and VERIFY_IDENTITY use the system roots
	SSLCert      string // PEM client certificate; needs SSLKey
	SSLKey       string // PEM client key; needs SSLCert
	Database     string // default database for the session; overrides the DSN's
}

// Validate checks o without any I/O. Its errors wrap ErrUsage. Conflicts
// that involve the defaults file are found later, by Config.
func (o Options) Validate() error {
	if o.DSN != "" {
		var conflicts []string
		for _, c := range []struct {
			set  bool
			flag string
		}{
			{o.Host != "", "--host"},
			{o.Port != 0, "--port"},
			{o.Socket != "", "--socket"},
			{o.User != "", "--user"},
			{o.DefaultsFile != "", "--defaults-file"},
		} {
			if c.set {
				conflicts = append(conflicts, c.flag)
			}
		}
		if len(conflicts) > 0 {
			return usageError("--dsn cannot be combined with %s (put the server and user in the DSN, or drop --dsn)",
				strings.Join(conflicts, ", "))
		}
		if _, err := parseDSN(o.DSN); err != nil {
			return err
		}
	}
	if o.NoDefaults && o.DefaultsFile != "" {
		return usageError("--no-defaults and --defaults-file exclude each other")
	}
	if o.Port < 0 || o.Port > 65535 {
		return usageError("--port %d is out of range (use 1 to 65535)", o.Port)
	}
	if err := checkHost(o.Host); err != nil {
		return err
	}
	if o.Host != "" {
		if err := checkTransport(o, isLocalHost(o.Host)); err != nil {
			return err
		}
	}
	if o.SSLMode != "" {
		mode, ok := parseSSLMode(o.SSLMode)
		if !ok {
			return usageError("--ssl-mode %q is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY", o.SSLMode)
		}
		if mode == sslDisabled && (o.SSLCA != "" || o.SSLCert != "" || o.SSLKey != "") {
			return usageError("--ssl-ca, --ssl-cert and --ssl-key have no effect with --ssl-mode=DISABLED (drop them or choose another mode)")
		}
	}
	return nil
}

// checkHost rejects host values that are probably meant for another flag.
func checkHost(host string) error {
	switch {
	case strings.ContainsRune(host, '/'):
		return usageError("--host %q looks like a socket path (use --socket)", host)
	case strings.Count(host, ":") == 1 || strings.Contains(host, "]:"):
		return usageError("--host %q must not include a port (use --port)", host)
	}
	return nil
}

// checkTransport rejects command-line fields that the transport chosen by
// the (possibly defaults-file) host would silently ignore.
func checkTransport(o Options, unix bool) error {
	if unix && o.Port != 0 {
		return usageError("--port has no effect on a unix-socket connection to localhost (use --host 127.0.0.1 to connect over TCP)")
	}
	if !unix && o.Socket != "" {
		return usageError("--socket has no effect on a TCP connection (drop --host, or set it to localhost, to use the socket)")
	}
	return nil
}

// isLocalHost reports whether host means the unix socket, as for the mysql
// client.
func isLocalHost(host string) bool {
	return host == "" || strings.EqualFold(host, "localhost")
}

// parseSSLMode returns the canonical spelling of an SSL mode.
func parseSSLMode(s string) (string, bool) {
	switch m := strings.ToUpper(strings.TrimSpace(s)); m {
	case sslDisabled, sslPreferred, sslRequired, sslVerifyCA, sslVerifyIdentity:
		return m, true
	}
	return "", false
}

// Describe returns where o connects, for log lines: "user@unix(/path)" or
// "user@host:port". It never contains a password. Like Config it reads the
// defaults file (but never the password file); when that fails it describes
// the options as given.
func (o Options) Describe() string {
	if o.DSN != "" {
		cfg, err := parseDSN(o.DSN)
		if err != nil {
			return "(invalid --dsn)"
		}
		return describe(cfg.User, cfg.Net, cfg.Addr)
	}
	fset, err := o.readDefaults()
	if err != nil {
		fset = fileSettings{}
	}
	r, _ := o.merge(fset) // on error r is still filled in as far as possible
	if r.unix {
		return describe(r.user, "unix", r.socket)
	}
	return describe(r.user, "tcp", net.JoinHostPort(r.host, strconv.Itoa(r.port)))
}

// describe formats a user and driver address for humans.
func describe(user, network, addr string) string {
	where := addr
	if network == "unix" {
		where = "unix(" + addr + ")"
	}
	if user == "" {
		return where
	}
	return user + "@" + where
}

// resolved is Options merged with the defaults file and built-in defaults,
// password excepted.
type resolved struct {
	user, host, socket string
	port               int
	unix               bool
	sslMode            string
	sslCA              string
	sslCert, sslKey    string
	database           string
}

// merge combines o, fset and the built-in defaults. It fills in r as far as
// it can even when it returns an error (which wraps ErrUsage).
func (o Options) merge(fset fileSettings) (resolved, error) {
	r := resolved{
		user:     first(o.User, fset.user),
		host:     first(o.Host, fset.host),
		socket:   first(o.Socket, fset.socket, defaultSocket),
		port:     defaultPort,
		sslMode:  sslPreferred,
		sslCA:    first(o.SSLCA, fset.sslCA),
		sslCert:  first(o.SSLCert, fset.sslCert),
		sslKey:   first(o.SSLKey, fset.sslKey),
		database: first(o.Database, fset.database),
	}
	if strings.HasPrefix(r.host, "[") && strings.HasSuffix(r.host, "]") {
		r.host = r.host[1 : len(r.host)-1]
	}
	r.unix = isLocalHost(r.host)
	switch {
	case o.Port != 0:
		r.port = o.Port
	case fset.port != 0:
		r.port = fset.port
	}
	if mode, ok := parseSSLMode(o.SSLMode); ok {
		r.sslMode = mode
	} else if fset.sslMode != "" {
		r.sslMode = fset.sslMode
	}
	var err error
	if r.user == "" {
		if r.user = osUserName(); r.user == "" {
			err = usageError("cannot determine the OS user name (set --user)")
		}
	}
	if err == nil && o.Host == "" {
		err = checkTransport(o, r.unix) // the host came from the defaults file
	}
	if err == nil && (r.sslCert == "") != (r.sslKey == "") {
		err = usageError("--ssl-cert and --ssl-key must be given together (on the command line or in the defaults file)")
	}
	return r, err
}

// osUserName returns the name of the user running the process, as the mysql
// client would use it, or "".
func osUserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, env := range []string{"USER", "LOGNAME"} {
		if name := os.Getenv(env); name != "" {
			return name
		}
	}
	return ""
}

// first returns the first non-empty string.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// ClientTLS is the TLS a connection uses, as the stock clients' options
// say it: for the mariadb-binlog and mariadb programs lms-backup runs.
type ClientTLS struct {
	Mode          string // DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY
	CA, Cert, Key string // file paths, may be empty
}

// ClientTLS resolves the TLS settings from the options and the defaults
// file as Config does. With a DSN only the --ssl-* options count.
func (o Options) ClientTLS() (ClientTLS, error) {
	if o.DSN != "" {
		mode, _ := parseSSLMode(o.SSLMode)
		return ClientTLS{Mode: mode, CA: o.SSLCA, Cert: o.SSLCert, Key: o.SSLKey}, nil
	}
	fset, err := o.readDefaults()
	if err != nil {
		return ClientTLS{}, err
	}
	r, err := o.merge(fset)
	if err != nil {
		return ClientTLS{}, err
	}
	return ClientTLS{Mode: r.sslMode, CA: r.sslCA, Cert: r.sslCert, Key: r.sslKey}, nil
}
