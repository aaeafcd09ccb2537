//go:build !unix

package wsconn

// readableFunc returns nil: on this platform a Conn waits in its read.
func readableFunc(*bool) func(fd uintptr) bool { return nil }

// newRawWriter is never called: on this platform a Conn writes through
// its net.Conn.
func newRawWriter() *rawWriter { panic("wsconn: no raw writes on this platform") }
