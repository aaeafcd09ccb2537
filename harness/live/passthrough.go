package live

import "net"

// PassThrough returns the connection beneath: a tapConn watches frames,
// and reads nothing ahead of its caller (wsconn.PassThrough).
func (c *tapConn) PassThrough() net.Conn { return c.Conn }
