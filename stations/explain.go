package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
	err, rawURL := st.Err, st.Endpoint
	if rawURL == "" {
		rawURL = c.urls[0]
	}
	serveHint := serveHint(rawURL)
	var dns *net.DNSError
	var hs *station.HandshakeError
	var unknownCA x509.UnknownAuthorityError
	var wrongHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var notTLS tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA):
		hint := "give the stations the CA that signed the server's certificate: make stations CA=certs/ca.pem (make certs writes it)"
		if c.caFile != "" {
			hint = "the server's certificate is not signed by " + c.caFile + ": give the stations the CA that signed TLS_CERT"
		}
		return "the stations do not trust the server's certificate (signed by an unknown authority)", hint
	case errors.As(err, &wrongHost):
		return "the server's certificate is not for " + wrongHost.Host,
			"connect to a host it names (" + certNames(wrongHost.Certificate) + "), or make one for this host: make certs HOSTS=" + wrongHost.Host
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the server's certificate has expired, or is not valid yet", "make certs makes a new one; is this machine's clock right?"
	case err != nil && strings.Contains(err.Error(), "remote error: tls: "):
		return "the server refused the station's certificate in the TLS handshake (" + err.Error() + ")",
			"give each station a certificate of the CA the server checks (TLS_CLIENT_CA), valid now and with its id as CN: make certs STATIONS=N, then make stations CERTS=certs/stations"
	case errors.As(err, &notTLS):
		return "the server does not speak TLS", "use a ws:// URL, or start the server with TLS_CERT and TLS_KEY"
	case errors.As(err, &hs) && hs.StatusCode == http.StatusBadRequest && (strings.Contains(hs.Reason, "speaks TLS") || strings.Contains(hs.Reason, "HTTPS server")):
		return "the server speaks TLS and the stations did not", "use a wss:// URL, with CA=FILE for a server whose certificate make certs made"
	case errors.As(err, &hs) && hs.StatusCode == http.StatusForbidden:
		why := "the server refused the station: HTTP " + hs.Status
		if hs.Reason != "" {
			why += " (" + hs.Reason + ")"
		}
		return why, "under OCPP security profile 3 each station presents a certificate whose CN is its id: make certs STATIONS=N, then make stations CERTS=certs/stations"
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

// certNames lists the names and addresses a certificate is for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "see its subject alternative names"
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "none: it has no subject alternative name"
	}
	return strings.Join(names, ", ")
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
