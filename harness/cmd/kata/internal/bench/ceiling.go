package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
)

// RunBenchCeiling is make bench's ceiling, a hidden command that the bench
// runs as a child process of its own: a bare gorilla/websocket responder
// that answers every CALL at once with the same CALLRESULT. It validates
// nothing, keeps no state and no order, so whatever it reaches is what the
// WebSocket and the machine allow. It ends when its stdin closes, which is
// when the bench that started it ends.
func RunBenchCeiling(args []string) error {
	fs := base.NewFlags("bench-ceiling", "-addr A")
	addr := fs.String("addr", "127.0.0.1:0", "the address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	srv := &http.Server{Handler: ceiling(), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}

// ceiling is the ceiling's handler: a WebSocket upgrade (ocpp1.6) answered
// by the responder, anything else by a line saying what this is.
func ceiling() http.Handler {
	up := websocket.Upgrader{
		Subprotocols: []string{"ocpp1.6"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			fmt.Fprintln(w, "the bench's ceiling: a bare WebSocket responder")
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var reply []byte
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			id, ok := callID(msg)
			if !ok {
				continue // not a CALL: nothing to answer
			}
			reply = append(append(append(reply[:0], `[3,"`...), id...), ceilingResult...)
			if err := ws.WriteMessage(websocket.TextMessage, reply); err != nil {
				return
			}
		}
	})
}

// ceilingResult closes every answer of the ceiling: a Heartbeat's
// CALLRESULT, the same each time.
const ceilingResult = `",{"currentTime":"2026-01-01T00:00:00.000Z"}]`

// callID finds the message id of a CALL, [2,"id",...], by looking for its
// quotes alone: the ceiling parses no more than it must to answer.
func callID(msg []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimLeft(msg, " \t\r\n"), []byte("[2"))
	if !ok {
		return nil, false
	}
	open := bytes.IndexByte(rest, '"')
	if open < 0 {
		return nil, false
	}
	end := bytes.IndexByte(rest[open+1:], '"')
	if end < 0 {
		return nil, false
	}
	return rest[open+1 : open+1+end], true
}
