package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// HeartbeatInterval is the interval, in seconds, that the backend gives
// stations in its BootNotification answer.
const HeartbeatInterval = 300

// Answer returns what the central system answers to a call, at once: the
// business logic without the latency. Handle uses it; a server that
// acknowledges a message before processing it (step 03 on) calls it directly.
// A payload that breaks the schema gets the CALLERROR OCPP prescribes; an
// action the backend does not know gets NotImplemented.
//
// With a Store, Answer keeps what the call reports before it answers
// (a BootNotification's station, a transaction's start, which ends the
// reservation it names, or its stop, which ends its TxProfiles); meter
// values and status notifications are kept by Process or WriteBatch, or
// by Handle when the server answers them there.
func (b *Backend) Answer(station string, call *ocpp.Call) ocpp.Message {
	answer := b.answer(context.Background(), station, call)
	b.observe(call.Action, answer, 0)
	return answer
}

func (b *Backend) answer(ctx context.Context, station string, call *ocpp.Call) ocpp.Message {
	now := time.Now()
	b.sawStation(station, now)
	if b.opts.Registration != ocpp.RegistrationAccepted && call.Action != ocpp.ActionBootNotification {
		if status := b.Registration(station); status != ocpp.RegistrationAccepted {
			if status == "" {
				status = "not registered"
			}
			return ocpp.NewCallError(call.ID, ocpp.SecurityError, fmt.Sprintf(
				"%s is %s: send nothing but BootNotification until it is Accepted (OCPP 1.6 §4.2)", station, status))
		}
	}
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
	resp, err := b.respond(ctx, station, req, now)
	if err != nil {
		return notStored(call, err)
	}
	result, err := ocpp.NewCallResult(call.ID, resp)
	if err != nil {
		return ocpp.NewCallError(call.ID, ocpp.InternalError, err.Error())
	}
	return result
}

// respond is the business logic: the answer to a valid request, once what
// it reports is stored; now is when it was asked.
func (b *Backend) respond(ctx context.Context, station string, req any, now time.Time) (any, error) {
	now = now.UTC()
	st := b.opts.Store
	switch r := req.(type) {
	case *ocpp.BootNotificationRequest:
		if st != nil {
			if err := st.Boot(ctx, station, *r, now); err != nil {
				return nil, b.storeError("boot", err)
			}
		}
		b.mu.Lock()
		b.booted[station] = b.opts.Registration
		b.mu.Unlock()
		// Accepted: the heartbeat interval; Pending or Rejected: how long
		// to wait before the next BootNotification.
		return ocpp.BootNotificationResponse{Status: b.opts.Registration, CurrentTime: ocpp.DateTime{Time: now}, Interval: b.opts.HeartbeatInterval}, nil
	case *ocpp.HeartbeatRequest:
		return ocpp.HeartbeatResponse{CurrentTime: ocpp.DateTime{Time: now}}, nil
	case *ocpp.AuthorizeRequest:
		return ocpp.AuthorizeResponse{IdTagInfo: b.opts.IdTags.Info(r.IdTag, now)}, nil
	case *ocpp.StartTransactionRequest:
		// Without a store the backend still gives a replayed start the
		// id it gave first: it keeps the transactions' ids in memory.
		ids := st
		if ids == nil {
			ids = &b.transactions
		}
		id, err := ids.StartTransaction(ctx, station, *r)
		if err != nil {
			return nil, b.storeError("start transaction", err)
		}
		// A start that names a reservation uses it up (OCPP 1.6 §5.13).
		// Should ending it fail, the station gets a CALLERROR and sends
		// the start again: the replay gets the same id, and ends it then.
		if st != nil && r.ReservationId != nil {
			if _, err := st.EndReservation(ctx, station, *r.ReservationId); err != nil {
				return nil, b.storeError("end reservation", err)
			}
		}
		// The transaction is recorded whatever the tag's status: the
		// station has started charging, and stops if it is not Accepted.
		return ocpp.StartTransactionResponse{IdTagInfo: b.opts.IdTags.Info(r.IdTag, now), TransactionId: id}, nil
	case *ocpp.StopTransactionRequest:
		// Always answered, even for a transaction we do not know: the
		// station would resend it forever otherwise.
		if st != nil {
			known, err := st.StopTransaction(ctx, station, *r)
			if err != nil {
				return nil, b.storeError("stop transaction", err)
			}
			// A TxProfile lives as long as its transaction (OCPP 1.6
			// §3.13.2): the station drops it now, and so does the store.
			// Should that fail, the station's resend clears it then.
			if known {
				if err := b.clearTxProfiles(ctx, st, station, r.TransactionId); err != nil {
					return nil, err
				}
			}
		}
		var info *ocpp.IdTagInfo
		if r.IdTag != "" { // idTagInfo only answers an idTag
			i := b.opts.IdTags.Info(r.IdTag, now)
			info = &i
		}
		return ocpp.StopTransactionResponse{IdTagInfo: info}, nil
	case *ocpp.DataTransferRequest:
		return ocpp.DataTransferResponse{Status: ocpp.DataTransferUnknownVendorId}, nil
	case *ocpp.MeterValuesRequest:
		return ocpp.MeterValuesResponse{}, nil
	case *ocpp.StatusNotificationRequest:
		return ocpp.StatusNotificationResponse{}, nil
	case *ocpp.FirmwareStatusNotificationRequest:
		if err := b.firmwareReport(ctx, station, store.FirmwareReport{Firmware: r.Status, At: now}); err != nil {
			return nil, err
		}
		return ocpp.FirmwareStatusNotificationResponse{}, nil
	case *ocpp.DiagnosticsStatusNotificationRequest:
		if err := b.firmwareReport(ctx, station, store.FirmwareReport{Diagnostics: r.Status, At: now}); err != nil {
			return nil, err
		}
		return ocpp.DiagnosticsStatusNotificationResponse{}, nil
	}
	return struct{}{}, nil
}

// firmwareReport stores a Firmware Management notification, if the
// backend has a store: the API reads it from there.
func (b *Backend) firmwareReport(ctx context.Context, station string, r store.FirmwareReport) error {
	if st := b.opts.Store; st != nil {
		if err := st.FirmwareReport(ctx, station, r); err != nil {
			return b.storeError("firmware report", err)
		}
	}
	return nil
}

// clearTxProfiles removes from st the TxProfiles of the connector that
// transaction id charged on, now that it has ended.
func (b *Backend) clearTxProfiles(ctx context.Context, st store.Store, station string, id int) error {
	tx, err := st.Transaction(ctx, id)
	if err != nil {
		return b.storeError("find the stopped transaction", err)
	}
	connector := tx.ConnectorID
	_, err = st.ClearChargingProfile(ctx, station, ocpp.ClearChargingProfileRequest{
		ConnectorId: &connector, ChargingProfilePurpose: ocpp.PurposeTx,
	})
	if err != nil {
		return b.storeError("clear the transaction's charging profiles", err)
	}
	return nil
}
