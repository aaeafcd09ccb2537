// Package tlsauth is the TLS of make serve and of the simulator: OCPP 1.6's
// security profiles 2 (TLS, with HTTP Basic auth) and 3 (TLS with a client
// certificate per station), as the OCPP 1.6 security whitepaper describes
// them.
//
// [ServerConfig] reads the server's certificate, its key and, for profile
// 3, the CA that signs the stations' certificates, from PEM files, and
// says in plain words what is wrong with them. [CheckStation] is profile
// 3's rule: the certificate a station presented must name it, in its
// subject's common name (CN), which the whitepaper sets to the charge
// point's identity. [ClientConfig] is the station's side, and [NewCA] and
// [CA.Issue] make the certificates of a workshop (make certs).
package tlsauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// cipherSuites are the TLS 1.2 suites the server offers: Go's defaults,
// and the two RSA key exchanges that the whitepaper lists among the four a
// central system must support (TLS_RSA_WITH_AES_128_GCM_SHA256 and
// TLS_RSA_WITH_AES_256_GCM_SHA384), which Go leaves out by default. They
// matter only with an RSA certificate, and only to a charger that offers
// nothing better. TLS 1.3's suites are not configurable.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
}

// ServerConfig returns the TLS configuration of a server that listens on
// addr (host:port) with the certificate chain in certFile and its private
// key in keyFile, both PEM. TLS 1.2 is the least it accepts, as the
// whitepaper asks, and it speaks HTTP/1.1 only (WebSocket's handshake is
// HTTP/1.1's).
//
// With clientCAFile (PEM, one certificate or more) it asks every client
// for a certificate and verifies one that is given against those CAs: a
// station without one, or with one the CAs did not sign or that expired,
// fails the handshake if it presents one, and is refused by CheckStation if
// it does not. A browser, which has no client certificate, still reaches
// the operator's side. Without clientCAFile it asks for none.
//
// It fails, saying why, for a file that is missing or unreadable, holds no
// certificate or key, a key that is not the certificate's, a certificate
// that has expired or is not valid yet, or one that does not name addr's
// host (when the host is an address or a name rather than every interface):
// stations would refuse it.
func ServerConfig(addr, certFile, keyFile, clientCAFile string, now time.Time) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both TLS_CERT (the certificate) and TLS_KEY (its private key)")
	}
	certPEM, err := readPEM("TLS_CERT", certFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM("TLS_KEY", keyFile, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("TLS_KEY %s is not the private key of TLS_CERT %s: give the key made with that certificate", keyFile, certFile)
		}
		return nil, fmt.Errorf("TLS_CERT %s, TLS_KEY %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf
	switch {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("TLS_CERT %s is not valid before %s: stations would refuse it (is this machine's clock right?)", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("TLS_CERT %s expired on %s: stations would refuse it; make certs makes a new one", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if host := hostOf(addr); host != "" {
		if err := leaf.VerifyHostname(host); err != nil {
			return nil, fmt.Errorf("TLS_CERT %s is for %s, not %s: a station connecting to %s would refuse it; make certs HOSTS=%s makes one for it",
				certFile, names(leaf), host, net.JoinHostPort(host, portOf(addr)), host)
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		NextProtos:   []string{"http/1.1"},
	}
	if clientCAFile != "" {
		pool, err := loadPool("TLS_CLIENT_CA", clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// CheckStation returns why a connection whose TLS state is cs may not
// connect as station id under security profile 3, or nil. The connection
// must have presented a certificate that the server verified (cs has a
// verified chain), and the certificate's subject CN must be id, byte for
// byte. A subject alternative name does not count: OCPP puts a charge
// point's identity in the CN (its serial number, which a central system
// uses as its identity), and a DNS name or an address of the station says
// nothing of which station it is.
func CheckStation(id string, cs *tls.ConnectionState) error {
	if cs == nil {
		return errors.New("security profile 3 wants TLS, with a client certificate whose CN is the station's identity")
	}
	if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return fmt.Errorf("no client certificate: security profile 3 wants one whose CN is %q", id)
	}
	cn := cs.PeerCertificates[0].Subject.CommonName
	if cn != id {
		return fmt.Errorf("the client certificate is for %q (its CN), not %q", cn, id)
	}
	return nil
}

// ClientConfig returns the TLS configuration of a station that trusts the
// CAs in caFile (PEM), or the system's roots when caFile is "".
func ClientConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadPool("CA", caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loadPool reads the CA certificates of file, a setting's value.
func loadPool(setting, file string) (*x509.CertPool, error) {
	data, err := readPEM(setting, file, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", setting, file, err)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// readPEM reads file, a setting's value, and checks that it holds a PEM
// block whose type ends with kind ("PRIVATE KEY" takes "EC PRIVATE KEY").
func readPEM(setting, file, kind string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s %s: no such file (make certs writes a workshop's certificates into certs/)", setting, file)
		}
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if strings.HasSuffix(b.Type, kind) {
			return data, nil
		}
	}
	return nil, fmt.Errorf("%s %s holds no PEM block %q: want a PEM file", setting, file, kind)
}

// hostOf returns the host of addr, or "" when addr listens on every
// interface, whose names the server cannot know.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return host
}

// portOf returns the port of addr, or "443".
func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return port
	}
	return "443"
}

// names lists what a certificate is for: its DNS names and addresses, or
// its CN when it has neither.
func names(c *x509.Certificate) string {
	var n []string
	n = append(n, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		n = append(n, ip.String())
	}
	if len(n) == 0 {
		return fmt.Sprintf("%q (its CN; no subject alternative name, which clients want)", c.Subject.CommonName)
	}
	return strings.Join(n, ", ")
}
