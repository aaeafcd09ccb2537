//go:build unix

package wsconn

import "syscall"

// readableFunc returns the function RawConn.Read calls to ask whether the
// socket has anything to read: it peeks, and reports false (wait for the
// poller) only while there is nothing. A station that hung up reads as
// readable: the read that follows sees the end.
func readableFunc() func(fd uintptr) bool {
	var b [1]byte
	return func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			return true // a byte, the end, or an error: the read says which
		}
	}
}
