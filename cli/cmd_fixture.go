package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"lms-backup/dbconn"
	"lms-backup/fixture"
)

func fixtureCommand(env *appEnv) *cli.Command {
	opts := &fixture.Options{}
	return &cli.Command{
		Name:      "fixture",
		Usage:     "create a sample loan-management database for demos, tests and benchmarks",
		UsageText: "lms-backup fixture --database DB [--scale N] [--force] [options]",
		Description: `Creates DB if it does not exist (utf8mb4, utf8mb4_unicode_ci) and fills it with
the tables users, loans, installments and payments, computed on the server
from MariaDB's SEQUENCE engine (MySQL has none). Scale 1 is 1,000 users,
3,000 loans, about 35,600 installments and 29,000 payments; rows grow
linearly with --scale. The same scale always gives identical tables
(CHECKSUM TABLE is stable). The data describe a portfolio as of 2025-01-01:
loans disbursed 2021-2024, overdue, late and partly paid installments,
defaulted and pending loans, Arabic and Latin names, NULLs and binary receipts.
A database that already holds tables is refused unless --force, which drops
and recreates those four tables and leaves other tables alone.

EXAMPLES:
   lms-backup fixture --database lms_demo
   lms-backup fixture -D lms_bench --scale 100 --force
   lms-backup fixture --defaults-file /etc/lms/admin.cnf -D lms_test --scale 10

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Destination: &opts.Database, Usage: "database to create and fill (required)"},
			&cli.IntFlag{Name: "scale", Value: 1, Destination: &opts.Scale, Usage: fmt.Sprintf("size: %d users and %d loans per unit, 1 to %d",
				fixture.UsersPerScale, fixture.UsersPerScale*fixture.LoansPerUser, fixture.MaxScale)},
			&cli.BoolFlag{Name: "force", Destination: &opts.Force, Usage: "drop and recreate the four tables in a database that holds tables"},
		}, connFlags()...),
		Action: func(c *cli.Context) error { return env.runFixture(c, *opts) },
	}
}

func (e *appEnv) runFixture(c *cli.Context, opts fixture.Options) error {
	if c.NArg() > 0 {
		return usagef("fixture takes no arguments (got %q): use --database DB [--scale N]", c.Args().First())
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	conn := e.connOptions(c, "")
	if err := conn.Validate(); err != nil {
		return err
	}
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()

	log := e.log.With("component", "fixture", "database", opts.Database)
	res, err := fixture.Run(c.Context, db, opts, log)
	if err != nil {
		return err
	}
	attrs := []any{"scale", max(opts.Scale, 1), "server", conn.Describe()}
	for _, t := range fixture.Tables {
		attrs = append(attrs, t, res.Tables[t])
	}
	log.Info("fixture complete", append(attrs, "seconds", res.Duration.Seconds())...)
	return nil
}
