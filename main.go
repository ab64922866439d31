// Command lms-backup dumps, verifies and restores a loan-management
// system's MySQL/MariaDB database and builds its monthly report; see
// README.md. main only wires the process to the command layer (package
// cli): a context cancelled by SIGINT or SIGTERM, the standard streams,
// and the exit code cli.Run returns.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"lms-backup/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
