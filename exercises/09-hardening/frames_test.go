package hardening_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	hardening "github.com/ocppkata/kata/exercises/09-hardening"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// What a station sends before the server trusts it: the subprotocol it
// offers, the size, kind and encoding of its frames, and their shape.

func TestSubprotocolRequired(t *testing.T) {
	tests := []struct {
		name    string
		offered []string
		served  bool
	}{
		{"none offered", nil, false},
		{"only ocpp2.0.1 offered", []string{"ocpp2.0.1"}, false},
		{"ocpp1.6 offered among others", []string{"ocpp2.0.1", wsconn.Subprotocol}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				// A refused handshake comes with the id of a station that is
				// connected: refusing it must leave that station alone.
				var real *station.Station
				if !tt.served {
					real = e.boot(t, "CS0001")
				}
				r, resp, err := e.dial(t, "CS0001", nil, tt.offered...)
				if err != nil {
					t.Fatalf("the handshake offering %s failed: %v; want it completed (101), as OCPP-J 1.6 §3 says", offered(tt.offered), err)
				}
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("the handshake offering %s was answered %s, want 101 (switching protocols): "+
						"OCPP-J 1.6 §3 completes it, and then closes", offered(tt.offered), resp.Status)
				}
				agreed := resp.Header.Get("Sec-WebSocket-Protocol")
				if !tt.served {
					if agreed != "" {
						t.Errorf("the handshake offering %s agreed on %q, want no Sec-WebSocket-Protocol header", offered(tt.offered), agreed)
					}
					// The station sends nothing: the server must not wait for it.
					wantClose(t, r.await(), websocket.CloseProtocolError,
						"a handshake offering "+offered(tt.offered)+", with nothing sent yet",
						"OCPP-J 1.6 §3: a station that did not offer ocpp1.6 gets the handshake completed without it, "+
							"and then an immediate close. Check conn.Subprotocol() before the first read: "+
							"whatever such a station sends is in a protocol the server does not speak.")
					if t.Failed() {
						return // not refused: what became of the station says nothing more
					}
					e.untouched(t, real, "a handshake as CS0001 offering "+offered(tt.offered)+" was refused",
						"A refused connection must not go on to be served: once serve has closed it, it returns. "+
							"A refused connection that reaches the server's reader registers as the station, "+
							"and, being the newer, takes the real one's place.")
				} else {
					if agreed != wsconn.Subprotocol {
						t.Errorf("the handshake offering %s agreed on %q, want %q", offered(tt.offered), agreed, wsconn.Subprotocol)
					}
					r.wantServed(t, "a handshake offering "+offered(tt.offered))
				}
			})
		})
	}
}

func TestFrameSizeLimit(t *testing.T) {
	const def = hardening.DefaultMaxFrameSize
	tests := []struct {
		name      string
		limit     int64 // Config.MaxFrameSize; 0 for the default
		after     bool  // the station has a Heartbeat served before it sends the frame
		size      int
		oversized bool // only the header and a few bytes are sent: want 1009
	}{
		{"a first frame of 2 MiB", 0, false, 2 << 20, true},
		{"a frame of 2 MiB after a served Heartbeat", 0, true, 2 << 20, true},
		{"a frame of exactly the default limit", 0, false, def, false},
		{"a frame one byte over Config.MaxFrameSize of 1024", 1024, false, 1025, true},
		{"a frame of exactly Config.MaxFrameSize of 1024", 1024, false, 1024, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{MaxFrameSize: tt.limit}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				if tt.after {
					r.wantServed(t, "connecting")
				}
				limit := tt.limit
				if limit == 0 {
					limit = def
				}
				if tt.oversized {
					r.sendHeader(t, uint64(tt.size))
					wantClose(t, r.await(), websocket.CloseMessageTooBig,
						"the header of a frame of "+size(tt.size)+" and its first bytes (the limit is "+size(int(limit))+")",
						"The server must refuse a frame over Config.MaxFrameSize as soon as its header says how big it is, "+
							"without waiting for the rest: otherwise any station can make it read, and hold in memory, "+
							"as much as it likes. conn.SetReadLimit does that, if it is set before the first read.")
				} else {
					r.send(t, padded("exact", tt.size))
					got := r.await()
					if res, ok := got.message().(*ocpp.CallResult); !ok || res.ID != "exact" {
						t.Errorf("after a Heartbeat of exactly %s (the limit), the server sent %s; want its CALLRESULT: "+
							"the limit is the largest frame allowed, not the first one refused", size(tt.size), got)
					}
				}
			})
		})
	}
}

func TestBinaryAndInvalidUTF8(t *testing.T) {
	tests := []struct {
		name   string
		binary bool
		frame  string
		code   int
		why    string
	}{
		{"a binary frame", true, `[2,"bin","Heartbeat",{}]`, websocket.CloseUnsupportedData,
			"OCPP-J frames are text: a station that sends binary speaks something else. " +
				"ReadFrame tells you which kind a frame was; close with 1003 (unsupported data)."},
		{"a text frame that is not UTF-8", false, "[2,\"latin1\",\"DataTransfer\",{\"vendorId\":\"Kata\",\"data\":\"caf\xe9\"}]",
			websocket.CloseInvalidFramePayloadData,
			"A text frame must be valid UTF-8 (RFC 6455 §8.1), and nothing in it can be trusted if it is not, " +
				"not even its id. Check utf8.Valid before decoding; close with 1007 (invalid frame payload data)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				r.wantServed(t, "connecting")
				if tt.binary {
					r.sendBinary(t, tt.frame)
				} else {
					r.send(t, tt.frame)
				}
				wantClose(t, r.await(), tt.code, tt.name+" "+clip(tt.frame), tt.why)
			})
		})
	}
}

// longID is a message id of 37 characters, one more than OCPP-J allows.
var longID = strings.Repeat("x", ocpp.MaxIDLength+1)

func TestMalformedCallAnswered(t *testing.T) {
	tests := []struct {
		name, frame, id string
	}{
		{"a CALL of three elements", `[2,"short","Heartbeat"]`, "short"},
		{"a payload that is not an object", `[2,"list","Heartbeat",[]]`, "list"},
		{"an action that is not a string", `[2,"number",42,{}]`, "number"},
		{"JSON cut short", `[2,"cut","BootNotification",{"chargePointVendor":"Ka`, "cut"},
		{"an unknown message type", `[5,"five","Heartbeat",{}]`, "five"},
		{"an id of 37 characters", `[2,"` + longID + `","Heartbeat",{}]`, longID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				r.wantServed(t, "connecting")
				r.send(t, tt.frame)
				wantCallError(t, r.await(), tt.id, ocpp.FormationViolation, tt.name+" "+clip(tt.frame),
					"A frame whose id can be read deserves an answer with that id, even when nothing else in it "+
						"makes sense (ocpp.Decode's *FrameError has the id, or BadID for one too long, and the code): "+
						"then the station knows which call was refused, and goes on. Silence leaves it waiting for its timeout "+
						"and sending the same frame again; a close costs it its connection for one bad call.")
				r.wantServed(t, tt.name)
			})
		})
	}
}

func TestNoIDToAnswerCloses(t *testing.T) {
	tests := []struct {
		name, frame string
	}{
		{"text that is not JSON", `hello`},
		{"a JSON object", `{}`},
		{"a JSON number", `42`},
		{"JSON null", `null`},
		{"an empty array", `[]`},
		{"a type and no id", `[2]`},
		{"an id that is a number", `[2,7,"Heartbeat",{}]`},
		{"an empty id", `[2,"","Heartbeat",{}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				r.wantServed(t, "connecting")
				r.send(t, tt.frame)
				wantClose(t, r.await(), websocket.CloseProtocolError, tt.name+" "+clip(tt.frame),
					"A frame with no id cannot be answered with a CALLERROR, and ignoring it leaves a broken station "+
						"talking into the void for ever. Never silence: close with 1002 (protocol error), and say why in the reason.")
			})
		})
	}
}

func TestMalformedAnswerFailsCall(t *testing.T) {
	tests := []struct {
		name   string
		answer string // %s is the id of the server's call
		// toNothing: the server has no call waiting; the id is one it never sent.
		toNothing bool
	}{
		{"a CALLRESULT whose payload is a string", `[3,"%s","Accepted"]`, false},
		{"a CALLRESULT of four elements", `[3,"%s",{"status":"Accepted"},{}]`, false},
		{"a CALLERROR of three elements", `[4,"%s","GenericError"]`, false},
		{"a CALLRESULT cut short", `[3,"%s",{"status":"Acc`, false},
		// An answer that no call waits for is dropped, and never answered either.
		{"a CALLRESULT cut short, to no call", `[3,"%s",{"status":"Acc`, true},
		{"a CALLERROR of three elements, to no call", `[4,"%s","GenericError"]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				r.boot(t)

				var answer string
				if tt.toNothing {
					// The station sends a broken answer to a call the server never made.
					answer = strings.Replace(tt.answer, "%s", "never-sent", 1)
					r.send(t, answer)
				} else {
					// The server resets the station, which answers with garbage.
					start := time.Now()
					out := e.call(r.id)
					got := r.await()
					call, ok := got.message().(*ocpp.Call)
					if !ok {
						t.Fatalf("%s waited for the server's Reset, and the server sent %s", r.id, got)
					}
					answer = strings.Replace(tt.answer, "%s", call.ID, 1)
					r.send(t, answer)
					err, ok := kit.Await(t, out)
					took := time.Since(start)
					var ce *ocpp.CallError
					switch {
					case !ok:
						t.Fatalf("after %s answered the server's Reset with %s, the Call never returned", r.id, answer)
					case !errors.As(err, &ce) || ce.Code != ocpp.FormationViolation:
						t.Errorf("the station answered the server's Reset with %s (%s); Call returned after %v with: %v\n"+
							"want it to fail at once with a *ocpp.CallError, code FormationViolation: the answer came, "+
							"and it is broken. Waiting for the call's timeout tells the caller nothing, and too late. "+
							"A malformed CALLRESULT or CALLERROR whose id can be read fails the call with that id.",
							answer, tt.name, took, err)
					}
				}

				// Nothing answers the answer: read whatever the server sends
				// now, as a station does.
				loop := r.listen(t)
				kit.Settle(t)
				select {
				case data := <-loop.frames:
					kind := "CALLRESULT"
					if strings.HasPrefix(answer, "[4") {
						kind = "CALLERROR"
					}
					waits := "the server's Reset"
					if tt.toNothing {
						waits = "no call of the server's (an id it never sent)"
					}
					t.Fatalf("%s sent a broken %s %s, an answer to %s, and the server sent back %s.\n"+
						"Want nothing sent back: an answer is never answered, not even a broken one, and not even "+
						"when no call waits for it. A CALLERROR to a CALLERROR invites one more in return, and so on for ever. "+
						"Hand a broken answer to the call it answers (calls.answer drops one that nobody waits for), and send nothing",
						r.id, kind, answer, waits, reply{data: data})
				default:
				}

				// The station is still served, and so are the server's next calls to it.
				r.send(t, `[2,"hb","Heartbeat",{}]`)
				if got := loop.next(t, "the answer to its Heartbeat"); !strings.HasPrefix(string(got), `[3,"hb",`) {
					t.Errorf("after a malformed answer, %s sent a Heartbeat and the server sent %s; want its CALLRESULT: "+
						"the station is still connected, and still to be served", r.id, reply{data: got})
				}
				out := e.call(r.id)
				got := reply{data: loop.next(t, "the server's next Reset")}
				if call, ok := got.message().(*ocpp.Call); !ok {
					t.Errorf("after a malformed answer, %s waited for the server's next Reset, and the server sent %s", r.id, got)
				} else {
					r.send(t, `[3,"`+call.ID+`",{"status":"Accepted"}]`)
					switch err, ok := kit.Await(t, out); {
					case !ok:
						t.Errorf("after a malformed answer, the server's next Reset to %s, well answered, had not returned "+
							"a minute later; want it to return nil at once", r.id)
					case err != nil:
						t.Errorf("after a malformed answer, the server's next Reset to %s, well answered, returned %v; want nil", r.id, err)
					}
				}
			})
		})
	}
}

// The backend has answered unknown actions and payloads that break the
// schema since step 01; these make sure the hardened edge still lets it.
func TestUnknownActionAndSchema(t *testing.T) {
	id36 := longID[1:] // as long as an id may be
	tests := []struct {
		name, id, action, payload string
		code                      ocpp.ErrorCode
	}{
		{"an unknown action", "u", "FlyToTheMoon", `{}`, ocpp.NotImplemented},
		{"an action of the other direction", "u", "Reset", `{"type":"Hard"}`, ocpp.NotImplemented},
		{"a required field missing", "u", "BootNotification", `{"chargePointModel":"M"}`, ocpp.OccurenceConstraintViolation},
		{"a field of the wrong type", "u", "BootNotification", `{"chargePointVendor":7,"chargePointModel":"M"}`, ocpp.TypeConstraintViolation},
		{"a string too long", "u", "Authorize", `{"idTag":"123456789012345678901"}`, ocpp.PropertyConstraintViolation},
		{"a value outside its enumeration", "u", "StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Asleep"}`, ocpp.PropertyConstraintViolation},
		{"a payload that is not an object", "u", "Heartbeat", `[]`, ocpp.FormationViolation},
		{"an id of 36 characters is fine: the action is not", id36, "FlyToTheMoon", `{}`, ocpp.NotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, hardening.Config{}, func(t *testing.T, e *edge) {
				r := e.raw(t, "CS0001")
				frame := `[2,"` + tt.id + `","` + tt.action + `",` + tt.payload + `]`
				r.send(t, frame)
				wantCallError(t, r.await(), tt.id, tt.code, tt.name+" "+clip(frame),
					"OCPP-J 1.6 §4.2.3 assigns each kind of broken call its error code; the backend's Answer and Handle return it.")
				r.wantServed(t, tt.name)
			})
		})
	}
}
