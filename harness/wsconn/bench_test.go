package wsconn_test

import (
	"net"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/wsconn"
)

// BenchmarkRoundTrip measures a Heartbeat read and its answer sent, over
// loopback TCP: the work wsconn does for each call of a station, and what
// it allocates (Send encodes into a buffer lent by the Server's pool).
func BenchmarkRoundTrip(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &wsconn.Server{Handle: echo}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	d := websocket.Dialer{Subprotocols: []string{wsconn.Subprotocol}}
	ws, _, err := d.Dial("ws://"+l.Addr().String()+"/ocpp/CS1", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	frame := []byte(`[2,"hb-1","Heartbeat",{}]`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
