package main

import (
	"os"

	"github.com/go-sql-driver/mysql"
	"github.com/urfave/cli/v2"

	"lms-backup/dbconn"
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
	return dbconn.Options{
		DSN: c.String("dsn"), Host: c.String("host"), Port: c.Int("port"), Socket: c.String("socket"),
		User: c.String("user"), Password: c.String("password"), PasswordFile: c.String("password-file"),
		DefaultsFile: c.String("defaults-file"), NoDefaults: c.Bool("no-defaults"),
		SSLMode: c.String("ssl-mode"), SSLCA: c.String("ssl-ca"), SSLCert: c.String("ssl-cert"), SSLKey: c.String("ssl-key"),
		Database: database,
	}
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
