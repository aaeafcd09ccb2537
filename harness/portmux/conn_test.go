package portmux

import (
	"io"
	"testing"
	"testing/synctest"
	"unsafe"

	"github.com/ocppkata/kata/harness/memnet"
)

// An upgraded connection drops what only its handshake needed, whichever
// of the server's two steps comes last (reading the replayed request,
// answering 101), and still counts its station until it is closed.
func TestUpgradedConnectionDropsItsHandshake(t *testing.T) {
	const request = "GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\n\r\n"
	const answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	tests := []struct {
		name        string
		answerFirst bool
	}{
		{"read, then answered", false},
		{"answered, then read", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := memnet.Listen()
				m := New(l, Options{})
				served := make(chan error, 1)
				go func() { served <- m.Serve() }()
				t.Cleanup(func() {
					m.Close()
					if err := <-served; err != nil {
						t.Errorf("Serve after Close: %v", err)
					}
				})
				client, err := l.Dial(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close() })
				go io.Copy(io.Discard, client)
				if _, err := io.WriteString(client, request); err != nil {
					t.Fatal(err)
				}
				accepted, err := m.Stations().Accept()
				if err != nil {
					t.Fatal(err)
				}
				c := accepted.(*conn)
				steps := []func(){
					func() { // the server reads the request the Mux replays
						buf := make([]byte, len(request))
						if _, err := io.ReadFull(c, buf); err != nil {
							t.Fatal(err)
						}
					},
					func() {
						if _, err := io.WriteString(c, answer); err != nil {
							t.Fatal(err)
						}
					},
				}
				if tt.answerFirst {
					steps[0], steps[1] = steps[1], steps[0]
				}
				steps[0]()
				if c.hs.Load() == nil {
					t.Fatal("the handshake's state dropped before the server both read the request and answered 101")
				}
				steps[1]()
				if hs := c.hs.Load(); hs != nil {
					t.Errorf("upgraded and replayed, the connection keeps its handshake's state: %+v", hs)
				}
				if c.PassThrough() == nil {
					t.Error("upgraded and replayed, the connection does not pass through")
				}
				if !m.IsConnected("CS1") {
					t.Error("upgraded, CS1 does not count as connected")
				}
				if open, waiting := m.Open(); open != 1 || waiting != 0 {
					t.Errorf("Open() = %d, %d; want 1 connection, none waiting", open, waiting)
				}
				// WebSocket from now on, both ways, through the bare connection.
				if _, err := c.Write([]byte{0x88, 0}); err != nil {
					t.Errorf("write after the upgrade: %v", err)
				}
				c.Close()
				c.Close() // idempotent: counted out once
				synctest.Wait()
				if m.IsConnected("CS1") {
					t.Error("closed, CS1 still counts as connected")
				}
				if open, waiting := m.Open(); open != 0 || waiting != 0 {
					t.Errorf("closed: Open() = %d, %d; want 0, 0", open, waiting)
				}
			})
		})
	}
}

// A station's id is a copy, not a part of the request line it came in:
// the Mux keeps it as long as the connection.
func TestStationIDIsACopy(t *testing.T) {
	for _, path := range []string{"/ocpp/CS1", "/ocpp/CS%201", "/ocpp/CS%zz"} {
		id := stationID(path)
		if id != "" && within(id, path) {
			t.Errorf("stationID(%q) = %q shares the path's memory", path, id)
		}
	}
}

// within reports whether s's bytes lie within those of whole.
func within(s, whole string) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	start := uintptr(unsafe.Pointer(unsafe.StringData(whole)))
	return p >= start && p < start+uintptr(len(whole))
}

func TestUpgradedConnFits64Bytes(t *testing.T) {
	// What the Mux keeps of an idle station's connection, once its
	// handshake's state is dropped: 10,000 idle stations pay for each
	// byte past a size class 10,000 times.
	if size := unsafe.Sizeof(conn{}); size > 64 {
		t.Errorf("a routed connection is %d bytes, want at most 64", size)
	}
}
