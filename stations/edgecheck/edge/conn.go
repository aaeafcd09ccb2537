package edge

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// A conn is one connection of the check to the server. A goroutine reads
// it all along, so that waiting for an answer can time out without ending
// the connection (a gorilla connection whose read timed out can read no
// more), and a Heartbeat can still be tried after a silence.
type conn struct {
	ws      *websocket.Conn
	timeout time.Duration
	replies chan Reply    // what the reader read; closed after the final one
	done    chan struct{} // closed by close: the reader stops delivering
	ended   chan struct{} // closed when the reader has returned
	last    Reply         // the final reply, once received
	over    bool          // the final reply was received
	seq     int           // for the ids of the check's own calls
}

// Protocol returns the subprotocol the server agreed to in its handshake,
// "" if it sent none.
func (c *conn) Protocol() string { return c.ws.Subprotocol() }

// dialer opens the check's connections: as a station, over the checker's
// network, with or without credentials.
type dialer struct {
	url     string // the endpoint; the station's id is appended
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	tls     *tls.Config // for wss; nil: the system's roots
}

// A handshakeError is a handshake the server did not complete with 101.
type handshakeError struct {
	status int    // the HTTP status, 0 if no HTTP answer came
	err    error  // the dial's error
	auth   string // the WWW-Authenticate header of a 401
}

func (e *handshakeError) Error() string {
	if e.status == 0 {
		return fmt.Sprintf("cannot connect: %v", e.err)
	}
	return fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
}

func (e *handshakeError) Unwrap() error { return e.err }

// open connects as station id, offering protocols (none if nil), with
// HTTP Basic credentials if key is not nil. A handshake that does not end
// in 101 is a *handshakeError.
func (d *dialer) open(ctx context.Context, id string, protocols []string, key *string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	wd := websocket.Dialer{NetDialContext: d.dial, Subprotocols: protocols, HandshakeTimeout: d.timeout, TLSClientConfig: d.tls}
	header := http.Header{}
	if key != nil {
		header.Set("Authorization", basicAuth(id, *key))
	}
	ws, resp, err := wd.DialContext(ctx, stationURL(d.url, id), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		he := &handshakeError{err: err}
		if resp != nil {
			he.status = resp.StatusCode
			he.auth = resp.Header.Get("WWW-Authenticate")
		}
		return nil, he
	}
	c := &conn{
		ws:      ws,
		timeout: d.timeout,
		replies: make(chan Reply),
		done:    make(chan struct{}),
		ended:   make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// basicAuth returns the Authorization header of HTTP Basic credentials:
// the station's id as the user name, its key as the password (OCPP 1.6
// security profile 1).
func basicAuth(id, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+key))
}

// stationURL appends the station's id to the endpoint, escaped.
func stationURL(endpoint, id string) string {
	return strings.TrimSuffix(endpoint, "/") + "/" + url.PathEscape(id)
}

// read delivers each frame the server sends, until the connection ends.
func (c *conn) read() {
	defer close(c.ended)
	defer close(c.replies)
	for {
		kind, data, err := c.ws.ReadMessage()
		r := classify(kind, data, err)
		select {
		case c.replies <- r:
		case <-c.done:
			return
		}
		if r.final() {
			return
		}
	}
}

// next returns the next reply that is not a CALL of the server's own
// (the check answers to nothing), Silence if none comes within the
// timeout, or the final reply again once the connection is over.
func (c *conn) next() Reply {
	if c.over {
		return c.last
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-c.replies:
			if !ok {
				return c.last
			}
			if r.Kind == ServerCall {
				continue
			}
			if r.final() {
				c.last, c.over = r, true
			}
			return r
		case <-timer.C:
			return Reply{Kind: Silence}
		}
	}
}

// send writes one frame of the given gorilla message type.
func (c *conn) send(kind int, data []byte) error {
	c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := c.ws.WriteMessage(kind, data); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// sendText writes a text frame.
func (c *conn) sendText(frame string) error { return c.send(websocket.TextMessage, []byte(frame)) }

// writeRaw writes bytes as they are on the connection, under the
// WebSocket layer: a frame made by hand, or a piece of one.
func (c *conn) writeRaw(p []byte) error {
	nc := c.ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := nc.Write(p); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// heartbeat sends a Heartbeat and returns what answered it.
func (c *conn) heartbeat() (Reply, string) {
	c.seq++
	id := fmt.Sprintf("hb-%d", c.seq)
	if err := c.sendText(`[2,"` + id + `","Heartbeat",{}]`); err != nil {
		// The server may have closed the connection: its close frame
		// says why better than the failed write.
		if r := c.next(); r.final() {
			return r, id
		}
		return Reply{Kind: Dropped, Reason: err.Error()}, id
	}
	return c.next(), id
}

// served reports whether the connection still serves a station: a
// Heartbeat sent on it is answered. It says what happened.
func (c *conn) served() (bool, string) {
	r, id := c.heartbeat()
	if r.Kind == CallResult && r.ID == id {
		return true, "Heartbeat answered"
	}
	return false, "Heartbeat: " + r.String()
}

// close ends the connection the way RFC 6455 §7 asks, with a close frame,
// and waits a moment for the server's, so that the server has let the
// station go before the next case connects as it.
func (c *conn) close() {
	if !c.over {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "edge check done")
		if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.timeout)) == nil {
			for range 8 { // at most a few frames still on their way
				if r := c.next(); r.final() || r.Kind == Silence {
					break
				}
			}
		}
	}
	close(c.done)
	c.ws.Close()
	<-c.ended
}
