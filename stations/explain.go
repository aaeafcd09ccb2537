package main

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/ocppkata/kata/stations/station"
)

const serveHint = "is the server running? try: make serve"

// explain says in a few words why a station could not connect, instead of
// the chain of wrapped errors a network failure comes with, and what to try.
func explain(err error) (why, hint string) {
	var dns *net.DNSError
	var hs *station.HandshakeError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused, nothing is listening there", serveHint
	case errors.As(err, &dns):
		return "unknown host " + dns.Name, "check the host in -url"
	case errors.As(err, &hs):
		return "the server answered the WebSocket handshake with HTTP " + hs.Status,
			"check the path in -url: stations connect to ws://HOST:PORT/ocpp/{id}"
	case errors.Is(err, station.ErrNoSubprotocol):
		return "the server does not speak " + station.Subprotocol, "is it an OCPP 1.6 server? try: make serve"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timed out", serveHint
	case errors.Is(err, context.Canceled):
		return "interrupted", serveHint
	default:
		return err.Error(), serveHint
	}
}
