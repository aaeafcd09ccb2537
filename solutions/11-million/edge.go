package million

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The edge: what the server does where it meets its stations, before and
// around step 08's reader. Nothing a station sends is trusted: who it says
// it is, how big its frames are, what is in them, whether it is alive,
// whether it reads what it is sent. Every check comes before the resource
// it protects is spent, and no station's fault reaches its neighbours.

// accept runs for each handshake, before the upgrade. With Config.AuthKeys
// set, a station must authenticate with HTTP Basic (OCPP security profile
// 1): its id as the user name, its key as the password. It is checked
// here, before the upgrade, so a station that fails gets a 401 and not a
// WebSocket.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.AuthKeys == nil {
		return true
	}
	station := r.PathValue("station")
	if s.authenticated(station, r.Header.Get("Authorization")) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="OCPP", charset="UTF-8"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return false
}

// authenticated reports whether header is HTTP Basic credentials for the
// station: "identity:key", base64-encoded. An identity may contain ':', so
// the credentials are matched as the identity plus ':' followed by the key,
// not split at the first ':' as Request.BasicAuth does. The key is compared
// in constant time, even for an unknown station, so that timing tells an
// attacker neither the key, nor its length, nor which stations exist.
func (s *Server) authenticated(station, header string) bool {
	scheme, encoded, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") { // RFC 7235: any case
		return false
	}
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return false
	}
	key, known := s.cfg.AuthKeys[station]
	given, ok := strings.CutPrefix(string(decoded), station+":")
	// Compared as hashes, of one length whatever the keys': comparing the
	// keys themselves would end at once when their lengths differ, and so
	// tell the key's length.
	givenSum, keySum := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(key))
	match := subtle.ConstantTimeCompare(givenSum[:], keySum[:]) == 1
	return known && ok && match
}

// serve runs for each station's connection, in a goroutine of its own: the
// one that reads it, unless the poller can watch it.
func (s *Server) serve(conn *wsconn.Conn) {
	// OCPP-J 1.6 §3: a station that did not offer ocpp1.6 gets the
	// handshake completed without it, and then a close. Before anything
	// is read: what it sends is in a protocol we do not speak.
	if conn.Subprotocol() != wsconn.Subprotocol {
		s.refuse(conn, wsconn.CloseProtocolError, "the ocpp1.6 subprotocol is required")
		return
	}
	// Before the first read, or the first frame could be any size.
	conn.SetReadLimit(s.cfg.MaxFrameSize)
	conn.SetWriteTimeout(s.cfg.WriteTimeout)
	if s.watch(conn) {
		return // the poller's readers read it from now on
	}
	k := s.keepAlive(conn)
	defer k.stop()
	s.read(conn)
}

// readMessage returns the next message from l's station. A frame that is
// not OCPP-J never reaches the server: see frameMessage.
func (s *Server) readMessage(l *link) (ocpp.Message, error) {
	for {
		data, binary, err := l.conn.ReadFrame()
		if err != nil {
			s.ended(l.conn, err)
			return nil, err
		}
		msg, err := s.frameMessage(l, data, binary)
		if msg != nil || err != nil {
			return msg, err
		}
	}
}

// frameMessage checks and decodes a data frame from l's station. A
// malformed call whose id can be read gets the CALLERROR it deserves, and
// the station goes on: frameMessage returns neither a message nor an
// error. A frame with no id to answer to, a binary frame or invalid UTF-8
// closes the connection with the status that says why, as RFC 6455 §7.4
// assigns, and returns the error that ends the reader.
func (s *Server) frameMessage(l *link, data []byte, binary bool) (ocpp.Message, error) {
	s.alive(l.conn) // any frame is a sign of life
	switch {
	case binary:
		return nil, s.refuse(l.conn, wsconn.CloseUnsupportedData, "OCPP-J frames are text, not binary")
	case !utf8.Valid(data):
		return nil, s.refuse(l.conn, wsconn.CloseInvalidFramePayloadData, "the frame is not valid UTF-8")
	}
	msg, err := ocpp.Decode(data)
	if err == nil {
		return msg, nil
	}
	return nil, s.malformed(l, err)
}

// malformed deals with a frame that ocpp.Decode refused.
func (s *Server) malformed(l *link, err error) error {
	var fe *ocpp.FrameError
	if !errors.As(err, &fe) {
		return s.refuse(l.conn, wsconn.CloseProtocolError, err.Error())
	}
	s.cfg.Logger.Warn("malformed frame", "station", l.conn.Station(), "err", err)
	answerable := fe.Type != ocpp.TypeCallResult && fe.Type != ocpp.TypeCallError
	switch {
	case fe.ID != "" && answerable:
		return l.conn.Send(ocpp.NewCallError(fe.ID, fe.Code, fe.Reason))
	case fe.BadID != "" && fe.Type == ocpp.TypeCall:
		// An id too long is still the caller's: echo it, so that it
		// knows which call was refused.
		return l.conn.Send(ocpp.NewCallError(fe.BadID, fe.Code, fe.Reason))
	case fe.ID != "":
		// A malformed answer to one of the server's calls: that call
		// fails with it, rather than waiting for its timeout.
		s.calls.answer(l, ocpp.NewCallError(fe.ID, fe.Code, "malformed answer: "+fe.Reason))
		return nil
	}
	return s.refuse(l.conn, wsconn.CloseProtocolError, fe.Reason+": no message id to answer to")
}

// errRefused ends a reader whose station sent what the server refuses.
var errRefused = errors.New("connection closed: the station broke the protocol")

// refuse closes conn with a status code and a reason, and returns the
// error that ends its reader.
func (s *Server) refuse(conn *wsconn.Conn, code int, reason string) error {
	s.cfg.Logger.Warn("station refused", "station", conn.Station(), "close", code, "why", reason)
	conn.CloseWith(code, reason)
	return fmt.Errorf("%w: %s", errRefused, reason)
}

// ended logs why a station's connection ended, when the edge ended it.
func (s *Server) ended(conn *wsconn.Conn, err error) {
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, wsconn.ErrReadLimit):
		s.cfg.Logger.Warn("station refused: frame over MaxFrameSize", "station", conn.Station(), "close", wsconn.CloseMessageTooBig)
	case errors.As(err, &timeout) && timeout.Timeout():
		s.cfg.Logger.Warn("station taken for dead: nothing heard for DeadAfter", "station", conn.Station(), "deadAfter", s.cfg.DeadAfter)
	}
}

// secondConnection runs when a station connects while an older connection
// of it is still open: the newer one takes over and the older is closed.
// Keeping the older would lock the station out whenever its TCP connection
// drops without a close (a modem that loses its carrier leaves it open for
// hours); taking the newer lets anyone who knows the id take the station's
// place, which is why AuthKeys exists. The older connection's cleanup
// belongs to it (calls.disconnect removes only its own link), so its close
// cannot remove the newer one.
func (s *Server) secondConnection(older, newer *link) {
	s.cfg.Logger.Warn("station connected again: the older connection is closed", "station", newer.conn.Station())
	older.conn.CloseWith(wsconn.ClosePolicyViolation, "replaced by a newer connection of the same station")
}

// alive pushes back the moment conn's station is taken for dead.
func (s *Server) alive(conn *wsconn.Conn) {
	conn.SetReadDeadline(time.Now().Add(s.cfg.DeadAfter))
}

// keepAlive pings a station every Config.PingInterval, so that one that
// is alive but quiet answers with a pong; the read deadline, pushed back by
// every frame and every pong, finds the dead. It costs a timer, not a
// goroutine: ten thousand idle stations wake nothing until it fires.
type keepAlive struct {
	conn  *wsconn.Conn
	every time.Duration
	timer *time.Timer
	// busy holds a token while a ping is being written, the timer set or
	// the pings stopped: a channel, so that stop's wait lets fake time
	// pass.
	busy    chan struct{}
	stopped bool // set by stop, with the token held
}

func (s *Server) keepAlive(conn *wsconn.Conn) *keepAlive {
	k := &keepAlive{conn: conn, every: s.cfg.PingInterval, busy: make(chan struct{}, 1)}
	s.alive(conn)
	conn.OnPong(func() { s.alive(conn) })
	k.busy <- struct{}{} // a first ping waits until k.timer is set
	k.timer = time.AfterFunc(k.every, k.ping)
	<-k.busy
	return k
}

// ping runs on the timer. The write timeout bounds it: a station that does
// not read cannot hold it, nor the connection's writes, for longer.
func (k *keepAlive) ping() {
	k.busy <- struct{}{}
	defer func() { <-k.busy }()
	if k.stopped {
		return
	}
	if k.conn.Ping() != nil {
		return // the connection is closed: its reader ends
	}
	k.timer.Reset(k.every)
}

// stop ends the pings, waiting for one being written.
func (k *keepAlive) stop() {
	k.busy <- struct{}{}
	k.stopped = true
	k.timer.Stop()
	<-k.busy
}
