package station_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The table the package exports matches what a session sends.
var sessionActions = []string{
	ocpp.ActionBootNotification, ocpp.ActionStatusNotification, ocpp.ActionAuthorize,
	ocpp.ActionStatusNotification, ocpp.ActionStartTransaction, ocpp.ActionStatusNotification,
	ocpp.ActionMeterValues, ocpp.ActionMeterValues, ocpp.ActionMeterValues, ocpp.ActionMeterValues,
	ocpp.ActionMeterValues, ocpp.ActionStatusNotification, ocpp.ActionStopTransaction,
	ocpp.ActionStatusNotification,
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func TestSession(t *testing.T) {
	defer goleak.VerifyNone(t)
	const latency = 100 * time.Millisecond
	inBubble(t, fakeConfig{latency: latency}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		s, err := station.Dial(t.Context(), "CS0042", opts)
		require.NoError(t, err)
		defer s.Close()

		start := time.Now()
		records, err := s.Session(t.Context())
		require.NoError(t, err)
		require.Equal(t, station.SessionCalls*latency, time.Since(start), "14 calls in lock-step, each waiting %v", latency)

		require.Len(t, records, station.SessionCalls)
		for i, r := range records {
			require.Equal(t, strconv.Itoa(i+1), r.ID)
			require.Equal(t, sessionActions[i], r.Action)
			require.NoError(t, r.Err)
			require.Equal(t, latency, r.Latency(), "call %s %s", r.ID, r.Action)
		}

		calls := fc.conn("CS0042").Calls()
		require.Equal(t, sessionActions, actions(calls))
		require.Equal(t, sessionActions, station.SessionActions)
		require.Len(t, station.SessionActions, station.SessionCalls)
		require.Equal(t, seq(1, 14), ids(calls))

		// The statuses walk through a charging session.
		var statuses []ocpp.ChargePointStatus
		for _, c := range calls {
			if c.Action == ocpp.ActionStatusNotification {
				st := decode[ocpp.StatusNotificationRequest](t, c)
				require.Equal(t, 1, st.ConnectorId)
				require.Equal(t, ocpp.ChargePointNoError, st.ErrorCode)
				statuses = append(statuses, st.Status)
			}
		}
		require.Equal(t, []ocpp.ChargePointStatus{ocpp.StatusAvailable, ocpp.StatusPreparing,
			ocpp.StatusCharging, ocpp.StatusFinishing, ocpp.StatusAvailable}, statuses)

		boot := decode[ocpp.BootNotificationRequest](t, calls[0])
		require.NotEmpty(t, boot.ChargePointVendor)
		require.NotEmpty(t, boot.ChargePointModel)

		// One badge throughout; the transaction the server gave is used.
		tag := decode[ocpp.AuthorizeRequest](t, calls[2]).IdTag
		require.NotEmpty(t, tag)
		require.LessOrEqual(t, len(tag), 20)
		startTx := decode[ocpp.StartTransactionRequest](t, calls[4])
		require.Equal(t, tag, startTx.IdTag)
		require.Equal(t, 1, startTx.ConnectorId)
		const tx = 1001 // the fake's first transaction id

		// Energy rises by about 11 kW × 1 min per sample.
		energy := startTx.MeterStart
		for _, c := range calls[6:11] {
			mv := decode[ocpp.MeterValuesRequest](t, c)
			require.Equal(t, 1, mv.ConnectorId)
			require.NotNil(t, mv.TransactionId)
			require.Equal(t, tx, *mv.TransactionId)
			require.Len(t, mv.MeterValue, 1)
			require.False(t, mv.MeterValue[0].Timestamp.IsZero())
			sv := mv.MeterValue[0].SampledValue
			require.Len(t, sv, 2)
			require.Equal(t, "Energy.Active.Import.Register", sv[0].Measurand)
			require.Equal(t, "Wh", sv[0].Unit)
			require.Equal(t, "Sample.Periodic", sv[0].Context)
			require.Equal(t, "Power.Active.Import", sv[1].Measurand)
			require.Equal(t, "W", sv[1].Unit)
			wh, err := strconv.Atoi(sv[0].Value)
			require.NoError(t, err)
			require.InDelta(t, 11000.0/60, float64(wh-energy), 10, "Wh per 1-minute sample at 11 kW")
			energy = wh
			w, err := strconv.Atoi(sv[1].Value)
			require.NoError(t, err)
			require.InDelta(t, 11000, w, 300)
		}
		stop := decode[ocpp.StopTransactionRequest](t, calls[12])
		require.Equal(t, tx, stop.TransactionId)
		require.Equal(t, energy, stop.MeterStop)
		require.Equal(t, "Local", stop.Reason)

		require.Equal(t, station.Stats{Sent: 14, Answered: 14}, s.Stats())
	})
}

// The same station sends the same session, byte for byte, in every run: a
// fresh bubble's clock always starts at the same instant.
func TestSessionIsDeterministic(t *testing.T) {
	defer goleak.VerifyNone(t)
	run := func() [][]byte {
		var frames [][]byte
		inBubble(t, fakeConfig{latency: time.Second}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			s, err := station.Dial(t.Context(), "CS0007", opts)
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Session(t.Context())
			require.NoError(t, err)
			for _, c := range fc.conn("CS0007").Calls() {
				b, err := ocpp.Encode(c)
				require.NoError(t, err)
				frames = append(frames, b)
			}
		})
		return frames
	}
	first := run()
	require.Len(t, first, station.SessionCalls)
	require.Equal(t, first, run())
}

func TestCall(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name   string
		answer func(c *ocpp.Call) any
		// check the outcome of one BootNotification call
		check func(t *testing.T, err error, resp ocpp.BootNotificationResponse, s *station.Station)
	}{
		{
			name: "result",
			answer: func(*ocpp.Call) any {
				return ocpp.BootNotificationResponse{Status: ocpp.RegistrationPending, CurrentTime: ocpp.DateTime{Time: time.Now()}, Interval: 30}
			},
			check: func(t *testing.T, err error, resp ocpp.BootNotificationResponse, s *station.Station) {
				require.NoError(t, err)
				require.Equal(t, ocpp.RegistrationPending, resp.Status)
				require.Equal(t, 30, resp.Interval)
			},
		},
		{
			name: "call error",
			answer: func(c *ocpp.Call) any {
				return ocpp.NewCallError(c.ID, ocpp.InternalError, "database down")
			},
			check: func(t *testing.T, err error, _ ocpp.BootNotificationResponse, s *station.Station) {
				ce, ok := err.(*ocpp.CallError)
				require.True(t, ok, "want a *ocpp.CallError, got %T: %v", err, err)
				require.Equal(t, ocpp.InternalError, ce.Code)
				require.Equal(t, "1", ce.ID)
				require.Equal(t, station.Stats{Sent: 1, CallErrors: 1}, s.Stats())
			},
		},
		{
			name:   "no answer before the deadline",
			answer: func(*ocpp.Call) any { return nil },
			check: func(t *testing.T, err error, _ ocpp.BootNotificationResponse, s *station.Station) {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.ErrorContains(t, err, "station CS0001: BootNotification (id 1): no answer")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, fakeConfig{latency: time.Second, answer: tt.answer}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				s, err := station.Dial(t.Context(), "CS0001", opts)
				require.NoError(t, err)
				defer s.Close()
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				var resp ocpp.BootNotificationResponse
				err = s.Call(ctx, ocpp.ActionBootNotification, ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, &resp)
				tt.check(t, err, resp, s)
			})
		})
	}
}

// A late answer, after its call gave up, is counted and dropped; answers
// that match nothing and malformed frames do not disturb the station.
func TestStrayFrames(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{latency: 10 * time.Second}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		s, err := station.Dial(t.Context(), "CS0001", opts)
		require.NoError(t, err)
		defer s.Close()
		c := <-fc.arrived

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err = s.Call(ctx, ocpp.ActionHeartbeat, nil, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		require.NoError(t, c.sendRaw([]byte(`[3,"999",{}]`)))       // answers nothing
		require.NoError(t, c.sendRaw([]byte(`not json`)))           // malformed, no id
		require.NoError(t, c.sendRaw([]byte(`[2,"x1","Reset",7]`))) // malformed CALL: answered
		time.Sleep(10 * time.Second)                                // the heartbeat's late answer arrives

		got := <-c.answers
		ce, ok := got.(*ocpp.CallError)
		require.True(t, ok, "want a CALLERROR for the malformed call, got %#v", got)
		require.Equal(t, "x1", ce.ID)
		require.Equal(t, ocpp.FormationViolation, ce.Code)
		require.Equal(t, station.Stats{Sent: 1, Unmatched: 2, Malformed: 2}, s.Stats())

		// The station still works.
		require.NoError(t, s.Call(t.Context(), ocpp.ActionHeartbeat, nil, nil))
	})
}

// Send puts many calls in flight at once; their ids follow the order on the
// wire, so a server can use them as sequence numbers.
func TestSendPipelines(t *testing.T) {
	defer goleak.VerifyNone(t)
	const latency = time.Second
	inBubble(t, fakeConfig{latency: latency}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		s, err := station.Dial(t.Context(), "CS0001", opts)
		require.NoError(t, err)
		defer s.Close()

		start := time.Now()
		var answers []<-chan station.Answer
		for range 20 {
			ch, err := s.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			require.NoError(t, err)
			answers = append(answers, ch)
		}
		for i, ch := range answers {
			a := <-ch
			require.NoError(t, a.Err)
			require.Equal(t, strconv.Itoa(i+1), a.ID)
			require.NotNil(t, a.Result)
			require.Equal(t, latency, a.Received.Sub(a.Sent))
		}
		require.Equal(t, latency, time.Since(start), "20 calls in flight together take one latency")
		require.Equal(t, seq(1, 20), ids(fc.conn("CS0001").Calls()))
	})
}

func TestServerCalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name    string
		reply   station.Reply // how the station answers Reset
		nilAns  bool          // leave Options.Answer nil
		want    ocpp.Message  // nil: no answer
		after   time.Duration // when the answer comes
		outcome station.Outcome
		lost    bool // the connection ends
	}{
		{name: "default answer", nilAns: true, want: &ocpp.CallResult{ID: "srv1", Payload: []byte(`{"status":"Accepted"}`)}, outcome: station.Answered},
		{name: "custom payload", reply: station.Reply{Payload: ocpp.ResetResponse{Status: "Rejected"}}, want: &ocpp.CallResult{ID: "srv1", Payload: []byte(`{"status":"Rejected"}`)}, outcome: station.Answered},
		{name: "call error", reply: station.Reply{Payload: ocpp.NewCallError("", ocpp.NotSupported, "no")}, want: &ocpp.CallError{ID: "srv1", Code: ocpp.NotSupported, Description: "no", Details: []byte(`{}`)}, outcome: station.Answered},
		{name: "slow answer", reply: station.Reply{Delay: 30 * time.Second}, want: &ocpp.CallResult{ID: "srv1", Payload: []byte(`{}`)}, after: 30 * time.Second, outcome: station.Answered},
		{name: "never", reply: station.Reply{Drop: true}, outcome: station.Dropped},
		{name: "disconnect", reply: station.Reply{Delay: 5 * time.Second, Disconnect: true}, after: 5 * time.Second, outcome: station.Disconnected, lost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				if !tt.nilAns {
					opts.Answer = func(c *ocpp.Call) station.Reply {
						if c.Action == ocpp.ActionReset {
							return tt.reply
						}
						return station.DefaultAnswer(c)
					}
				}
				s, err := station.Dial(t.Context(), "CS0001", opts)
				require.NoError(t, err)
				defer s.Close()
				c := <-fc.arrived

				start := time.Now()
				got := map[string]ocpp.Message{}
				at := map[string]time.Duration{}
				await := func(id string) {
					for got[id] == nil {
						m := <-c.answers
						got[m.MessageID()] = m
						at[m.MessageID()] = time.Since(start)
					}
				}
				c.call(t, "srv1", ocpp.ActionReset, ocpp.ResetRequest{Type: "Soft"})
				// While the answer waits, the station keeps reading and answering.
				c.call(t, "srv2", ocpp.ActionClearCache, nil)
				await("srv2")
				require.Zero(t, at["srv2"])
				require.NoError(t, s.Call(t.Context(), ocpp.ActionHeartbeat, nil, nil))

				if tt.want != nil {
					await("srv1")
					require.Equal(t, tt.after, at["srv1"])
					require.Equal(t, tt.want, got["srv1"])
				}
				if tt.lost {
					<-s.Done()
					require.ErrorContains(t, s.Err(), "disconnected instead of answering Reset (id srv1)")
				}
				time.Sleep(time.Minute)
				select {
				case m := <-c.answers:
					t.Fatalf("unexpected answer %#v", m)
				default:
				}
				sc := s.ServerCalls()
				require.Len(t, sc, 2)
				require.Equal(t, "srv1", sc[0].ID)
				require.Equal(t, ocpp.ActionReset, sc[0].Action)
				require.Equal(t, tt.outcome, sc[0].Outcome)
				require.Equal(t, start, sc[0].Received)
				if tt.outcome == station.Answered {
					require.Equal(t, start.Add(tt.after), sc[0].Answered)
				}
			})
		})
	}
}

func TestClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name string
		end  func(t *testing.T, s *station.Station)
	}{
		{"Close", func(t *testing.T, s *station.Station) { require.NoError(t, s.Close()) }},
		{"Close twice at once", func(t *testing.T, s *station.Station) {
			errs := make(chan error)
			go func() { errs <- s.Close() }()
			require.NoError(t, s.Close())
			require.NoError(t, <-errs)
			require.NoError(t, s.Close())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server never answers, so calls are in flight when the station goes.
			inBubble(t, fakeConfig{answer: func(*ocpp.Call) any { return nil }}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				opts.Answer = func(*ocpp.Call) station.Reply { return station.Reply{Delay: time.Hour} }
				s, err := station.Dial(t.Context(), "CS0001", opts)
				require.NoError(t, err)
				c := <-fc.arrived
				c.call(t, "srv1", ocpp.ActionReset, ocpp.ResetRequest{Type: "Hard"}) // a delayed answer is waiting

				var inFlight []<-chan station.Answer
				for range 3 {
					ch, err := s.Send(t.Context(), ocpp.ActionHeartbeat, nil)
					require.NoError(t, err)
					inFlight = append(inFlight, ch)
				}
				start := time.Now()
				tt.end(t, s)

				<-s.Done()
				require.NoError(t, s.Err(), "closing is not a failure")
				require.Less(t, time.Since(start), 2*time.Second)
				for _, ch := range inFlight {
					a := <-ch
					require.ErrorIs(t, a.Err, station.ErrClosed)
				}
				_, err = s.Send(t.Context(), ocpp.ActionHeartbeat, nil)
				require.ErrorIs(t, err, station.ErrClosed)
				require.Equal(t, station.Abandoned, s.ServerCalls()[0].Outcome)
				// The server saw a normal close frame.
				<-c.ended
				require.NoError(t, s.Close())
			})
		})
	}
}

// Dial's context bounds the connecting only, as net.Dialer's does.
func TestDialContextBoundsConnectingOnly(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		s, err := station.Dial(ctx, "CS0001", opts)
		cancel()
		require.NoError(t, err)
		defer s.Close()
		time.Sleep(time.Minute)
		require.NoError(t, s.Call(t.Context(), ocpp.ActionHeartbeat, nil, nil))
		select {
		case <-s.Done():
			t.Fatal("the station disconnected when the context of Dial ended")
		default:
		}
	})
}

// When the server ends the connection, Done closes, Err says so, and the
// calls in flight fail at once.
func TestServerCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{answer: func(*ocpp.Call) any { return nil }}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		s, err := station.Dial(t.Context(), "CS0001", opts)
		require.NoError(t, err)
		defer s.Close()
		c := <-fc.arrived
		ch, err := s.Send(t.Context(), ocpp.ActionHeartbeat, nil)
		require.NoError(t, err)

		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down")
		require.NoError(t, c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)))
		<-s.Done()
		var ce *websocket.CloseError
		require.ErrorAs(t, s.Err(), &ce)
		require.Equal(t, websocket.CloseGoingAway, ce.Code)
		require.ErrorContains(t, s.Err(), "station CS0001: server closed the connection")

		a := <-ch
		require.ErrorAs(t, a.Err, &ce)
		require.ErrorContains(t, a.Err, "station CS0001: Heartbeat (id 1): connection ended")
		_, err = s.Send(t.Context(), ocpp.ActionHeartbeat, nil)
		require.ErrorAs(t, err, &ce)
	})
}

func TestDialFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name     string
		cfg      fakeConfig
		url      string
		password string
		is       error
		status   int // of the *station.HandshakeError
		expect   string
	}{
		{name: "server refuses ocpp1.6", cfg: fakeConfig{refuse: true}, is: station.ErrNoSubprotocol,
			expect: "station CS0001: connect ws://central.test/ocpp/CS0001: server did not select subprotocol ocpp1.6 (it selected none)"},
		{name: "wrong path", url: "ws://central.test/nope", is: websocket.ErrBadHandshake, status: 404,
			expect: "station CS0001: connect ws://central.test/nope/CS0001: the server refused the WebSocket handshake: HTTP 404 Not Found"},
		{name: "no password", cfg: fakeConfig{password: "0123456789abcdef"}, status: 401, expect: "HTTP 401 Unauthorized"},
		{name: "wrong password", cfg: fakeConfig{password: "0123456789abcdef"}, password: "guess", status: 401, expect: "HTTP 401 Unauthorized"},
		{name: "not a websocket URL", url: "http://central.test/ocpp", expect: "scheme must be ws or wss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, tt.cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
				if tt.url != "" {
					opts.URL = tt.url
				}
				opts.Password = tt.password
				s, err := station.Dial(t.Context(), "CS0001", opts)
				require.Nil(t, s)
				require.ErrorContains(t, err, tt.expect)
				if tt.is != nil {
					require.ErrorIs(t, err, tt.is)
				}
				if tt.status != 0 {
					var he *station.HandshakeError
					require.ErrorAs(t, err, &he)
					require.Equal(t, tt.status, he.StatusCode)
				}
			})
		})
	}
}

func TestDialWithPassword(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{password: "0123456789abcdef"}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		opts.Password = "0123456789abcdef"
		s, err := station.Dial(t.Context(), "CS0001", opts)
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Call(t.Context(), ocpp.ActionHeartbeat, nil, nil))
	})
}

// A context that ends during the handshake stops it at once.
func TestDialCancelled(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		ctx, cancel := context.WithCancel(t.Context())
		stall := make(chan struct{})
		defer close(stall)
		opts.URL = "ws://central.test/ocpp"
		dial := opts.Dial
		opts.Dial = func(ctx context.Context, network, addr string) (_ net.Conn, err error) {
			c, err := dial(ctx, network, addr)
			cancel() // the handshake has not been written yet
			return c, err
		}
		_, err := station.Dial(ctx, "CS0001", opts)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, fmt.Sprint(err), "station CS0001: connect ws://central.test/ocpp/CS0001: context canceled")
	})
}
