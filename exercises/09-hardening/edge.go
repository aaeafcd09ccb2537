package hardening

import (
	"net/http"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The edge: what the server does where it meets its stations, before and
// around step 08's reader. So far it trusts them all: whoever connects is
// served, whatever they send is read, and a station is waited for as long
// as it takes.

// accept runs for each handshake, before the upgrade. It returns false once
// it has answered the request itself.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) bool {
	return true
}

// serve runs for each station's connection, in the goroutine that reads it.
func (s *Server) serve(conn *wsconn.Conn) {
	s.read(conn)
}

// readMessage returns the next message from l's station.
func (s *Server) readMessage(l *link) (ocpp.Message, error) {
	return l.conn.Read()
}

// secondConnection runs when a station connects while an older connection
// of it is still open: older was its connection, newer is.
func (s *Server) secondConnection(older, newer *link) {}
