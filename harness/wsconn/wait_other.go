//go:build !unix

package wsconn

import (
	"net"
	"time"
)

// readableFunc returns nil: on this platform a Conn waits in its read.
func readableFunc(*bool) func(fd uintptr) bool { return nil }

// newRawWriter returns nil: on this platform a Conn writes through its
// net.Conn.
func newRawWriter(net.Conn, func() time.Time) *rawWriter { return nil }
