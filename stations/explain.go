package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/ocppkata/kata/stations/station"
)

// serveHint suggests starting a server where the stations dial: make serve
// listens on 127.0.0.1:8080 unless its ADDR says otherwise.
func serveHint(rawURL string) string {
	return "is the server running? try: " + serveCommand(rawURL)
}

// serveCommand is the make serve that listens where rawURL points.
func serveCommand(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "make serve"
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	if addr == "127.0.0.1:8080" {
		return "make serve"
	}
	return "make serve ADDR=" + addr
}

// explain says in a few words why station st could not connect to the
// server that c points to, instead of the chain of wrapped errors a network
// failure comes with, and what to try.
func explain(st station.StationReport, c config) (why, hint string) {
	err, rawURL := st.Err, c.url
	serveHint := serveHint(rawURL)
	var dns *net.DNSError
	var hs *station.HandshakeError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused, nothing is listening there", serveHint
	case errors.As(err, &dns):
		return "unknown host " + dns.Name, "check the host in -url"
	case errors.As(err, &hs) && hs.StatusCode == http.StatusUnauthorized:
		return unauthorized(hs, st.ID, c)
	case errors.As(err, &hs):
		return "the server answered the WebSocket handshake with HTTP " + hs.Status,
			"check the path in -url: stations connect to ws://HOST:PORT/ocpp/{id}"
	case errors.Is(err, station.ErrNoSubprotocol):
		return "the server does not speak " + station.Subprotocol, "is it an OCPP 1.6 server? try: " + serveCommand(rawURL)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timed out", serveHint
	case errors.Is(err, context.Canceled):
		return "interrupted", serveHint
	default:
		return err.Error(), serveHint
	}
}

// unauthorized explains the 401 that station id got: the server checks
// keys (HTTP Basic auth, OCPP security profile 1) and the station sent
// none, or one the server does not hold.
func unauthorized(hs *station.HandshakeError, id string, c config) (why, hint string) {
	switch {
	case c.keysFile != "" && c.keys[id] == "":
		return "the server wants a key, and " + id + " has none in " + c.keysFile + ": HTTP " + hs.Status,
			"add a line " + id + ":key to the file the server was started with, and give the stations the same file"
	case c.keysFile != "":
		return "the server refused their keys: HTTP " + hs.Status,
			"the server checks each station's key: start it and the stations with the same file " +
				"(make serve AUTH_KEYS=" + c.keysFile + "), with a line id:key for every station"
	case c.key != "":
		return "the server refused the key: HTTP " + hs.Status,
			"the server checks each station's key, and KEY is not the one it holds for them: " +
				"give the stations the server's file instead, make stations AUTH_KEYS=FILE"
	default:
		return "the server wants a key and the stations sent none: HTTP " + hs.Status,
			"it was started with AUTH_KEYS=FILE: give the stations the same file, make stations AUTH_KEYS=FILE " +
				"(or KEY=secret, one key for every station)"
	}
}
