package station

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Subprotocol is the WebSocket subprotocol a station offers and requires.
const Subprotocol = "ocpp1.6"

// Dialer opens the network connection under the WebSocket. It has the
// signature of net.Dialer.DialContext so that an in-memory listener can stand
// in for the network; nil means real TCP.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configure a station.
type Options struct {
	// URL is the central system's endpoint, such as
	// "ws://127.0.0.1:8080/ocpp". The station's id is appended as
	// "/"+url.PathEscape(id).
	URL string
	// Dial opens the network connection; nil means real TCP.
	Dial Dialer
	// TLS, if set, gives station id's TLS configuration for a wss:// URL:
	// the CAs it trusts and the client certificate it presents (OCPP
	// security profile 3). An error is the station's failure to connect.
	// nil, or a nil configuration, means the system's roots and no
	// certificate.
	TLS func(id string) (*tls.Config, error)
	// Password, if set, is sent with HTTP Basic authentication, the station
	// id being the user name: OCPP 1.6 security profile 1, where the
	// password is the station's AuthorizationKey.
	Password string
	// Answer decides how the station answers a CALL that the central system
	// sends (RemoteStartTransaction, Reset, ChangeConfiguration, …). It runs
	// on the station's read loop, so it must return quickly; a slow answer
	// is expressed with Reply.Delay, not by blocking. nil means DefaultAnswer.
	Answer func(call *ocpp.Call) Reply
}

// Reply is how a station answers one CALL from the central system.
type Reply struct {
	// Payload is the CALLRESULT's payload (nil sends {}). A *ocpp.CallError
	// is sent as a CALLERROR instead, with the call's id filled in.
	Payload any
	// Delay is how long the station waits before answering. The read loop
	// goes on meanwhile, so a slow answer never holds up other frames.
	Delay time.Duration
	// Drop means never answer, the way a station with a bug or a full queue
	// behaves.
	Drop bool
	// Disconnect means close the connection (after Delay) instead of
	// answering, without a close frame, the way a station that reboots or
	// loses its network behaves.
	Disconnect bool

	// then, if set, runs once the answer is written, never if it is not: a
	// Charger starts acting on a call (a charging session, a reboot) only
	// after the server has its answer, as a charger does. It must not block:
	// Close waits for it.
	then func()
}

// DefaultAnswer answers at once with a plausible, positive response to every
// call of the Core and Remote Trigger profiles. Like a real station it checks
// the request first: a payload that breaks the OCPP 1.6 schema gets the
// CALLERROR the schema calls for, and an action the station does not know
// gets NotImplemented. A custom Options.Answer can delegate to it and change
// only what it needs.
func DefaultAnswer(call *ocpp.Call) Reply {
	req, known := ocpp.RequestToStationFor(call.Action)
	if !known {
		return Reply{Payload: ocpp.NewCallError(call.ID, ocpp.NotImplemented,
			"the simulated station does not implement "+call.Action)}
	}
	if err := call.UnmarshalPayload(req); err != nil {
		return Reply{Payload: payloadError(call.ID, err)}
	}
	switch r := req.(type) {
	case *ocpp.ChangeAvailabilityRequest:
		return Reply{Payload: ocpp.ChangeAvailabilityResponse{Status: ocpp.AvailabilityAccepted}}
	case *ocpp.ChangeConfigurationRequest:
		return Reply{Payload: ocpp.ChangeConfigurationResponse{Status: ocpp.ConfigurationAccepted}}
	case *ocpp.ClearCacheRequest:
		return Reply{Payload: ocpp.ClearCacheResponse{Status: ocpp.ClearCacheAccepted}}
	case *ocpp.DataTransferRequest:
		return Reply{Payload: ocpp.DataTransferResponse{Status: ocpp.DataTransferAccepted}}
	case *ocpp.GetConfigurationRequest:
		return Reply{Payload: configuration(r.Key)}
	case *ocpp.RemoteStartTransactionRequest:
		return Reply{Payload: ocpp.RemoteStartTransactionResponse{Status: ocpp.RemoteStartStopAccepted}}
	case *ocpp.RemoteStopTransactionRequest:
		return Reply{Payload: ocpp.RemoteStopTransactionResponse{Status: ocpp.RemoteStartStopAccepted}}
	case *ocpp.ResetRequest:
		return Reply{Payload: ocpp.ResetResponse{Status: ocpp.ResetAccepted}}
	case *ocpp.UnlockConnectorRequest:
		return Reply{Payload: ocpp.UnlockConnectorResponse{Status: ocpp.UnlockStatusUnlocked}}
	case *ocpp.TriggerMessageRequest:
		return Reply{Payload: ocpp.TriggerMessageResponse{Status: ocpp.TriggerMessageAccepted}}
	default:
		return Reply{Payload: ocpp.NewCallError(call.ID, ocpp.NotSupported,
			"the simulated station does not support "+call.Action)}
	}
}

// payloadError is the CALLERROR for a call whose payload could not be
// decoded or broke the schema: the one the schema calls for, or a
// FormationViolation.
func payloadError(id string, err error) *ocpp.CallError {
	var fe *ocpp.FrameError
	if errors.As(err, &fe) {
		return ocpp.NewCallError(id, fe.Code, fe.Reason)
	}
	return ocpp.NewCallError(id, ocpp.FormationViolation, err.Error())
}

// configuration answers GetConfiguration from a small, fixed set of keys,
// and lists the keys it does not know, as a real station does. No keys asked
// means all of them.
func configuration(keys []string) ocpp.GetConfigurationResponse {
	return getConfiguration([]configKey{
		{name: "HeartbeatInterval", value: "300"},
		{name: "MeterValueSampleInterval", value: "60"},
		{name: "NumberOfConnectors", value: "1", readonly: true},
	}, keys)
}
