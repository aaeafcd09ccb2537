//go:build unix

package wsconn_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// A station as step 11 keeps it: its connection and the bytes read from
// it that make no whole frame yet.
type polled struct {
	c   *wsconn.Conn
	buf []byte
}

// TestDetachedUnderAPoller runs detached connections the way step 11 will:
// Handle registers the socket with a poller and returns; one goroutine
// waits on the poller, reads what is there, takes the whole frames off it
// with NextFrame and answers them. An idle station has no goroutine.
func TestDetachedUnderAPoller(t *testing.T) {
	if !netpoll.Supported {
		t.Skip("no poller on this platform")
	}
	p := netpoll.New()
	woken := make(chan string, 16)
	s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		early := c.Detach(func() { woken <- c.Station() })
		pc, err := p.Add(c.NetConn(), &polled{c: c, buf: early})
		if err != nil {
			t.Errorf("Add: %v", err)
			c.Close()
			return
		}
		// Added, the connection is Handle's until it gives it to the
		// poller.
		if err := pc.Rearm(); err != nil {
			t.Errorf("Rearm: %v", err)
		}
	}}
	url := serveTCP(t, s)

	var loop sync.WaitGroup
	loop.Go(func() {
		ready := make([]*netpoll.Conn, 8)
		chunk := make([]byte, 7) // small, so that frames come in pieces
		for {
			n, err := p.Wait(ready)
			if err != nil {
				return // the poller is closed
			}
			for _, pc := range ready[:n] {
				st := pc.Value().(*polled)
				for {
					k, err := pc.Read(chunk)
					if err != nil {
						break // ErrWouldBlock, or the end: the next NextFrame or Read says
					}
					st.buf = append(st.buf, chunk[:k]...)
				}
				for {
					data, _, rest, err := st.c.NextFrame(st.buf)
					st.buf = rest
					if err != nil || data == nil {
						break
					}
					m, err := ocpp.Decode(data)
					if err == nil {
						st.c.Send(&ocpp.CallResult{ID: m.MessageID(), Payload: []byte(`{}`)})
					}
				}
				if err := pc.Rearm(); err != nil {
					pc.Close()
				}
			}
		}
	})
	t.Cleanup(func() {
		p.Close()
		loop.Wait()
	})

	stations := make([]*websocket.Conn, 3)
	for i := range stations {
		stations[i] = dialTCP(t, url+"/ocpp/CS"+string(rune('1'+i)))
	}
	for round := range 3 {
		for i, ws := range stations {
			id := string(rune('a'+round)) + string(rune('1'+i))
			require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`[2,"`+id+`","Heartbeat",{}]`)))
			require.Equal(t, id, next(t, ws).MessageID())
		}
	}
	require.Equal(t, 3, s.Conns())
	// Every Handle has returned, or is about to: the stations are idle,
	// and no goroutine serves one.
	buf := make([]byte, 1<<20)
	var dump string
	for range 200 {
		if dump = string(buf[:runtime.Stack(buf, true)]); !strings.Contains(dump, "wsconn.(*Server).run") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NotContains(t, dump, "wsconn.(*Server).run", "a goroutine still serves a station after 2 s")

	s.StopReading()
	for range stations {
		st := <-woken
		require.True(t, strings.HasPrefix(st, "CS"), st)
	}
	require.NoError(t, s.Close())
	for range stations {
		<-woken // closed: each reader is woken again
	}
	for _, ws := range stations {
		_, _, err := ws.ReadMessage()
		require.Error(t, err, "a station's connection is still open after Close")
	}
}
