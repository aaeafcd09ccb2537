package backend

import (
	"errors"
	"fmt"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// HeartbeatInterval is the interval, in seconds, that the backend gives
// stations in its BootNotification answer.
const HeartbeatInterval = 300

// Answer returns what the central system answers to a call, at once: the
// business logic without the latency. Handle uses it; a server that
// acknowledges a message before processing it (step 03 on) calls it directly.
// A payload that breaks the schema gets the CALLERROR OCPP prescribes; an
// action the backend does not know gets NotImplemented.
func (b *Backend) Answer(station string, call *ocpp.Call) ocpp.Message {
	req, ok := ocpp.RequestFor(call.Action)
	if !ok {
		return ocpp.NewCallError(call.ID, ocpp.NotImplemented, fmt.Sprintf("action %q is not implemented", call.Action))
	}
	if err := call.UnmarshalPayload(req); err != nil {
		var fe *ocpp.FrameError
		if errors.As(err, &fe) {
			return ocpp.NewCallError(call.ID, fe.Code, fe.Reason)
		}
		return ocpp.NewCallError(call.ID, ocpp.FormationViolation, err.Error())
	}
	result, err := ocpp.NewCallResult(call.ID, b.respond(station, req))
	if err != nil {
		return ocpp.NewCallError(call.ID, ocpp.InternalError, err.Error())
	}
	return result
}

func (b *Backend) respond(station string, req any) any {
	now := ocpp.DateTime{Time: time.Now().UTC()}
	accepted := ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}
	switch r := req.(type) {
	case *ocpp.BootNotificationRequest:
		return ocpp.BootNotificationResponse{Status: ocpp.RegistrationAccepted, CurrentTime: now, Interval: HeartbeatInterval}
	case *ocpp.HeartbeatRequest:
		return ocpp.HeartbeatResponse{CurrentTime: now}
	case *ocpp.AuthorizeRequest:
		return ocpp.AuthorizeResponse{IdTagInfo: accepted}
	case *ocpp.StartTransactionRequest:
		return ocpp.StartTransactionResponse{IdTagInfo: accepted, TransactionId: b.transaction(station, r)}
	case *ocpp.StopTransactionRequest:
		// Always answered, even for a transaction we do not know: the
		// station would resend it forever otherwise.
		return ocpp.StopTransactionResponse{IdTagInfo: &accepted}
	case *ocpp.DataTransferRequest:
		return ocpp.DataTransferResponse{Status: ocpp.DataTransferUnknownVendorId}
	case *ocpp.MeterValuesRequest:
		return ocpp.MeterValuesResponse{}
	case *ocpp.StatusNotificationRequest:
		return ocpp.StatusNotificationResponse{}
	}
	return struct{}{}
}

// transaction returns the station's id for a StartTransaction: a new one,
// or the same one again when the station replays a start it already sent.
func (b *Backend) transaction(station string, r *ocpp.StartTransactionRequest) int {
	key := fmt.Sprintf("%d|%s|%d|%s", r.ConnectorId, r.IdTag, r.MeterStart, r.Timestamp.UTC().Format(time.RFC3339Nano))
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.station(station)
	if id, ok := st.txByKey[key]; ok {
		return id
	}
	st.nextTx++
	st.txByKey[key] = st.nextTx
	return st.nextTx
}
