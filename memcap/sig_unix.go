//go:build unix

package memcap

import (
	"os"
	"syscall"
)

// profileSignals write a heap profile when received.
var profileSignals = []os.Signal{syscall.SIGUSR2}
