package cli

import (
	"math"
	"os"

	"github.com/go-sql-driver/mysql"
	"github.com/urfave/cli/v2"

	"lms-backup/dbconn"
	"lms-backup/dump"
	"lms-backup/fixture"
	"lms-backup/memcap"
)

const connCategory = "Connection (like the mysql client)"

// connFlags are the connection flags of every command that talks to a server.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dsn", EnvVars: []string{"LMS_DSN"}, Category: connCategory,
			Usage: "go-sql-driver DSN, e.g. 'user@unix(/run/mysqld/mysqld.sock)/'; instead of the flags below"},
		&cli.StringFlag{Name: "host", Aliases: []string{"h"}, Category: connCategory, Usage: "server host; empty or localhost means the unix socket"},
		&cli.IntFlag{Name: "port", Aliases: []string{"P"}, Category: connCategory, Usage: "TCP port", DefaultText: "3306"},
		&cli.StringFlag{Name: "socket", Aliases: []string{"S"}, Category: connCategory, Usage: "unix socket (default /run/mysqld/mysqld.sock)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Category: connCategory, Usage: "user name (default: defaults file, else your login name)"},
		&cli.StringFlag{Name: "password", Category: connCategory, Usage: "password (visible to other local users: prefer --password-file, MYSQL_PWD or --defaults-file)"},
		&cli.StringFlag{Name: "password-file", Category: connCategory, Usage: "read the password from the first line of this file"},
		&cli.StringFlag{Name: "defaults-file", Category: connCategory, Usage: "my.cnf-style file; its [client] and [lms-backup] groups are read (default ~/.my.cnf)"},
		&cli.BoolFlag{Name: "no-defaults", Category: connCategory, Usage: "read no option file"},
		&cli.StringFlag{Name: "ssl-mode", Category: connCategory, Usage: "DISABLED, PREFERRED (default), REQUIRED, VERIFY_CA or VERIFY_IDENTITY"},
		&cli.StringFlag{Name: "ssl-ca", Category: connCategory, Usage: "CA certificate file (PEM) for VERIFY_CA/VERIFY_IDENTITY"},
		&cli.StringFlag{Name: "ssl-cert", Category: connCategory, Usage: "client certificate file (PEM)"},
		&cli.StringFlag{Name: "ssl-key", Category: connCategory, Usage: "client key file (PEM)"},
	}
}

// connOptions binds the connection flags; database is the session's
// default database.
func (e *appEnv) connOptions(c *cli.Context, database string) dbconn.Options {
	if c.IsSet("password") || dsnPasswordOnCommandLine(c.String("dsn")) {
		e.log.Warn("a password on the command line is visible to other local users; prefer --password-file, MYSQL_PWD or --defaults-file")
	}
	dsn := c.String("dsn")
	if dsn != "" && dsn == os.Getenv("LMS_DSN") && connFlagsGiven(c) {
		// As the mysql client orders its sources: the command line over
		// the environment over option files. LMS_DSN stays set for the
		// usual runs; flags on the command line point one run elsewhere.
		e.log.Debug("connection flags on the command line: LMS_DSN is not used for this run")
		dsn = ""
	}
	return dbconn.Options{
		DSN: dsn, Host: c.String("host"), Port: c.Int("port"), Socket: c.String("socket"),
		User: c.String("user"), Password: c.String("password"), PasswordFile: c.String("password-file"),
		DefaultsFile: c.String("defaults-file"), NoDefaults: c.Bool("no-defaults"),
		SSLMode: c.String("ssl-mode"), SSLCA: c.String("ssl-ca"), SSLCert: c.String("ssl-cert"), SSLKey: c.String("ssl-key"),
		Database: database,
	}
}

// connFlagsGiven reports whether the command line sets a connection flag
// that a DSN also says (host, port, socket, user, defaults file).
func connFlagsGiven(c *cli.Context) bool {
	for _, name := range []string{"host", "port", "socket", "user", "defaults-file"} {
		if c.IsSet(name) {
			return true
		}
	}
	return false
}

// dsnPasswordOnCommandLine reports whether dsn holds a password and came
// from --dsn rather than from LMS_DSN, whose value other users cannot read.
func dsnPasswordOnCommandLine(dsn string) bool {
	if dsn == "" || dsn == os.Getenv("LMS_DSN") {
		return false
	}
	cfg, err := mysql.ParseDSN(dsn)
	return err == nil && cfg.Passwd != ""
}

// flagRange is the range of a numeric option. checkRanges applies every
// range to every command that has the option: a value outside it, 0
// included, is refused with exit 2. Leaving the option out gives its
// default; no value given on the command line stands for it.
type flagRange struct {
	name     string
	min, max int64
	size     bool // a size such as 64MiB rather than a count
}

var flagRanges = []flagRange{
	{name: "threads", min: 1, max: dump.MaxThreads},
	{name: "scale", min: 1, max: fixture.MaxScale},
	{name: "mem-limit", min: 4 << 20, max: math.MaxInt64, size: true},
	{name: "max-heap", min: 1 << 20, max: math.MaxInt64, size: true},
	{name: "max-statement-size", min: 4 << 10, max: 1 << 30, size: true},
}

// checkRanges checks the numeric options the user set (on the command line
// or in the environment) against flagRanges, before any I/O.
func checkRanges(c *cli.Context) error {
	for _, r := range flagRanges {
		if !c.IsSet(r.name) {
			continue
		}
		if !r.size {
			if n := int64(c.Int(r.name)); n < r.min || n > r.max {
				return usagef("--%s %d: use %d to %d (leave the option out for the default)", r.name, n, r.min, r.max)
			}
			continue
		}
		s := c.String(r.name)
		n, err := memcap.ParseSize(s)
		if err != nil {
			return usagef("--%s: %v", r.name, err)
		}
		if n < r.min || n > r.max {
			limit := "or more"
			if r.max != math.MaxInt64 {
				limit = "to " + formatBytes(r.max)
			}
			return usagef("--%s %s: use %s %s (leave the option out for the default)", r.name, s, formatBytes(r.min), limit)
		}
	}
	return nil
}
