//lint:file-ignore U1000 the pieces of the protocol between nodes are the lesson's to use: claim, leave and route use them once written

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/ocpp"
)

// The cluster: several nodes share one NATS, and a station's connection
// lives on one of them. So far each node knows only its own stations: a
// call to a station connected to another node fails with ErrNotConnected,
// "not connected here", and two nodes may each hold a connection of the
// same station.
//
// What is here is yours to use or change: a subject per station, the
// headers and ops of a small protocol between nodes, and the outcome of a
// call as one node can send it to another (outcomeOf on the node that made
// the call, result on the node that asked for it).

// subjectOf returns the subject on which the node that holds station's
// connection listens. A station id may hold characters that a NATS subject
// may not ('.', '*', '>', spaces, …): each byte but letters, digits, '-'
// and '_' is written as ~XX, its value in hex.
func subjectOf(station string) string {
	var b strings.Builder
	b.WriteString("kata.station.")
	for i := range len(station) {
		c := station[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02X", c)
	}
	return b.String()
}

// The headers of the messages between nodes.
const (
	opHeader      = "Kata-Op"      // what a message is: one of the ops below
	actionHeader  = "Kata-Action"  // a call's OCPP action
	timeoutHeader = "Kata-Timeout" // what is left of the caller's deadline, as a Go duration
	nodeHeader    = "Kata-Node"    // the node that sent it
)

// The ops: a request on a station's subject is a call or a takeover; a
// reply to a call is alive (the holding node still works on it) until one
// is the answer.
const (
	opCall     = "call"
	opTakeover = "takeover"
	opAlive    = "alive"
	opAnswer   = "answer"
)

// outcome is what the node holding a station replies to a call routed to
// it: the station's CALLRESULT payload, its CALLERROR, or why the call
// failed there.
type outcome struct {
	Result    json.RawMessage `json:"result,omitempty"`
	CallError *callError      `json:"callError,omitempty"`
	Err       string          `json:"err,omitempty"` // the name of one of the kinds, or "other"
	Why       string          `json:"why,omitempty"` // the holding node's error, in words
}

type callError struct {
	Code        ocpp.ErrorCode  `json:"code"`
	Description string          `json:"description"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// kinds are the failures of a call that cross from node to node: the
// error callOn returned on the node that made the call, and the one Call
// returns on the node that asked for it. Any other failure crosses as
// "other", in words only.
var kinds = []struct {
	name        string
	there, here error
}{
	{"not connected", ErrNotConnected, ErrNotConnected},
	{"disconnected", ErrDisconnected, ErrDisconnected},
	{"shutting down", ErrShuttingDown, ErrDisconnected}, // the holding node stops: to the caller, the station is gone
	{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	{"canceled", context.Canceled, context.Canceled},
}

// outcomeOf is the reply to a routed call that callOn answered with result
// and err.
func outcomeOf(result json.RawMessage, err error) outcome {
	if err == nil {
		return outcome{Result: result}
	}
	var ce *ocpp.CallError
	if errors.As(err, &ce) {
		return outcome{CallError: &callError{Code: ce.Code, Description: ce.Description, Details: ce.Details}}
	}
	o := outcome{Err: "other", Why: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.there) {
			o.Err = k.name
			break
		}
	}
	return o
}

// routedError is a failure of a routed call, in the words of the node that
// held the station, which errors.Is finds as the same kind as there.
type routedError struct {
	why  string
	kind error
}

func (e *routedError) Error() string { return e.why }
func (e *routedError) Unwrap() error { return e.kind }

// result turns a routed call's outcome into Call's result, as if the call
// had been made here: the payload decoded into resp and checked against the
// schema, the CALLERROR as a *ocpp.CallError, a failure as its kind.
func (o outcome) result(station, action, node string, resp any) error {
	switch {
	case o.CallError != nil:
		return decode(station, action, &ocpp.CallError{Code: o.CallError.Code, Description: o.CallError.Description, Details: o.CallError.Details}, resp)
	case o.Err != "":
		var kind error
		for _, k := range kinds {
			if k.name == o.Err {
				kind = k.here
			}
		}
		return &routedError{why: fmt.Sprintf("%s (on node %s)", o.Why, node), kind: kind}
	}
	return decode(station, action, &ocpp.CallResult{Payload: o.Result}, resp)
}

// cluster is the node's side of the cluster.
type cluster struct {
	nc *nats.Conn // Config.NATS; nil for a cluster of one
	// TODO: the stations' subscriptions, the goroutines to wait for.

	routedIn atomic.Int64 // the calls routed here that were made: for RoutedIn
}

// RoutedIn returns how many calls made on other nodes this node has made
// on its stations' connections, whatever came of them. It is not the
// lesson's: make serve counts them in its metrics.
func (s *Server) RoutedIn() int64 { return s.cluster.routedIn.Load() }

// startCluster runs in New, once the Server is ready: a node with a NATS
// connection (Config.NATS) starts here what it needs to hear the others.
func (s *Server) startCluster() {
	s.cluster.nc = s.cfg.NATS
}

// stopCluster runs at the end of Close and Shutdown, once every station's
// reader has ended (and run leave): the node stops hearing the others, and
// waits for what it started.
func (s *Server) stopCluster() {}

// claim runs when a station connects to this node, before its first
// message is read: from then on, a call to it from any node must reach l.
func (s *Server) claim(l *link) {}

// leave runs when l's reader has ended: the cluster forgets l, and only l.
func (s *Server) leave(l *link) {}

// route makes a call to a station that is not connected to this node.
func (s *Server) route(ctx context.Context, station, action string, req, resp any) error {
	return fmt.Errorf("%s to %s: not connected here: %w", action, station, ErrNotConnected)
}
