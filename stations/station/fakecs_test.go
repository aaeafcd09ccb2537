package station_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/ocpp"
)

// fakeCS is a tiny central system for the simulator's tests: an http.Server
// that upgrades /ocpp/{id} to WebSocket with the ocpp1.6 subprotocol, answers
// every Core call of a station with a valid payload after a fixed latency,
// records what each station sent, and lets a test send calls to a station.
type fakeCS struct {
	t   testing.TB
	srv *http.Server
	// served is closed when Serve has returned.
	served chan struct{}
	// stop is closed when Close begins, to release stalled readers.
	stop chan struct{}
	cfg  fakeConfig
	// arrived receives every connection once its handshake is done.
	arrived chan *fakeConn
	// closeOnce makes a kill, which may come twice, close it once.
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[string]*fakeConn
}

type fakeConfig struct {
	// latency is how long the central system takes to answer each call.
	// Answers are written by goroutines of their own, so a pipelining
	// station gets its answers all at once.
	latency time.Duration
	// refuse completes the handshake without selecting ocpp1.6, then closes.
	refuse bool
	// password, if set, is required with HTTP Basic auth, the user name
	// being the station id (security profile 1).
	password string
	// passwords, if set, is required instead, station by station: a
	// station with no entry is refused.
	passwords map[string]string
	// stall, if it says so for a station, makes the central system stop
	// reading that station's connection after its first call, as a server
	// applying backpressure does.
	stall func(id string) bool
	// answer, if set, replaces the Core answers: a payload, a
	// *ocpp.CallError, or nil for no answer at all.
	answer func(c *ocpp.Call) any
	// tweak, if set, replaces the Core answer to the calls it returns
	// something for (a payload or a *ocpp.CallError), and leaves the rest
	// as they are.
	tweak func(c *ocpp.Call) any
	// silent, if set, leaves the calls it reports true for unanswered.
	silent func(c *ocpp.Call) bool
	// turns makes the central system read a station's next frame only once
	// its answer to the last call is written (or its write gave up), as the
	// final server does: a station that stops reading holds one answer.
	turns bool
	// writeTimeout, if set, bounds each write to a station: a write that
	// gives up closes the connection, as the final server's WriteTimeout
	// does.
	writeTimeout time.Duration
}

// fakeConn is one station's connection to the fake central system.
type fakeConn struct {
	id           string
	ws           *websocket.Conn
	writeTimeout time.Duration
	writer       chan struct{} // one writer at a time, and a durable wait in synctest
	answers      chan ocpp.Message
	ended        chan struct{} // closed when the read loop and every answer have ended

	mu     sync.Mutex
	calls  []*ocpp.Call // the station's calls in arrival order
	nextTx int
	end    error // why reading ended, once it has
}

func newFakeCS(t testing.TB, ln net.Listener, cfg fakeConfig) *fakeCS {
	fc := &fakeCS{
		t:       t,
		cfg:     cfg,
		served:  make(chan struct{}),
		stop:    make(chan struct{}),
		arrived: make(chan *fakeConn, 1024),
		conns:   make(map[string]*fakeConn),
	}
	fc.srv = &http.Server{Handler: fc, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(fc.served)
		fc.srv.Serve(ln)
	}()
	return fc
}

// Close stops the server and closes every WebSocket it hijacked, which
// http.Server.Close does not, then waits for all its goroutines.
func (fc *fakeCS) Close() {
	close(fc.stop)
	fc.srv.Close()
	<-fc.served
	fc.mu.Lock()
	conns := make([]*fakeConn, 0, len(fc.conns))
	for _, c := range fc.conns {
		conns = append(conns, c)
	}
	fc.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
		<-c.ended
	}
}

func (fc *fakeCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/ocpp/")
	if !ok || id == "" {
		http.NotFound(w, r)
		return
	}
	if want, on := fc.password(id); on {
		user, pass, ok := r.BasicAuth()
		if !ok || user != id || want == "" || pass != want {
			http.Error(w, "wrong credentials", http.StatusUnauthorized)
			return
		}
	}
	up := websocket.Upgrader{Subprotocols: []string{"ocpp1.6"}}
	if fc.cfg.refuse {
		up.Subprotocols = nil
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if fc.cfg.refuse {
		ws.Close()
		return
	}
	c := &fakeConn{id: id, ws: ws, writeTimeout: fc.cfg.writeTimeout, writer: make(chan struct{}, 1),
		answers: make(chan ocpp.Message, 64), ended: make(chan struct{}), nextTx: 1000}
	fc.mu.Lock()
	fc.conns[id] = c
	fc.mu.Unlock()
	fc.arrived <- c
	fc.readLoop(c)
}

// password is the password station id must send, and whether it must send
// one at all.
func (fc *fakeCS) password(id string) (string, bool) {
	if fc.cfg.passwords != nil {
		return fc.cfg.passwords[id], true
	}
	return fc.cfg.password, fc.cfg.password != ""
}

func (fc *fakeCS) readLoop(c *fakeConn) {
	var answering sync.WaitGroup
	closed := make(chan struct{})
	defer func() {
		close(closed)
		c.ws.Close()
		answering.Wait()
		close(c.ended)
	}()
	// With turns, a frame is read only once the turn is free: each answer
	// holds it until it is written, anything else gives it back at once.
	turn := make(chan struct{}, 1)
	take, giveBack := func() {}, func() {}
	if fc.cfg.turns {
		take, giveBack = func() { turn <- struct{}{} }, func() { <-turn }
	}
	for {
		take()
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.end = err
			c.mu.Unlock()
			return
		}
		msg, err := ocpp.Decode(data)
		if err != nil {
			fc.t.Errorf("fake central system: station %s sent a malformed frame: %v", c.id, err)
			giveBack()
			continue
		}
		call, ok := msg.(*ocpp.Call)
		if !ok {
			c.answers <- msg
			giveBack()
			continue
		}
		c.mu.Lock()
		c.calls = append(c.calls, call)
		c.mu.Unlock()
		if fc.cfg.stall != nil && fc.cfg.stall(c.id) && call.ID != "1" {
			<-fc.stop
			return
		}
		payload := fc.answerFor(c, call)
		if payload == nil {
			giveBack()
			continue
		}
		answering.Go(func() {
			defer giveBack()
			timer := time.NewTimer(fc.cfg.latency)
			defer timer.Stop()
			select {
			case <-timer.C:
				if c.send(answerFrame(call.ID, payload)) != nil && c.writeTimeout > 0 {
					c.ws.Close() // the write gave up: the connection is done
				}
			case <-closed:
			}
		})
	}
}

func (fc *fakeCS) answerFor(c *fakeConn, call *ocpp.Call) any {
	if fc.cfg.answer != nil {
		return fc.cfg.answer(call)
	}
	if fc.cfg.silent != nil && fc.cfg.silent(call) {
		return nil
	}
	if fc.cfg.tweak != nil {
		if a := fc.cfg.tweak(call); a != nil {
			return a
		}
	}
	return c.coreAnswer(call)
}

// coreAnswer is a valid answer to every Core call a station makes, after
// checking that the request decodes into its type.
func (c *fakeConn) coreAnswer(call *ocpp.Call) any {
	accepted := ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}
	var req any
	var resp any
	switch call.Action {
	case ocpp.ActionBootNotification:
		req = &ocpp.BootNotificationRequest{}
		resp = ocpp.BootNotificationResponse{Status: ocpp.RegistrationAccepted, CurrentTime: ocpp.DateTime{Time: time.Now()}, Interval: 300}
	case ocpp.ActionAuthorize:
		req = &ocpp.AuthorizeRequest{}
		resp = ocpp.AuthorizeResponse{IdTagInfo: accepted}
	case ocpp.ActionHeartbeat:
		req = &ocpp.HeartbeatRequest{}
		resp = ocpp.HeartbeatResponse{CurrentTime: ocpp.DateTime{Time: time.Now()}}
	case ocpp.ActionStartTransaction:
		req = &ocpp.StartTransactionRequest{}
		c.mu.Lock()
		c.nextTx++
		tx := c.nextTx
		c.mu.Unlock()
		resp = ocpp.StartTransactionResponse{IdTagInfo: accepted, TransactionId: tx}
	case ocpp.ActionStopTransaction:
		req = &ocpp.StopTransactionRequest{}
		resp = ocpp.StopTransactionResponse{IdTagInfo: &accepted}
	case ocpp.ActionMeterValues:
		req = &ocpp.MeterValuesRequest{}
		resp = ocpp.MeterValuesResponse{}
	case ocpp.ActionStatusNotification:
		req = &ocpp.StatusNotificationRequest{}
		resp = ocpp.StatusNotificationResponse{}
	case ocpp.ActionDataTransfer:
		req = &ocpp.DataTransferRequest{}
		resp = ocpp.DataTransferResponse{Status: ocpp.DataTransferAccepted}
	case ocpp.ActionDiagnosticsStatusNotification:
		req = &ocpp.DiagnosticsStatusNotificationRequest{}
		resp = ocpp.DiagnosticsStatusNotificationResponse{}
	case ocpp.ActionFirmwareStatusNotification:
		req = &ocpp.FirmwareStatusNotificationRequest{}
		resp = ocpp.FirmwareStatusNotificationResponse{}
	default:
		return ocpp.NewCallError(call.ID, ocpp.NotImplemented, call.Action)
	}
	if err := call.UnmarshalPayload(req); err != nil {
		return ocpp.NewCallError(call.ID, ocpp.FormationViolation, err.Error())
	}
	return resp
}

func answerFrame(id string, payload any) ocpp.Message {
	if ce, ok := payload.(*ocpp.CallError); ok {
		e := *ce
		e.ID = id
		return &e
	}
	res, err := ocpp.NewCallResult(id, payload)
	if err != nil {
		panic(err)
	}
	return res
}

// send writes a frame to the station.
func (c *fakeConn) send(m ocpp.Message) error {
	b, err := ocpp.Encode(m)
	if err != nil {
		return err
	}
	return c.sendRaw(b)
}

func (c *fakeConn) sendRaw(b []byte) error {
	select {
	case c.writer <- struct{}{}:
	case <-c.ended:
		return net.ErrClosed
	}
	defer func() { <-c.writer }()
	if c.writeTimeout > 0 {
		c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// call sends a CALL from the central system to the station.
func (c *fakeConn) call(t testing.TB, id, action string, payload any) {
	t.Helper()
	call, err := ocpp.NewCall(id, action, payload)
	require.NoError(t, err)
	require.NoError(t, c.send(call))
}

// Calls returns the station's calls so far, in arrival order.
func (c *fakeConn) Calls() []*ocpp.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*ocpp.Call(nil), c.calls...)
}

// readEnd returns why reading the connection ended, nil while it goes on.
func (c *fakeConn) readEnd() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// conn returns the connection of station id, or nil.
func (fc *fakeCS) conn(id string) *fakeConn {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.conns[id]
}

// ids returns the message ids of calls, in order.
func ids(calls []*ocpp.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

func actions(calls []*ocpp.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Action
	}
	return out
}

// decode reads a call's payload into a new T.
func decode[T any](t testing.TB, c *ocpp.Call) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(c.Payload, &v), "payload of %s %s", c.Action, c.ID)
	return v
}
