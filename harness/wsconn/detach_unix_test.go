//go:build unix

package wsconn_test

import (
	"io"

	"github.com/gorilla/websocket"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// readFrameFrom reads c's socket as an event-driven reader would, but
// blocking (this test is the only reader): early first, then what comes,
// until NextFrame has a frame; it returns the frame and the bytes after
// it.
func readFrameFrom(t *testing.T, c *wsconn.Conn, buf []byte) (data, rest []byte) {
	t.Helper()
	nc := c.NetConn()
	chunk := make([]byte, 512)
	for {
		data, _, rest, err := c.NextFrame(buf)
		require.NoError(t, err)
		if data != nil {
			return data, rest
		}
		buf = rest
		read := make(chan error, 1)
		go func() {
			n, err := nc.Read(chunk)
			buf = append(buf, chunk[:n]...)
			read <- err
		}()
		select {
		case err := <-read:
			require.NoError(t, err, "reading the socket after Detach")
		case <-time.After(10 * time.Second):
			nc.Close()
			<-read
			t.Fatal("no frame whole on the socket after 10 s")
		}
	}
}

func TestDetachOverTCP(t *testing.T) {
	first := clientFrame(finText, []byte(`[2,"1","Heartbeat",{}]`))
	second := clientFrame(finText, []byte(`[2,"2","Heartbeat",{}]`))
	tests := []struct {
		name string
		// handle runs in Handle, once the station has sent; it detaches c
		// and returns the bytes Detach gave.
		handle func(t *testing.T, c *wsconn.Conn) []byte
		early  bool // Detach returns bytes
	}{
		{"the station sent before Detach", func(t *testing.T, c *wsconn.Conn) []byte {
			return c.Detach(func() {})
		}, false},
		{"read ahead by a ReadFrame before Detach", func(t *testing.T, c *wsconn.Conn) []byte {
			data, _, err := c.ReadFrame()
			if assert.NoError(t, err) {
				assert.Equal(t, `[2,"1","Heartbeat",{}]`, string(data))
			}
			return c.Detach(func() {})
		}, true},
		{"a read deadline set before Detach stays off the socket", func(t *testing.T, c *wsconn.Conn) []byte {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			early := c.Detach(func() {})
			c.SetReadDeadline(time.Time{})    // no deadline for NextFrame
			time.Sleep(50 * time.Millisecond) // the first one passes: the socket is read all the same
			return early
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := make(chan struct{})
			type detachedConn struct {
				c     *wsconn.Conn
				early []byte
			}
			conns := make(chan detachedConn, 1)
			s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
				<-sent
				time.Sleep(20 * time.Millisecond) // the bytes reach the server's socket
				conns <- detachedConn{c, tt.handle(t, c)}
			}}
			url := serveTCP(t, s)
			ws := dialTCP(t, url+"/ocpp/CS1")
			_, err := ws.NetConn().Write(append(first, second...)) // right after the handshake, in one write
			require.NoError(t, err)
			close(sent)
			d := <-conns
			if tt.early {
				require.NotEmpty(t, d.early, "Detach gave no bytes: the ReadFrame before it read both frames in one read")
			} else {
				require.Empty(t, d.early)
			}
			_, isTCP := d.c.NetConn().(*net.TCPConn)
			require.True(t, isTCP, "NetConn is %T, not the accepted connection", d.c.NetConn())
			want := [][]byte{[]byte(`[2,"1","Heartbeat",{}]`), []byte(`[2,"2","Heartbeat",{}]`)}
			if tt.early {
				want = want[1:]
			}
			buf := d.early
			for _, w := range want {
				var got []byte
				got, buf = readFrameFrom(t, d.c, buf)
				require.Equal(t, string(w), string(got))
			}
			require.Empty(t, buf, "bytes after the last frame")
			require.Equal(t, 1, s.Conns(), "Handle has returned: the connection stays")
			require.NoError(t, d.c.Send(&ocpp.CallResult{ID: "2", Payload: []byte(`{}`)}))
			require.Equal(t, "2", next(t, ws).MessageID(), "an answer after Detach, over the socket")
		})
	}
}

// TestNextFrameOverTCPWritesAsGorilla holds a detached connection over a
// socket, which writes its pongs and close frames itself (gorilla's
// connection is dropped at Detach), to what ReadFrame and gorilla make of
// the same bytes: the same frames and errors, and the same bytes back.
func TestNextFrameOverTCPWritesAsGorilla(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := station(t, tc, func(raw net.Conn) { raw.Write(tc.sent) }, readFrames)
			got := stationOverTCP(t, tc, nextFrames([][]byte{tc.sent}))
			require.Equal(t, want.read, got.read, "NextFrame's frames and error")
			require.Equal(t, want.wire, got.wire, "what the station got back")
		})
	}
}

// stationOverTCP is station over loopback TCP: Handle reads with read,
// then closes the connection, and the station's bytes back are all it
// read until then.
func stationOverTCP(t *testing.T, tc wireCase, read func(c *wsconn.Conn, record func(string))) wireOutcome {
	t.Helper()
	events := make(chan string, 64)
	start, handled := make(chan struct{}), make(chan struct{})
	s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		defer close(handled)
		<-start // the station reads the wire, not gorilla's client
		if tc.limit > 0 {
			c.SetReadLimit(tc.limit)
		}
		c.OnPong(func() { events <- "pong" })
		read(c, func(e string) { events <- e })
		c.Close()
	}}
	raw := dialTCP(t, serveTCP(t, s)+"/ocpp/CS1").NetConn()
	close(start)
	var out wireOutcome
	var err error
	out.wire, err = io.ReadAll(raw)
	require.NoError(t, err, "the station's read")
	<-handled
	close(events)
	for e := range events {
		out.read = append(out.read, e)
	}
	return out
}

// TestDetachedOverTCPControlFrames: once detached, a connection over a
// socket pings, closes with a code and tells its subprotocol as before.
func TestDetachedOverTCPControlFrames(t *testing.T) {
	conns := make(chan *wsconn.Conn, 1)
	s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		c.Detach(func() {})
		conns <- c
	}}
	ws := dialTCP(t, serveTCP(t, s)+"/ocpp/CS1")
	c := <-conns
	require.Equal(t, wsconn.Subprotocol, c.Subprotocol())

	pinged := make(chan string, 1)
	ws.SetPingHandler(func(data string) error { pinged <- data; return nil })
	require.NoError(t, c.Ping())
	require.NoError(t, c.Send(&ocpp.CallResult{ID: "1", Payload: []byte(`{}`)}))
	require.Equal(t, "1", next(t, ws).MessageID(), "the answer after the ping")
	require.Equal(t, "", <-pinged, "the ping, before the answer")

	require.NoError(t, c.CloseWith(wsconn.ClosePolicyViolation, "replaced"))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, wsconn.ClosePolicyViolation, ce.Code)
	require.Equal(t, "replaced", ce.Text)
	require.ErrorIs(t, c.Ping(), websocket.ErrCloseSent, "a ping after the close frame")
}
