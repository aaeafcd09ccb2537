package wsconn_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The detached reading (Detach, NextFrame) is held to ReadFrame's: for the
// same bytes from a station, the same frames, the same errors, and the
// same bytes back on the wire, however the bytes are cut.

// clientFrame returns a frame as a station sends it: first byte b0 (FIN,
// RSV bits, opcode), masked with a key that is not zero.
func clientFrame(b0 byte, payload []byte) []byte {
	f := frameHeader(b0, 0x80, len(payload))
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// unmaskedFrame returns a frame without a mask, as only a server may send.
func unmaskedFrame(b0 byte, payload []byte) []byte {
	return append(frameHeader(b0, 0, len(payload)), payload...)
}

// frameHeader returns a frame's first bytes, its length in the shortest
// form RFC 6455 §5.2 allows.
func frameHeader(b0, mask byte, n int) []byte {
	switch {
	case n < 126:
		return []byte{b0, mask | byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{b0, mask | 126}, uint16(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{b0, mask | 127}, uint64(n))
	}
}

const (
	finText, finBinary, finCont = 0x81, 0x82, 0x80
	firstText, moreCont         = 0x01, 0x00
	finClose, finPing, finPong  = 0x88, 0x89, 0x8a
)

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// A wireCase is what a station sends, whole.
type wireCase struct {
	name  string
	sent  []byte
	limit int64 // SetReadLimit's, if not zero
}

func wireCases() []wireCase {
	pad := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	hb := []byte(`[2,"hb-1","Heartbeat",{}]`)
	return []wireCase{
		{name: "text", sent: clientFrame(finText, hb)},
		{name: "binary", sent: clientFrame(finBinary, []byte{0xff, 0x00, 0x7f})},
		{name: "empty text", sent: clientFrame(finText, nil)},
		{name: "empty binary", sent: clientFrame(finBinary, nil)},
		{name: "125 bytes", sent: clientFrame(finText, pad(125))},
		{name: "126 bytes", sent: clientFrame(finText, pad(126))},
		{name: "65535 bytes", sent: clientFrame(finText, pad(65535))},
		{name: "65536 bytes", sent: clientFrame(finText, pad(65536))},
		{name: "three frames then half a fourth", sent: cat(clientFrame(finText, []byte("a")), clientFrame(finBinary, []byte("bb")),
			clientFrame(finText, hb), clientFrame(finText, hb)[:10])},
		{name: "fragmented with a ping between", sent: cat(clientFrame(firstText, []byte("ab")), clientFrame(finPing, []byte("p")),
			clientFrame(moreCont, []byte("cd")), clientFrame(finCont, []byte("ef")), clientFrame(finText, []byte("after")))},
		{name: "fragmented binary with empty fragments", sent: cat(clientFrame(0x02, nil), clientFrame(moreCont, []byte{0}),
			clientFrame(finCont, nil))},
		{name: "ping", sent: cat(clientFrame(finPing, []byte("are you there")), clientFrame(finText, hb))},
		{name: "empty ping", sent: cat(clientFrame(finPing, nil), clientFrame(finText, []byte("a")))},
		{name: "pong", sent: cat(clientFrame(finPong, []byte("x")), clientFrame(finText, hb), clientFrame(finPong, nil))},
		{name: "close with code and reason", sent: cat(clientFrame(finText, hb), clientFrame(finClose, closePayload(1000, "bye")),
			clientFrame(finText, hb))},
		{name: "close without a code", sent: clientFrame(finClose, nil)},
		{name: "close with one byte", sent: clientFrame(finClose, []byte{3})},
		{name: "close in a fragmented message", sent: cat(clientFrame(firstText, []byte("ab")), clientFrame(finClose, closePayload(1001, "")))},
		{name: "over the limit", limit: 16, sent: cat(clientFrame(finText, pad(16)), clientFrame(finText, pad(17)))},
		{name: "over the limit from the header alone", limit: 16, sent: append(frameHeader(finText, 0x80, 1<<20), 1, 2, 3, 4)},
		{name: "fragments over the limit", limit: 16, sent: cat(clientFrame(firstText, pad(10)), clientFrame(finPing, nil),
			clientFrame(finCont, pad(10)))},
		{name: "the third fragment over the limit", limit: 16, sent: cat(clientFrame(firstText, pad(6)), clientFrame(moreCont, pad(6)),
			clientFrame(finCont, pad(6)))},
		{name: "a 64-bit length with its top bit set", sent: append(binary.BigEndian.AppendUint64([]byte{finText, 0x80 | 127}, 1<<63), 1, 2, 3, 4)},
		{name: "unmasked", sent: cat(clientFrame(finText, hb), unmaskedFrame(finText, hb))},
		{name: "RSV1 set", sent: clientFrame(finText|0x40, hb)},
		{name: "RSV2 and RSV3 set", sent: clientFrame(finText|0x30, hb)},
		{name: "bad opcode", sent: clientFrame(0x83, hb)},
		{name: "every problem at once", sent: unmaskedFrame(0x7b, hb)},
		{name: "fragmented ping", sent: clientFrame(0x09, []byte("p"))},
		{name: "control frame over 125 bytes", sent: clientFrame(finPing, pad(126))},
		{name: "continuation with no message", sent: clientFrame(finCont, []byte("x"))},
		{name: "a new message before the last fragment", sent: cat(clientFrame(firstText, []byte("a")), clientFrame(finText, []byte("b")))},
		{name: "close code not allowed", sent: clientFrame(finClose, closePayload(1005, ""))},
		{name: "close code out of range", sent: clientFrame(finClose, closePayload(999, "x"))},
		{name: "close code for applications", sent: clientFrame(finClose, closePayload(4000, "app"))},
		{name: "close reason not UTF-8", sent: clientFrame(finClose, closePayload(1000, "\xff"))},
	}
}

// A wireOutcome is what a connection made of a station's bytes: what
// the reader returned (frames, OnPong's calls, its error), in order, and
// the bytes the station got back.
type wireOutcome struct {
	read []string
	wire []byte
}

func frameEvent(data []byte, binary bool) string {
	kind := "text"
	if binary {
		kind = "binary"
	}
	if len(data) > 64 {
		return fmt.Sprintf("%s of %d bytes, sha256 %x", kind, len(data), sha256.Sum256(data))
	}
	return fmt.Sprintf("%s %q", kind, data)
}

// station runs a server whose Handle reads with read, connects a station
// to it, and returns what came of it. write, if not nil, sends the
// station's bytes.
func station(t *testing.T, tc wireCase, write func(raw net.Conn), read func(c *wsconn.Conn, record func(string))) wireOutcome {
	var out wireOutcome
	synctest.Test(t, func(t *testing.T) {
		events := make(chan string, 64)
		start := make(chan struct{})
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			<-start // the station reads the wire, not gorilla's client
			if tc.limit > 0 {
				c.SetReadLimit(tc.limit)
			}
			c.OnPong(func() { events <- "pong" })
			read(c, func(e string) { events <- e })
		}}
		l := memnet.Listen()
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		raw := mustDial(t, l, "/ocpp/CS1").NetConn()
		wire := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(raw)
			wire <- b
		}()
		close(start)
		if write != nil {
			go write(raw)
		}
		synctest.Wait() // the server has read all it can
	collect:
		for {
			select {
			case e := <-events:
				out.read = append(out.read, e)
			default:
				break collect
			}
		}
		require.NoError(t, s.Close())
		out.wire = <-wire
		require.NoError(t, <-served)
	})
	return out
}

// readFrames reads with ReadFrame, as steps 01–10 do.
func readFrames(c *wsconn.Conn, record func(string)) {
	for {
		data, binary, err := c.ReadFrame()
		if err != nil {
			record("error: " + err.Error())
			_, _, err = c.ReadFrame()
			record("again: " + err.Error())
			return
		}
		record(frameEvent(data, binary))
	}
}

// nextFrames detaches c and gives NextFrame the chunks one after the
// other, as a reader that reads them from the socket would.
func nextFrames(chunks [][]byte) func(c *wsconn.Conn, record func(string)) {
	return func(c *wsconn.Conn, record func(string)) {
		if early := c.Detach(func() {}); len(early) != 0 {
			record(fmt.Sprintf("early bytes %q", early))
		}
		var buf []byte
		for _, chunk := range chunks {
			buf = append(buf, chunk...)
			for {
				data, binary, rest, err := c.NextFrame(buf)
				buf = rest
				if err != nil {
					record("error: " + err.Error())
					_, _, _, err = c.NextFrame(append(buf, clientFrame(finText, []byte("late"))...))
					record("again: " + err.Error())
					c.Close() // as ReadFrame's Handle returning does
					return
				}
				if data == nil {
					break // read more
				}
				record(frameEvent(data, binary))
			}
		}
	}
}

// cuts returns the ways the case's bytes are cut into reads: whole, a
// byte at a time, and in two at every offset (for a long case, at every
// offset within 24 bytes of either end, where its frames' headers are, and
// in the middle).
func cuts(sent []byte) map[string][][]byte {
	ways := map[string][][]byte{"whole": {sent}}
	bytewise := make([][]byte, len(sent))
	for i := range sent {
		bytewise[i] = sent[i : i+1]
	}
	ways["a byte at a time"] = bytewise
	for i := 1; i < len(sent); i++ {
		if len(sent) > 1024 && i > 24 && i < len(sent)-24 && i != len(sent)/2 {
			continue
		}
		ways[fmt.Sprintf("cut at %d", i)] = [][]byte{sent[:i], sent[i:]}
	}
	return ways
}

func TestNextFrameReadsAsReadFrame(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := station(t, tc, func(raw net.Conn) { raw.Write(tc.sent) }, readFrames)
			require.NotEmpty(t, want.read, "ReadFrame read nothing: the case tests nothing")
			for way, chunks := range cuts(tc.sent) {
				got := station(t, tc, nil, nextFrames(chunks))
				// ReadFrame, still waiting for the rest, returned no error.
				require.Equal(t, want.read, got.read, "NextFrame's frames and error, the bytes given %s", way)
				require.Equal(t, want.wire, got.wire, "what the station got back, the bytes given %s", way)
			}
		})
	}
}

// detached serves stations whose Handle detaches the connection and
// returns; each connection comes out on the channel, and each call of its
// wake is counted.
type detached struct {
	s     *wsconn.Server
	l     *memnet.Listener
	conns chan *wsconn.Conn
	wakes atomic.Int32
	logs  *syncBuffer
}

// serveDetached starts the server; before, if not nil, runs in Handle
// before Detach.
func serveDetached(t *testing.T, before func(c *wsconn.Conn)) *detached {
	t.Helper()
	d := &detached{conns: make(chan *wsconn.Conn, 1), logs: new(syncBuffer)}
	d.s = &wsconn.Server{Logger: slog.New(slog.NewTextHandler(d.logs, nil)), Handle: func(c *wsconn.Conn) {
		if before != nil {
			before(c)
		}
		if early := c.Detach(func() { d.wakes.Add(1) }); early != nil {
			t.Errorf("Detach returned %q: nothing was read before it", early)
		}
		d.conns <- c
	}}
	d.l = serve(t, d.s)
	return d
}

func (d *detached) disconnects() int {
	return strings.Count(d.logs.String(), `msg="station disconnected"`)
}

// heartbeat is a station's Heartbeat, as it comes off the wire.
var heartbeat = clientFrame(finText, []byte(`[2,"hb-1","Heartbeat",{}]`))

func TestDetachedConnectionStaysOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := serveDetached(t, nil)
		ws := mustDial(t, d.l, "/ocpp/CS1")
		c := <-d.conns
		synctest.Wait() // Handle has returned
		require.Equal(t, 1, d.s.Conns(), "a detached connection is counted")
		select {
		case <-c.Done():
			t.Fatal("the connection was closed when Handle returned")
		default:
		}
		sent := make(chan error, 1)
		go func() { sent <- c.Send(&ocpp.CallResult{ID: "hb-1", Payload: []byte(`{}`)}) }()
		require.Equal(t, "hb-1", next(t, ws).MessageID())
		require.NoError(t, <-sent)

		_, _, err := c.ReadFrame()
		require.Error(t, err, "ReadFrame after Detach")
		_, err = c.Read()
		require.Error(t, err, "Read after Detach")
		data, _, rest, err := c.NextFrame(heartbeat)
		require.NoError(t, err)
		require.Equal(t, `[2,"hb-1","Heartbeat",{}]`, string(data))
		require.Empty(t, rest)
		require.Zero(t, d.wakes.Load(), "wake was called with nothing to report")
		require.Zero(t, d.disconnects())
	})
}

func TestClosingADetachedConnection(t *testing.T) {
	// However the server's side closes it, a detached connection's reader
	// is woken, NextFrame says so, and the Server forgets it, once.
	tests := []struct {
		name  string
		close func(s *wsconn.Server, c *wsconn.Conn)
		says  func(t *testing.T, wire error) // what the station reads, if it reads before the close
	}{
		{"Conn.Close", func(s *wsconn.Server, c *wsconn.Conn) { c.Close() }, nil},
		{"CloseWith", func(s *wsconn.Server, c *wsconn.Conn) { c.CloseWith(wsconn.ClosePolicyViolation, "replaced") },
			func(t *testing.T, err error) {
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, wsconn.ClosePolicyViolation, ce.Code)
			}},
		{"Server.Close", func(s *wsconn.Server, c *wsconn.Conn) { require.NoError(t, s.Close()) }, nil},
		{"a Send that failed", func(s *wsconn.Server, c *wsconn.Conn) {
			c.SetWriteTimeout(time.Second) // the station is not reading yet
			require.Error(t, c.Send(&ocpp.CallResult{ID: "x", Payload: []byte(`{}`)}))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := serveDetached(t, nil)
				ws := mustDial(t, d.l, "/ocpp/CS1")
				c := <-d.conns
				synctest.Wait()
				read := make(chan error, 1)
				if tt.says != nil {
					go func() { _, _, err := ws.ReadMessage(); read <- err }()
				}
				tt.close(d.s, c)
				synctest.Wait()
				require.Equal(t, int32(1), d.wakes.Load(), "wake calls")
				if tt.says != nil {
					tt.says(t, <-read)
				}
				_, _, err := ws.ReadMessage()
				require.Error(t, err, "the station's connection is still open")
				_, _, rest, err := c.NextFrame(heartbeat[:3])
				require.ErrorIs(t, err, net.ErrClosed, "NextFrame after the close")
				require.Equal(t, heartbeat[:3], rest)
				require.Zero(t, d.s.Conns())
				require.NoError(t, d.s.Close())
				require.Equal(t, 1, d.disconnects(), `"station disconnected" logged`)
				require.Equal(t, int32(1), d.wakes.Load(), "wake calls after Server.Close")
			})
		})
	}
}

func TestStopReadingADetachedConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := serveDetached(t, nil)
		ws := mustDial(t, d.l, "/ocpp/CS1")
		c := <-d.conns
		synctest.Wait()
		d.s.StopReading()
		require.Equal(t, int32(1), d.wakes.Load(), "wake calls")
		_, _, rest, err := c.NextFrame(heartbeat)
		require.ErrorIs(t, err, wsconn.ErrStopped, "with a whole frame in the bytes")
		require.Equal(t, heartbeat, rest)
		require.ErrorIs(t, c.SetReadDeadline(time.Now().Add(time.Hour)), wsconn.ErrStopped)
		sent := make(chan error, 1)
		go func() { sent <- c.Send(&ocpp.CallResult{ID: "hb-1", Payload: []byte(`{}`)}) }()
		require.Equal(t, "hb-1", next(t, ws).MessageID(), "an answer after StopReading")
		require.NoError(t, <-sent)
		require.Equal(t, 1, d.s.Conns())
	})
}

func TestDetachAfterStopOrClose(t *testing.T) {
	// A reader that detaches a connection already stopped or closed is
	// woken before Detach returns.
	tests := []struct {
		name string
		do   func(s *wsconn.Server, c *wsconn.Conn)
		want error
	}{
		{"StopReading", func(s *wsconn.Server, c *wsconn.Conn) { s.StopReading() }, wsconn.ErrStopped},
		{"Close", func(s *wsconn.Server, c *wsconn.Conn) { c.Close() }, net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s *wsconn.Server
				woken := make(chan bool, 1)
				s = &wsconn.Server{Handle: func(c *wsconn.Conn) {
					tt.do(s, c)
					var returned atomic.Bool
					c.Detach(func() { woken <- !returned.Load() })
					returned.Store(true)
					_, _, _, err := c.NextFrame(nil)
					assert.ErrorIs(t, err, tt.want)
				}}
				l := serve(t, s)
				mustDial(t, l, "/ocpp/CS1")
				require.True(t, <-woken, "wake was not called before Detach returned")
				synctest.Wait()
				if tt.want == net.ErrClosed {
					require.Zero(t, s.Conns(), "a detached connection closed before Detach is still counted")
				}
			})
		})
	}
}

func TestDetachedReadDeadline(t *testing.T) {
	// The read deadline of a detached connection is a timer's: wake at the
	// deadline, and not before; then NextFrame's timeout. In fake time.
	partial := heartbeat[:5]
	tests := []struct {
		name     string
		before   func(c *wsconn.Conn) // in Handle, before Detach
		after    func(t *testing.T, c *wsconn.Conn)
		deadline time.Duration // when wake comes, from Detach
		never    bool          // no wake comes
	}{
		{name: "set after Detach", deadline: 10 * time.Second, after: func(t *testing.T, c *wsconn.Conn) {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		}},
		{name: "set before Detach", deadline: 10 * time.Second, before: func(c *wsconn.Conn) {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
		}},
		{name: "moved later before it passed", deadline: 25 * time.Second, after: func(t *testing.T, c *wsconn.Conn) {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			time.Sleep(5 * time.Second)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
		}},
		{name: "moved earlier", deadline: 3 * time.Second, after: func(t *testing.T, c *wsconn.Conn) {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
		}},
		{name: "cleared", never: true, after: func(t *testing.T, c *wsconn.Conn) {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			require.NoError(t, c.SetReadDeadline(time.Time{}))
		}},
		{name: "already passed", deadline: 0, after: func(t *testing.T, c *wsconn.Conn) {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
		}},
		{name: "pushed back by a pong inside NextFrame", deadline: 14 * time.Second, before: func(c *wsconn.Conn) {
			c.OnPong(func() { c.SetReadDeadline(time.Now().Add(10 * time.Second)) }) // step 09's
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
		}, after: func(t *testing.T, c *wsconn.Conn) {
			time.Sleep(4 * time.Second)
			data, _, rest, err := c.NextFrame(clientFrame(finPong, nil))
			require.NoError(t, err)
			require.Nil(t, data)
			require.Empty(t, rest)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				woken := make(chan time.Time, 10)
				conns := make(chan *wsconn.Conn, 1)
				l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
					if tt.before != nil {
						tt.before(c)
					}
					c.Detach(func() { woken <- time.Now() })
					conns <- c
				}})
				mustDial(t, l, "/ocpp/CS1")
				c := <-conns
				start := time.Now()
				if tt.after != nil {
					tt.after(t, c)
				}
				wait := tt.deadline
				if tt.never {
					wait = time.Hour
				}
				if wait > 0 {
					time.Sleep(wait - time.Since(start) - time.Nanosecond)
					synctest.Wait()
					require.Empty(t, woken, "woken before the deadline")
					data, _, rest, err := c.NextFrame(partial)
					require.NoError(t, err, "NextFrame before the deadline")
					require.Nil(t, data)
					require.Equal(t, partial, rest)
				}
				if tt.never {
					return
				}
				time.Sleep(time.Nanosecond)
				synctest.Wait()
				require.Len(t, woken, 1, "wake calls at the deadline")
				require.Equal(t, tt.deadline, (<-woken).Sub(start).Round(0), "when wake came")
				for _, buf := range [][]byte{partial, nil} {
					_, _, _, err := c.NextFrame(buf)
					var ne net.Error
					require.ErrorAs(t, err, &ne, "NextFrame after the deadline")
					require.True(t, ne.Timeout(), "%v is not a timeout", err)
					require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				}
			})
		})
	}
}

func TestDetachedReadDeadlinesShareATimer(t *testing.T) {
	// The Server's one timer wakes each detached connection at its own
	// deadline, however the deadlines move: later (only stored, looked at
	// again when the timer comes), earlier, or cleared. In fake time.
	synctest.Test(t, func(t *testing.T) {
		type wake struct {
			station string
			after   time.Duration
		}
		woken := make(chan wake, 20) // and the wakes of the Server's Close
		conns := make(chan *wsconn.Conn, 1)
		start := time.Now()
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.Detach(func() { woken <- wake{c.Station(), time.Since(start)} })
			conns <- c
		}})
		cs := make(map[string]*wsconn.Conn)
		for _, id := range []string{"A", "B", "C", "D", "E"} {
			mustDial(t, l, "/ocpp/"+id)
			cs[id] = <-conns
		}
		set := func(id string, d time.Duration) {
			t.Helper()
			var at time.Time
			if d != 0 {
				at = start.Add(d)
			}
			require.NoError(t, cs[id].SetReadDeadline(at))
		}
		set("A", 10*time.Second)
		set("B", 5*time.Second)
		set("C", 20*time.Second)
		set("D", 15*time.Second)
		set("E", 8*time.Second)
		time.Sleep(time.Second)
		set("B", 31*time.Second) // later: the first in the queue
		set("C", 3*time.Second)  // earlier
		set("D", 0)              // cleared
		set("A", 12*time.Second) // later
		set("A", 11*time.Second) // earlier, but after its place in the queue
		time.Sleep(5 * time.Second)
		cs["E"].Close() // woken at its close, not at its deadline
		time.Sleep(time.Hour)
		synctest.Wait()
		var got []wake
		for len(woken) > 0 {
			got = append(got, <-woken)
		}
		require.Equal(t, []wake{{"C", 3 * time.Second}, {"E", 6 * time.Second}, {"A", 11 * time.Second}, {"B", 31 * time.Second}}, got)
	})
}

func TestDetachedHandlePanics(t *testing.T) {
	// A Handle that panics after Detach ends its connection, as any other.
	synctest.Test(t, func(t *testing.T) {
		var wakes atomic.Int32
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.Detach(func() { wakes.Add(1) })
			panic("after Detach")
		}}
		l := memnet.Listen()
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		ws := mustDial(t, l, "/ocpp/CS1")
		_, _, err := ws.ReadMessage()
		require.Error(t, err, "the connection is still open")
		synctest.Wait()
		require.Equal(t, int32(1), wakes.Load(), "wake calls")
		require.Zero(t, s.Conns())
		err = s.Close()
		require.ErrorContains(t, err, "station CS1 panicked: after Detach")
		require.NoError(t, <-served)
	})
}

func TestNextFrameTapAndCopies(t *testing.T) {
	// The Tap sees the text frames NextFrame returns; the frames are
	// copies, and buf is left as it was.
	synctest.Test(t, func(t *testing.T) {
		seen := make(chan string, 10)
		l := memnet.Listen()
		conns := make(chan *wsconn.Conn, 1)
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			c.Detach(func() {})
			conns <- c
		}}
		served := make(chan error, 1)
		go func() { served <- s.Serve(tapped{l, seen}) }()
		t.Cleanup(func() {
			require.NoError(t, s.Close())
			require.NoError(t, <-served)
		})
		mustDial(t, l, "/ocpp/CS1")
		c := <-conns
		_, isTap := c.NetConn().(wsconn.Tap)
		require.True(t, isTap, "NetConn is %T, not the connection the listener gave", c.NetConn())

		buf := cat(clientFrame(finBinary, []byte("bin")), clientFrame(finText, []byte(`[2,"a","Heartbeat",{}]`)))
		sent := bytes.Clone(buf)
		var frames [][]byte
		for rest := buf; len(rest) > 0; {
			var data []byte
			var err error
			data, _, rest, err = c.NextFrame(rest)
			require.NoError(t, err)
			frames = append(frames, data)
		}
		require.Equal(t, sent, buf, "NextFrame changed the bytes it was given")
		clear(buf) // as a reader reusing its buffer
		require.Equal(t, "bin", string(frames[0]))
		require.Equal(t, `[2,"a","Heartbeat",{}]`, string(frames[1]))
		require.Equal(t, `read CS1 [2,"a","Heartbeat",{}]`, <-seen)
		require.Empty(t, seen, "a binary frame is not OCPP-J: the tap is not told of it")
	})
}

// BenchmarkNextFrame takes a station's Heartbeat off a reader's bytes:
// what a detached connection costs for each frame it reads, and what it
// allocates (the frame's copy).
func BenchmarkNextFrame(b *testing.B) {
	l := memnet.Listen()
	conns := make(chan *wsconn.Conn, 1)
	s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		c.Detach(func() {})
		conns <- c
	}}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: []string{wsconn.Subprotocol}}
	ws, _, err := d.Dial("ws://x/ocpp/CS1", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	c := <-conns
	b.SetBytes(int64(len(heartbeat)))
	b.ReportAllocs()
	for b.Loop() {
		data, _, rest, err := c.NextFrame(heartbeat)
		if err != nil || data == nil || len(rest) != 0 {
			b.Fatalf("NextFrame: %q, %v, %d bytes left", data, err, len(rest))
		}
	}
}
