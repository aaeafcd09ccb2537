package million

import (
	"errors"
	"fmt"

	"github.com/ocppkata/kata/harness/ocpp"
)

// The errors of Call, for errors.Is. A CALLERROR the station answered with
// is returned as a *ocpp.CallError (errors.As finds its code and
// description); a context that ended, as the context's error.
var (
	// ErrNotConnected: the station has no connection to the server.
	ErrNotConnected = errors.New("station not connected")
	// ErrDisconnected: the station's connection ended before the call was
	// answered: the station may or may not have done what it was asked.
	ErrDisconnected = errors.New("station disconnected before answering")
	// ErrShuttingDown: the server is shutting down; it reads no answer
	// any more, and makes no new call.
	ErrShuttingDown = errors.New("server shutting down")
)

// decode turns a station's answer into Call's result: a CALLRESULT's
// payload decoded into resp (and checked against the OCPP 1.6 schema by its
// Validate method), or the CALLERROR as an error.
func decode(station, action string, answer ocpp.Message, resp any) error {
	switch a := answer.(type) {
	case *ocpp.CallError:
		return fmt.Errorf("%s to %s: %w", action, station, a)
	case *ocpp.CallResult:
		if resp == nil {
			return nil
		}
		if err := a.UnmarshalPayload(resp); err != nil {
			return fmt.Errorf("%s to %s: the answer breaks the schema: %w", action, station, err)
		}
		return nil
	default:
		return fmt.Errorf("%s to %s: answered with a %v", action, station, answer.Type())
	}
}

// bootAccepted reports whether m accepts a station's BootNotification.
func bootAccepted(m ocpp.Message) bool {
	res, ok := m.(*ocpp.CallResult)
	if !ok {
		return false
	}
	var resp ocpp.BootNotificationResponse
	return res.UnmarshalPayload(&resp) == nil && resp.Status == ocpp.RegistrationAccepted
}
