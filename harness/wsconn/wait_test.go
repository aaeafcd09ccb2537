//go:build unix

package wsconn_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// These tests run over real TCP on 127.0.0.1: the in-memory network has no
// socket to wait on, so there a Conn waits in its read, and the waiting
// outside the reader (waitReadable) is seen only here.

// serveTCP runs s on a loopback listener until the test ends and returns
// the station URL's prefix.
func serveTCP(t *testing.T, s *wsconn.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		assert.NoError(t, s.Close())
		assert.NoError(t, <-served, "Serve after Close")
	})
	return "ws://" + l.Addr().String()
}

func dialTCP(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{wsconn.Subprotocol}}
	ws, resp, err := d.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	// A read that hangs fails the test, rather than waiting for go test's timeout.
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	return ws
}

// parkedIn waits until a goroutine serving a station is parked waiting for
// the network and returns its stack, or fails the test after a while.
func parkedIn(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 200 {
		dump := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, "wsconn.(*Server).run") {
				return g
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no goroutine serving a station was waiting for the network after 2 s")
	return ""
}

func TestIdleStationWaitsOutsideTheReader(t *testing.T) {
	url := serveTCP(t, &wsconn.Server{Handle: echo})
	ws := dialTCP(t, url+"/ocpp/CS1")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`[2,"m-1","Heartbeat",{}]`)))
	_, _, err := ws.ReadMessage()
	require.NoError(t, err)

	stack := parkedIn(t)
	var frames []string
	for _, line := range strings.Split(stack, "\n")[1:] {
		if line != "" && !strings.HasPrefix(line, "\t") {
			frames = append(frames, line[:strings.LastIndexByte(line, '(')])
		}
	}
	assert.True(t, strings.Contains(stack, "wsconn.(*Conn).waitReadable") && !strings.Contains(stack, "gorilla/websocket"),
		"an idle station's goroutine should wait for its socket in Conn.waitReadable, not inside the WebSocket reader, "+
			"where its stack cannot shrink below 8 KiB; it waits in:\n%s", strings.Join(frames, "\n"))
}

func TestWaitingOutsideTheReaderLosesNothing(t *testing.T) {
	frame := func(id string) []byte { return []byte(`[2,"` + id + `","Heartbeat",{}]`) }
	t.Run("frames in one write", func(t *testing.T) {
		// The read buffer holds several frames: none is waited for.
		url := serveTCP(t, &wsconn.Server{Handle: echo})
		ws := dialTCP(t, url+"/ocpp/CS1")
		var burst []byte
		for i := range 20 {
			payload := frame(string(rune('a' + i)))
			burst = append(burst, 0x81, 0x80|byte(len(payload)), 0, 0, 0, 0) // text, masked with zeros
			burst = append(burst, payload...)
		}
		_, err := ws.NetConn().Write(burst)
		require.NoError(t, err)
		for i := range 20 {
			m := next(t, ws)
			require.Equal(t, string(rune('a'+i)), m.MessageID())
		}
	})
	t.Run("a frame in pieces", func(t *testing.T) {
		// A header now and the rest later: the wait ends at the first byte,
		// the read waits for the rest.
		url := serveTCP(t, &wsconn.Server{Handle: echo})
		ws := dialTCP(t, url+"/ocpp/CS1")
		raw := ws.NetConn()
		payload := frame("p-1")
		header := []byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0} // text, masked with zeros
		for _, piece := range [][]byte{header[:1], header[1:], payload[:5], payload[5:]} {
			_, err := raw.Write(piece)
			require.NoError(t, err)
			time.Sleep(20 * time.Millisecond) // let the server wait again between pieces
		}
		require.Equal(t, "p-1", next(t, ws).MessageID())
	})
	t.Run("a larger frame than the read buffer", func(t *testing.T) {
		url := serveTCP(t, &wsconn.Server{Handle: echo})
		ws := dialTCP(t, url+"/ocpp/CS1")
		big := `[2,"big","Heartbeat",{"pad":"` + strings.Repeat("x", 3000) + `"}]`
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(big)))
		require.Equal(t, "big", next(t, ws).MessageID())
	})
}

func TestWaitingOutsideTheReaderEnds(t *testing.T) {
	tests := []struct {
		name string
		// end makes the server's waiting ReadFrame return, and check says
		// whether err is what it should be.
		end   func(s *wsconn.Server, c *wsconn.Conn, ws *websocket.Conn)
		check func(t *testing.T, err error)
	}{
		{"read deadline", func(s *wsconn.Server, c *wsconn.Conn, ws *websocket.Conn) {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		}, func(t *testing.T, err error) {
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout(), "%v: want a timeout", err)
		}},
		{"StopReading", func(s *wsconn.Server, c *wsconn.Conn, ws *websocket.Conn) {
			s.StopReading()
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, wsconn.ErrStopped)
		}},
		{"Close", func(s *wsconn.Server, c *wsconn.Conn, ws *websocket.Conn) {
			c.Close()
		}, func(t *testing.T, err error) {
			assert.Error(t, err)
		}},
		{"the station hangs up", func(s *wsconn.Server, c *wsconn.Conn, ws *websocket.Conn) {
			ws.NetConn().Close()
		}, func(t *testing.T, err error) {
			assert.Error(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns := make(chan *wsconn.Conn, 1)
			errs := make(chan error, 1)
			s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
				conns <- c
				_, _, err := c.ReadFrame()
				errs <- err
			}}
			url := serveTCP(t, s)
			ws := dialTCP(t, url+"/ocpp/CS1")
			c := <-conns
			parkedIn(t)
			tt.end(s, c, ws)
			select {
			case err := <-errs:
				tt.check(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("ReadFrame still waiting 10 s after it should have returned")
			}
		})
	}
}

// TestOwnReadBufferRefusesEarlyData checks that a station that sends data before its
// handshake is answered is still refused, now that the connection reads
// through a buffer of its own.
func TestOwnReadBufferRefusesEarlyData(t *testing.T) {
	url := serveTCP(t, &wsconn.Server{Handle: echo})
	addr := strings.TrimPrefix(url, "ws://")
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	req := "GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
	_, err = c.Write([]byte(req + "\x81\x80\x00\x00\x00\x00")) // a frame before the answer
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
		assert.NotEqual(t, http.StatusSwitchingProtocols, resp.StatusCode, "a station that sent a frame before its handshake was answered was upgraded")
		return
	}
	assert.True(t, errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset"), "%v", err)
}

func TestWritingPastWhatTheSocketTakes(t *testing.T) {
	big := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 200_000) }
	t.Run("a station that reads late gets every frame whole", func(t *testing.T) {
		sent := make(chan error, 1)
		url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.SetWriteTimeout(10 * time.Second)
			for i := range 30 {
				payload := json.RawMessage(`"` + big(i) + `"`)
				if err := c.Send(&ocpp.CallResult{ID: "m", Payload: payload}); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
			c.Read() // until the station goes
		}})
		ws := dialTCP(t, url+"/ocpp/CS1")
		time.Sleep(200 * time.Millisecond) // the socket's buffers fill: the server waits
		for i := range 30 {
			_, data, err := ws.ReadMessage()
			require.NoError(t, err)
			require.Equal(t, `[3,"m","`+big(i)+`"]`, string(data), "frame %d", i)
		}
		require.NoError(t, <-sent)
	})
	t.Run("a station that never reads is given up after the write timeout", func(t *testing.T) {
		conns := make(chan *wsconn.Conn, 1)
		sent := make(chan error, 1)
		url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			conns <- c
			c.SetWriteTimeout(100 * time.Millisecond)
			payload := json.RawMessage(`"` + big(0) + `"`)
			for {
				if err := c.Send(&ocpp.CallResult{ID: "m", Payload: payload}); err != nil {
					sent <- err
					return
				}
			}
		}})
		dialTCP(t, url+"/ocpp/CS1")
		c := <-conns
		select {
		case err := <-sent:
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout(), "%v: want a timeout", err)
		case <-time.After(10 * time.Second):
			t.Fatal("Send to a station that never reads still waiting 10 s after its 100 ms write timeout")
		}
		select {
		case <-c.Done():
		default:
			t.Error("the connection is still open after a write that timed out")
		}
	})
}

// TestNoDeadlineLeftBehind checks that a ping's write deadline does not
// outlive it: a frame sent after it has passed goes out.
func TestNoDeadlineLeftBehind(t *testing.T) {
	sent := make(chan error, 1)
	url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
		c.SetWriteTimeout(50 * time.Millisecond)
		if err := c.Ping(); err != nil {
			sent <- err
			return
		}
		time.Sleep(200 * time.Millisecond) // the ping's deadline passes
		sent <- c.Send(&ocpp.CallResult{ID: "m", Payload: json.RawMessage(`{}`)})
		c.Read()
	}})
	ws := dialTCP(t, url+"/ocpp/CS1")
	_, data, err := ws.ReadMessage() // the ping is answered inside
	require.NoError(t, err)
	assert.Equal(t, `[3,"m",{}]`, string(data))
	require.NoError(t, <-sent, "a Send after a Ping whose write deadline had passed")
}

// TestNoDataAfterClose checks that once a close frame has gone out (here
// the answer to the station's), Send refuses, as RFC 6455 §5.5.1 says.
func TestNoDataAfterClose(t *testing.T) {
	sent := make(chan error, 1)
	url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
		if _, _, err := c.ReadFrame(); err == nil {
			sent <- errors.New("ReadFrame returned a frame, want the station's close")
			return
		}
		sent <- c.Send(&ocpp.CallResult{ID: "m", Payload: json.RawMessage(`{}`)})
	}})
	ws := dialTCP(t, url+"/ocpp/CS1")
	require.NoError(t, ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")))
	require.ErrorIs(t, <-sent, websocket.ErrCloseSent, "a Send after the server answered the station's close")
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce, "the station reads the server's close, and nothing before it")
}

// TestPingsLeaveAnIdleStationWaitingOutsideTheReader checks that a ping
// from the station, and a pong to the server's, are handled where an idle
// station waits, which stays outside gorilla's reader.
func TestPingsLeaveAnIdleStationWaitingOutsideTheReader(t *testing.T) {
	ponged := make(chan struct{}, 1)
	conns := make(chan *wsconn.Conn, 1)
	url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
		c.OnPong(func() { ponged <- struct{}{} })
		conns <- c
		echo(c)
	}})
	ws := dialTCP(t, url+"/ocpp/CS1")
	got := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { got <- data; return nil })
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil { // answers the server's pings
				return
			}
		}
	}()
	c := <-conns

	require.NoError(t, ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)))
	select {
	case data := <-got:
		assert.Equal(t, "are you there", data, "the pong carries the ping's data")
	case <-time.After(10 * time.Second):
		t.Fatal("the station's ping was not answered within 10 s")
	}
	require.NoError(t, c.Ping())
	select {
	case <-ponged:
	case <-time.After(10 * time.Second):
		t.Fatal("the station's pong did not run OnPong's function within 10 s")
	}
	stack := parkedIn(t)
	assert.True(t, strings.Contains(stack, "wsconn.(*Conn).waitReadable") && !strings.Contains(stack, "gorilla/websocket"),
		"after a ping and a pong, an idle station's goroutine should wait in Conn.waitReadable again:\n%s", stack)
}

// TestNoDeadlineLeftByAWaitedSend checks that a Send that had to wait for
// the station (and so set a write deadline) leaves none behind: a Send
// after that deadline has passed goes out. (From a review by a helper.)
func TestNoDeadlineLeftByAWaitedSend(t *testing.T) {
	sent := make(chan error, 2)
	next := make(chan struct{})
	url := serveTCP(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
		c.SetWriteTimeout(300 * time.Millisecond)
		big := json.RawMessage(`"` + strings.Repeat("x", 4<<20) + `"`)
		sent <- c.Send(&ocpp.CallResult{ID: "big", Payload: big}) // more than the socket takes: it waits
		<-next
		sent <- c.Send(&ocpp.CallResult{ID: "m", Payload: json.RawMessage(`{}`)})
		c.Read()
	}})
	ws := dialTCP(t, url+"/ocpp/CS1")
	time.Sleep(100 * time.Millisecond) // the server's write fills the socket and waits
	_, _, err := ws.ReadMessage()
	require.NoError(t, err)
	require.NoError(t, <-sent)
	time.Sleep(400 * time.Millisecond) // past the wait's deadline
	close(next)
	require.NoError(t, <-sent, "a Send after one that waited, once its deadline had passed")
}
