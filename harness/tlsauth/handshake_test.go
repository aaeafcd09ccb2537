package tlsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/tlsauth"
	"github.com/ocppkata/kata/harness/wsconn"
)

// These tests handshake for real, over TCP on 127.0.0.1, with certificates
// made for the test: make serve's TLS as harness/cmd/run puts it together,
// portmux with tlsauth's configuration and rule in front of a wsconn
// server.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pki is a test's certificates: a CA, the server's for 127.0.0.1, and the
// files ServerConfig reads.
type pki struct {
	ca                 *tlsauth.CA
	certFile, keyFile  string
	caFile             string
	now                time.Time
	validFrom, validTo time.Time
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now()
	p := &pki{now: now, validFrom: now.Add(-time.Hour), validTo: now.Add(24 * time.Hour)}
	var err error
	p.ca, err = tlsauth.NewCA("test CA", p.validFrom, p.validTo)
	require.NoError(t, err)
	dir := t.TempDir()
	cert, key, err := p.ca.Issue(tlsauth.Server, []string{"127.0.0.1", "localhost"}, p.validFrom, p.validTo)
	require.NoError(t, err)
	p.certFile, p.keyFile, p.caFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(p.certFile, cert, 0o644))
	require.NoError(t, os.WriteFile(p.keyFile, key, 0o600))
	require.NoError(t, os.WriteFile(p.caFile, p.ca.CertPEM(), 0o644))
	return p
}

// client returns a station's TLS configuration: it trusts the test's CA
// and presents a certificate for id signed by ca (none if ca is nil),
// valid from from to to.
func (p *pki) client(t *testing.T, ca *tlsauth.CA, id string, from, to time.Time) *tls.Config {
	t.Helper()
	cfg, err := tlsauth.ClientConfig(p.caFile)
	require.NoError(t, err)
	if ca != nil {
		cert, key, err := ca.Issue(tlsauth.Client, []string{id}, from, to)
		require.NoError(t, err)
		pair, err := tls.X509KeyPair(cert, key)
		require.NoError(t, err)
		// Presented whatever the server says it accepts, as a charger
		// does: Go's client would otherwise keep back a certificate that
		// the server's CAs did not sign, and send none.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg
}

// logs collects the log lines of the Mux's refusals.
type logs struct {
	mu    sync.Mutex
	lines []string
	wrote chan struct{} // a token after each line
}

func newLogs() *logs { return &logs{wrote: make(chan struct{}, 1)} }

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// waitFor waits until the log holds s: a refusal is logged before its
// answer is written, but a failed handshake's alert may reach the client
// before the server has logged it.
func (l *logs) waitFor(t *testing.T, s string) {
	t.Helper()
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.wrote:
		case <-t.Context().Done():
			t.Fatalf("the server's log has no %q:\n%s", s, l)
		}
	}
}

// serve runs, until the test ends, what make serve runs on its port: the
// Mux with cfg (and profile 3's rule if profile3), a station server that
// echoes and, when keys is not nil, checks Basic auth as step 09 does, and
// an HTTP server for the operator's side. It returns the address.
func serve(t *testing.T, cfg *tls.Config, profile3 bool, keys map[string]string) (string, *logs) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	log := newLogs()
	opts := portmux.Options{TLS: cfg, Logger: slog.New(slog.NewTextHandler(log, nil))}
	if profile3 {
		opts.Admit = tlsauth.CheckStation
	}
	m := portmux.New(l, opts)
	srv := &wsconn.Server{Handle: echo}
	if keys != nil {
		srv.Accept = func(w http.ResponseWriter, r *http.Request) bool {
			user, pass, ok := r.BasicAuth()
			if !ok || user != r.PathValue("station") || keys[user] == "" || keys[user] != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="OCPP"`)
				http.Error(w, "wrong credentials", http.StatusUnauthorized)
				return false
			}
			return true
		}
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api %s", r.URL.Path)
	})}
	served := make(chan error, 3)
	go func() { served <- m.Serve() }()
	go func() { served <- srv.Serve(m.Stations()) }()
	go func() {
		if err := hs.Serve(m.HTTP()); !errors.Is(err, http.ErrServerClosed) {
			served <- err
			return
		}
		served <- nil
	}()
	t.Cleanup(func() {
		assert.NoError(t, srv.Close())
		assert.NoError(t, hs.Close())
		assert.NoError(t, m.Close())
		for range 3 {
			assert.NoError(t, <-served)
		}
	})
	return l.Addr().String(), log
}

func echo(c *wsconn.Conn) {
	for {
		m, err := c.Read()
		if err != nil {
			return
		}
		if call, ok := m.(*ocpp.Call); ok {
			if c.Send(&ocpp.CallResult{ID: call.ID, Payload: call.Payload}) != nil {
				return
			}
		}
	}
}

// connect opens station id's WebSocket over wss, as the simulator does,
// with a Basic auth password if pass is not "". It returns the answer's
// status (101 once upgraded) and its body, or the error of a handshake that
// did not get as far as an answer.
func connect(t *testing.T, addr, id, pass string, cfg *tls.Config) (int, string, error) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: cfg, Subprotocols: []string{wsconn.Subprotocol}, HandshakeTimeout: time.Minute}
	var h http.Header
	if pass != "" {
		h = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+pass))}}
	}
	ws, resp, err := d.DialContext(t.Context(), "wss://"+addr+"/ocpp/"+id, h)
	if resp == nil {
		return 0, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, string(body), nil
	}
	defer ws.Close()
	frame := `[2,"m-1","Heartbeat",{}]`
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(frame)))
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, `[3,"m-1",{}]`, string(data))
	return resp.StatusCode, "", nil
}

func TestProfile3(t *testing.T) {
	p := newPKI(t)
	cfg, err := tlsauth.ServerConfig("127.0.0.1:0", p.certFile, p.keyFile, p.caFile, p.now)
	require.NoError(t, err)
	otherCA, err := tlsauth.NewCA("another CA", p.validFrom, p.validTo)
	require.NoError(t, err)

	tests := []struct {
		name       string
		as         string      // the station id in the URL
		cfg        *tls.Config // the station's
		wantStatus int         // 0: the TLS handshake fails
		wantBody   string      // in the answer's body, or the client's error
		wantLog    string      // in the server's log
	}{
		{"right certificate", "CS0001", p.client(t, p.ca, "CS0001", p.validFrom, p.validTo), http.StatusSwitchingProtocols, "", ""},
		{"another station's certificate", "CS0002", p.client(t, p.ca, "CS0001", p.validFrom, p.validTo), http.StatusForbidden,
			`the client certificate is for "CS0001" (its CN), not "CS0002"`, `last_station=CS0002 `},
		{"no certificate", "CS0001", p.client(t, nil, "", time.Time{}, time.Time{}), http.StatusForbidden,
			`no client certificate: security profile 3 wants one whose CN is "CS0001"`, `last_reason="no client certificate`},
		{"expired certificate", "CS0001", p.client(t, p.ca, "CS0001", p.now.Add(-48*time.Hour), p.now.Add(-24*time.Hour)), 0,
			"expired certificate", "certificate has expired"},
		{"certificate of an untrusted CA", "CS0001", p.client(t, otherCA, "CS0001", p.validFrom, p.validTo), 0,
			"unknown certificate authority", "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A server each: the Mux logs a kind of refusal once in 10 s.
			addr, log := serve(t, cfg, true, nil)
			status, body, err := connect(t, addr, tt.as, "", tt.cfg)
			require.Equal(t, tt.wantStatus, status, "body %q, error %v", body, err)
			if tt.wantStatus == 0 {
				require.ErrorContains(t, err, tt.wantBody)
			} else {
				require.Contains(t, body, tt.wantBody)
			}
			if tt.wantLog != "" {
				log.waitFor(t, tt.wantLog)
			}
		})
	}

	// A client that speaks plain HTTP to the port is told to use TLS.
	t.Run("plain HTTP", func(t *testing.T) {
		addr, log := serve(t, cfg, true, nil)
		resp, err := http.Get("http://" + addr + "/api/stations")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "400 Bad Request: this port speaks TLS: use wss:// (stations) or https://\n", string(body))
		log.waitFor(t, "first record does not look like a TLS handshake")
	})

	// A browser has no client certificate: the operator's side answers it.
	t.Run("operator side without a certificate", func(t *testing.T) {
		addr, _ := serve(t, cfg, true, nil)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: p.client(t, nil, "", time.Time{}, time.Time{})}}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + addr + "/api/stations")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "api /api/stations", string(body))
	})
}

func TestProfile2(t *testing.T) {
	p := newPKI(t)
	cfg, err := tlsauth.ServerConfig("127.0.0.1:0", p.certFile, p.keyFile, "", p.now)
	require.NoError(t, err)
	addr, _ := serve(t, cfg, false, map[string]string{"CS0001": "0123456789abcdef0123"})
	station := p.client(t, nil, "", time.Time{}, time.Time{})

	tests := []struct {
		name, pass string
		wantStatus int
	}{
		{"right key", "0123456789abcdef0123", http.StatusSwitchingProtocols},
		{"wrong key", "fedcba98765432100000", http.StatusUnauthorized},
		{"no key", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := connect(t, addr, "CS0001", tt.pass, station)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, status, "body %q", body)
		})
	}

	// A station that does not trust the server's CA refuses it.
	t.Run("station without the CA", func(t *testing.T) {
		_, _, err := connect(t, addr, "CS0001", "0123456789abcdef0123", &tls.Config{RootCAs: x509.NewCertPool()})
		require.ErrorContains(t, err, "certificate signed by unknown authority")
	})
}

// A station admitted for its own id cannot become another on the same
// connection: neither by sending a second request with the first, nor by
// trying again after the first was refused.
func TestOneRequestPerStationConnection(t *testing.T) {
	p := newPKI(t)
	cfg, err := tlsauth.ServerConfig("127.0.0.1:0", p.certFile, p.keyFile, p.caFile, p.now)
	require.NoError(t, err)
	// Basic auth as well: CS0001's first request, without credentials, is
	// refused 401 by the station side, not by the rule.
	addr, _ := serve(t, cfg, true, map[string]string{"CS0001": "0123456789abcdef0123", "CS0002": "fedcba98765432100000"})
	station := p.client(t, p.ca, "CS0001", p.validFrom, p.validTo)
	upgrade := func(id, auth string) string {
		s := "GET /ocpp/" + id + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
		if auth != "" {
			s += "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(auth)) + "\r\n"
		}
		return s + "\r\n"
	}
	tests := []struct {
		name  string
		sends []string // each written once the answer to the one before is read
	}{
		{"second request sent with the first", []string{upgrade("CS0001", "") + upgrade("CS0002", "CS0002:fedcba98765432100000")}},
		{"second request with bare line ends", []string{strings.ReplaceAll(upgrade("CS0001", ""), "\r\n", "\n") + upgrade("CS0002", "CS0002:fedcba98765432100000")}},
		{"retry on the same connection", []string{upgrade("CS0001", ""), upgrade("CS0002", "CS0002:fedcba98765432100000")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", addr, station)
			require.NoError(t, err)
			defer c.Close()
			// A server that upgrades keeps the connection open: the
			// deadline only keeps this test from hanging on one.
			c.SetDeadline(time.Now().Add(time.Minute))
			var got strings.Builder
			read := func(all bool) {
				buf := make([]byte, 4096)
				for !strings.Contains(got.String(), "101 Switching") {
					n, err := c.Read(buf)
					got.Write(buf[:n])
					if err != nil || !all {
						return
					}
				}
			}
			for _, s := range tt.sends {
				if _, err := io.WriteString(c, s); err != nil {
					break // closed by the server
				}
				read(false)
			}
			read(true) // until the server closes the connection
			require.True(t, strings.HasPrefix(got.String(), "HTTP/1.1 401 "), "the first answer:\n%s", got.String())
			require.NotContains(t, got.String(), "101 Switching Protocols", "CS0001's connection was upgraded as CS0002's")
			require.Equal(t, 1, strings.Count(got.String(), "HTTP/1.1 "), "answers:\n%s", got.String())
		})
	}

	// The same certificate with its own credentials gets in.
	status, body, err := connect(t, addr, "CS0001", "0123456789abcdef0123", station)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
}

func TestServerConfigRefuses(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	otherCert, otherKey, err := p.ca.Issue(tlsauth.Server, []string{"ocpp.example.com"}, p.validFrom, p.validTo)
	require.NoError(t, err)
	expiredCert, expiredKey, err := p.ca.Issue(tlsauth.Server, []string{"127.0.0.1"}, p.now.Add(-48*time.Hour), p.now.Add(-time.Hour))
	require.NoError(t, err)
	other, otherK := write("other.pem", otherCert), write("other-key.pem", otherKey)
	expired, expiredK := write("expired.pem", expiredCert), write("expired-key.pem", expiredKey)
	notPEM := write("notes.txt", []byte("hello\n"))
	unreadable := filepath.Join(dir, "unreadable")
	require.NoError(t, os.Mkdir(unreadable, 0o755)) // a directory: reading it fails

	tests := []struct {
		name                          string
		addr, cert, key, ca, wantErrs string
	}{
		{"no key", "127.0.0.1:8443", p.certFile, "", "", "TLS needs both TLS_CERT"},
		{"missing certificate", "127.0.0.1:8443", filepath.Join(dir, "nope.pem"), p.keyFile, "", "TLS_CERT " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"unreadable key", "127.0.0.1:8443", p.certFile, unreadable, "", "TLS_KEY: read " + unreadable},
		{"not PEM", "127.0.0.1:8443", notPEM, p.keyFile, "", "holds no PEM block \"CERTIFICATE\""},
		{"another certificate's key", "127.0.0.1:8443", p.certFile, otherK, "", "is not the private key of TLS_CERT"},
		{"certificate for another host", "127.0.0.1:8443", other, otherK, "", "is for ocpp.example.com, not 127.0.0.1"},
		{"expired certificate", "127.0.0.1:8443", expired, expiredK, "", "expired on"},
		{"client CA not PEM", "127.0.0.1:8443", p.certFile, p.keyFile, notPEM, "TLS_CLIENT_CA " + notPEM + " holds no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsauth.ServerConfig(tt.addr, tt.cert, tt.key, tt.ca, p.now)
			require.ErrorContains(t, err, tt.wantErrs)
		})
	}

	// Every interface: the server cannot know its names, and does not ask.
	_, err = tlsauth.ServerConfig("0.0.0.0:8443", other, otherK, "", p.now)
	require.NoError(t, err)
	_, err = tlsauth.ServerConfig(":8443", other, otherK, "", p.now)
	require.NoError(t, err)
}

func TestWriteWorkshop(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files, err := tlsauth.WriteWorkshop(tlsauth.Workshop{Dir: dir, Hosts: []string{"127.0.0.1", "localhost"}, Stations: []string{"CS0001", "CS0002"}, Now: now})
	require.NoError(t, err)
	require.Len(t, files, 8, "the CA, the server and two stations, a certificate and a key each: %v", files)
	cfg, err := tlsauth.ServerConfig("localhost:8443", filepath.Join(dir, tlsauth.ServerFile), filepath.Join(dir, tlsauth.ServerKeyFile), filepath.Join(dir, tlsauth.CAFile), now)
	require.NoError(t, err)
	require.Equal(t, tls.VerifyClientCertIfGiven, cfg.ClientAuth)
	info, err := os.Stat(filepath.Join(dir, tlsauth.CAKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a private key is its owner's only")

	cert, err := tlsauth.StationCertificate(filepath.Join(dir, tlsauth.StationsDir), "CS0002")
	require.NoError(t, err)
	require.NotNil(t, cert)
	require.Equal(t, "CS0002", cert.Leaf.Subject.CommonName)
	none, err := tlsauth.StationCertificate(filepath.Join(dir, tlsauth.StationsDir), "CS0003")
	require.NoError(t, err)
	require.Nil(t, none, "a station without files has no certificate")

	// Run again for another station: the CA is kept, so CS0001's
	// certificate made before is still good.
	ca, err := os.ReadFile(filepath.Join(dir, tlsauth.CAFile))
	require.NoError(t, err)
	files, err = tlsauth.WriteWorkshop(tlsauth.Workshop{Dir: dir, Hosts: []string{"127.0.0.1"}, Stations: []string{"CS0003"}, Now: now})
	require.NoError(t, err)
	require.Len(t, files, 4, "the server and CS0003: %v", files)
	again, err := os.ReadFile(filepath.Join(dir, tlsauth.CAFile))
	require.NoError(t, err)
	require.Equal(t, ca, again)

	_, err = tlsauth.WriteWorkshop(tlsauth.Workshop{Dir: dir, Hosts: []string{"127.0.0.1"}, Stations: []string{"../etc"}, Now: now})
	require.ErrorContains(t, err, `"../etc" cannot be a station's identity`)
}

func TestCheckStation(t *testing.T) {
	require.ErrorContains(t, tlsauth.CheckStation("CS0001", nil), "wants TLS")
	require.ErrorContains(t, tlsauth.CheckStation("CS0001", &tls.ConnectionState{}), "no client certificate")
}
