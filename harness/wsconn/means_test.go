package wsconn_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The means step 09 builds its edge with. Each does what its doc comment
// says, and nothing when it is not used: steps 01–08 see no difference.

func TestAcceptRunsBeforeTheUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		handled := make(chan string, 2)
		s := &wsconn.Server{
			Accept: func(w http.ResponseWriter, r *http.Request) bool {
				if r.PathValue("station") == "CS2" {
					http.Error(w, "no", http.StatusUnauthorized)
					return false
				}
				return true
			},
			Handle: func(c *wsconn.Conn) { handled <- c.Station(); echo(c) },
		}
		l := serve(t, s)
		_, resp, err := dial(t, l, "/ocpp/CS2")
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		mustDial(t, l, "/ocpp/CS1")
		require.Equal(t, "CS1", <-handled, "the station Accept let in")
		synctest.Wait()
		require.Empty(t, handled, "Handle ran for a station Accept refused")
		require.Equal(t, 1, s.Conns())
	})
}

func TestReadFrameAndSubprotocol(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type frame struct {
			data   string
			binary bool
			proto  string
		}
		frames := make(chan frame, 2)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			for {
				data, binary, err := c.ReadFrame()
				if err != nil {
					return
				}
				frames <- frame{string(data), binary, c.Subprotocol()}
			}
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, []byte("\xff\x00")))
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("not json")))
		require.Equal(t, frame{"\xff\x00", true, wsconn.Subprotocol}, <-frames)
		require.Equal(t, frame{"not json", false, wsconn.Subprotocol}, <-frames)

		none, _, err := dial(t, l, "/ocpp/CS2", "ocpp2.0.1")
		require.NoError(t, err)
		require.NoError(t, none.WriteMessage(websocket.TextMessage, []byte("x")))
		require.Equal(t, frame{"x", false, ""}, <-frames, "Subprotocol with none agreed")
	})
}

func TestSetReadLimitRefusesFromTheHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		readErr := make(chan error, 1)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.SetReadLimit(16)
			_, _, err := c.ReadFrame()
			readErr <- err
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		// A masked text frame that announces 1 MiB, of which only the
		// header is sent: the limit is enforced before the payload.
		header := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4}
		_, err := ws.NetConn().Write(header)
		require.NoError(t, err)
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.CloseMessageTooBig, ce.Code)
		require.ErrorIs(t, <-readErr, websocket.ErrReadLimit)
	})
}

func TestCloseWith(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.CloseWith(websocket.CloseProtocolError, "the ocpp1.6 subprotocol is required")
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.CloseProtocolError, ce.Code)
		require.Equal(t, "the ocpp1.6 subprotocol is required", ce.Text)
	})
}

func TestWriteTimeoutClosesTheConnection(t *testing.T) {
	// A station that does not read: with a write timeout, Send fails once
	// it has passed and the connection is closed (the reader ends); Ping
	// too. Without one (steps 01–08), Send waits.
	for _, op := range []string{"Send", "Ping"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const timeout = 5 * time.Second
				type result struct {
					err     error
					took    time.Duration
					readErr error
				}
				results := make(chan result, 1)
				l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
					c.SetWriteTimeout(timeout)
					readDone := make(chan error, 1)
					go func() { _, _, err := c.ReadFrame(); readDone <- err }()
					start := time.Now()
					var err error
					if op == "Send" {
						// Bigger than any buffer on the way: it cannot
						// complete without the station reading.
						call, _ := ocpp.NewCall("1", ocpp.ActionDataTransfer, ocpp.DataTransferRequest{VendorId: strings.Repeat("v", 200)})
						for err == nil {
							err = c.Send(call)
						}
					} else {
						err = c.Ping()
					}
					results <- result{err, time.Since(start), <-readDone}
				}})
				mustDial(t, l, "/ocpp/CS1") // and never read
				r := <-results
				require.Error(t, r.err)
				require.Equal(t, timeout, r.took, "how long %s waited for a station that does not read", op)
				require.Error(t, r.readErr, "the connection must be closed once a write failed")
			})
		})
	}
}

func TestReadDeadlineAndPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wait = 10 * time.Second
		type result struct {
			pongs int
			took  time.Duration
			err   error
		}
		results := make(chan result, 1)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			pongs := 0
			start := time.Now()
			c.OnPong(func() {
				pongs++
				c.SetReadDeadline(time.Now().Add(wait))
			})
			c.SetReadDeadline(time.Now().Add(wait))
			if err := c.Ping(); err != nil {
				results <- result{err: err}
				return
			}
			_, _, err := c.ReadFrame()
			results <- result{pongs, time.Since(start), err}
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		go ws.ReadMessage() // answers the ping, then waits
		r := <-results
		require.Equal(t, 1, r.pongs)
		require.Equal(t, wait, r.took, "the deadline, pushed back by the pong at once")
		var ne interface{ Timeout() bool }
		require.True(t, errors.As(r.err, &ne) && ne.Timeout(), "ReadFrame's error %v is not a timeout", r.err)
	})
}

func TestStopReadingWinsOverReadDeadline(t *testing.T) {
	// Once StopReading was called, a deadline set later cannot keep a
	// reader waiting.
	synctest.Test(t, func(t *testing.T) {
		readErr := make(chan error, 1)
		setErr := make(chan error, 1)
		ready := make(chan *wsconn.Conn, 1)
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			ready <- c
			_, _, err := c.ReadFrame()
			readErr <- err
			setErr <- c.SetReadDeadline(time.Now().Add(time.Hour))
		}}
		l := serve(t, s)
		mustDial(t, l, "/ocpp/CS1")
		<-ready
		synctest.Wait()
		s.StopReading()
		require.ErrorIs(t, <-readErr, wsconn.ErrStopped)
		require.ErrorIs(t, <-setErr, wsconn.ErrStopped)
	})
}

// tapped is a listener whose connections implement wsconn.Tap, as the
// live view's do, and report what they see.
type tapped struct {
	net.Listener
	seen chan string
}

func (l tapped) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tapConn{c, l.seen}, nil
}

type tapConn struct {
	net.Conn
	seen chan string
}

func (c tapConn) FrameRead(station string, data []byte) {
	c.seen <- "read " + station + " " + string(data)
}
func (c tapConn) MessageSent(station string, m ocpp.Message) {
	data, _ := ocpp.Encode(m)
	c.seen <- "sent " + station + " " + string(data)
}

func TestTapSeesFramesAndAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seen := make(chan string, 10)
		l := memnet.Listen()
		s := &wsconn.Server{Handle: echo}
		served := make(chan error, 1)
		go func() { served <- s.Serve(tapped{l, seen}) }()
		t.Cleanup(func() {
			require.NoError(t, s.Close())
			require.NoError(t, <-served)
		})
		ws := mustDial(t, l, "/ocpp/CS1")
		roundTrip(t, ws, `[2,"a","Heartbeat",{}]`)
		require.Equal(t, `read CS1 [2,"a","Heartbeat",{}]`, <-seen)
		require.Equal(t, `sent CS1 [3,"a",{}]`, <-seen)
		require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, []byte(`[2,"b","Heartbeat",{}]`)))
		synctest.Wait()
		require.Empty(t, seen, "a binary frame is not OCPP-J: the tap is not told of it")
	})
}
