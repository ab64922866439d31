//go:build !unix

package memcap

import "os"

// profileSignals is empty where SIGUSR2 does not exist.
var profileSignals []os.Signal
