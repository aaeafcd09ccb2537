//go:build unix

package wsconn

import "syscall"

// readableFunc returns the function RawConn.Read calls to ask whether the
// socket has anything to read. Its first call in a wait peeks, and reports
// false (wait for the poller) only while there is nothing; a call after
// the poller woke the wait reports true without asking again, so that a
// frame that comes to an idle station costs the system calls it did
// before the wait was moved (one read that finds nothing, one that reads
// it). A station that hung up reads as readable: the read that follows
// sees the end. *woke must be false when a wait begins.
func readableFunc(woke *bool) func(fd uintptr) bool {
	var b [1]byte
	return func(fd uintptr) bool {
		if *woke {
			return true
		}
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				*woke = true // the next call comes after the poller's wake
				return false
			}
			return true // a byte, the end, or an error: the read says which
		}
	}
}

// newRawWriter returns a rawWriter whose function writes until the frame
// is out, and when the socket is full sets the write deadline (once) and
// reports false, to wait for the poller with the socket's write lock held.
func newRawWriter() *rawWriter {
	w := &rawWriter{}
	w.f = func(fd uintptr) bool {
		for w.n < len(w.p) {
			n, err := syscall.Write(int(fd), w.p[w.n:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				if !w.armed {
					w.armed = true
					w.c.nc.SetWriteDeadline(w.deadline())
				}
				return false
			case err != nil:
				w.err = err
				return true
			}
			w.n += n
		}
		return true
	}
	return w
}
