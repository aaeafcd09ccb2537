package station

import (
	"github.com/ocppkata/kata/harness/ocpp"
)

// handler answers one call from the central system on a charger. It runs on
// the read loop, so it decides under the charger's lock and leaves the calls
// that follow to a job (see Charger.then).
type handler func(c *Charger, call *ocpp.Call) Reply

// chargerActions is what a charger does with each action it acts on: one
// entry an action. An action without an entry gets DefaultAnswer's answer.
func chargerActions() map[string]handler {
	return map[string]handler{
		ocpp.ActionChangeAvailability:     handle((*Charger).changeAvailability),
		ocpp.ActionChangeConfiguration:    handle((*Charger).changeConfiguration),
		ocpp.ActionGetConfiguration:       handle((*Charger).getConfiguration),
		ocpp.ActionRemoteStartTransaction: handle((*Charger).remoteStart),
		ocpp.ActionRemoteStopTransaction:  handle((*Charger).remoteStop),
		ocpp.ActionReset:                  handle((*Charger).reset),
		ocpp.ActionTriggerMessage:         handle((*Charger).triggerMessage),
		ocpp.ActionUnlockConnector:        handle((*Charger).unlockConnector),
		// Firmware Management (chargerfirmware.go)
		ocpp.ActionGetDiagnostics: handle((*Charger).getDiagnostics),
		ocpp.ActionUpdateFirmware: handle((*Charger).updateFirmware),
		// Local Auth List Management (chargerlocal.go)
		ocpp.ActionGetLocalListVersion: handle((*Charger).getLocalListVersion),
		ocpp.ActionSendLocalList:       handle((*Charger).sendLocalList),
		// Reservation (chargerreserve.go)
		ocpp.ActionReserveNow:        handle((*Charger).reserveNow),
		ocpp.ActionCancelReservation: handle((*Charger).cancelReservation),
		// Smart Charging (chargersmart.go)
		ocpp.ActionSetChargingProfile:   handle((*Charger).setChargingProfile),
		ocpp.ActionClearChargingProfile: handle((*Charger).clearChargingProfile),
		ocpp.ActionGetCompositeSchedule: handle((*Charger).getCompositeSchedule),
	}
}

// handle makes a handler of a method that takes its request decoded: a
// payload that does not decode, or breaks the schema, gets the CALLERROR
// DefaultAnswer would send.
func handle[Req any](f func(c *Charger, req *Req) Reply) handler {
	return func(c *Charger, call *ocpp.Call) Reply {
		var req Req
		if err := call.UnmarshalPayload(&req); err != nil {
			return Reply{Payload: payloadError(call.ID, err)}
		}
		return f(c, &req)
	}
}

// answer is the charger's Options.Answer.
func (c *Charger) answer(call *ocpp.Call) Reply {
	if h, ok := c.actions[call.Action]; ok {
		return h(c, call)
	}
	return DefaultAnswer(call)
}

// then answers with payload, and queues j once the answer is written.
func (c *Charger) then(payload any, j job) Reply {
	return Reply{Payload: payload, then: func() { c.enqueue(j) }}
}

// remoteStart starts a transaction on the connector asked for, or on the
// first the idTag has reserved, or else the first free one: see
// link.start. A connector reserved for another idTag is not free. A
// chargingProfile (a TxProfile: the schema sees to it) must name no
// transaction: the charger sets it on the connector once the transaction
// has its id.
func (c *Charger) remoteStart(req *ocpp.RemoteStartTransactionRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	var k *connector
	p := req.ChargingProfile
	switch {
	case c.rebooting:
	case p != nil && p.TransactionId != nil:
	case req.ConnectorId != nil:
		if k = c.connector(*req.ConnectorId); k != nil && !k.freeFor(req.IdTag) {
			k = nil
		}
	default:
		for _, kk := range c.connectors {
			if kk.freeFor(req.IdTag) && kk.reserved != nil {
				k = kk
				break
			}
		}
		for _, kk := range c.connectors {
			if k == nil && kk.free() {
				k = kk
			}
		}
	}
	if k == nil {
		return Reply{Payload: ocpp.RemoteStartTransactionResponse{Status: ocpp.RemoteStartStopRejected}}
	}
	k.tx = &transaction{idTag: req.IdTag, profile: p}
	return c.then(ocpp.RemoteStartTransactionResponse{Status: ocpp.RemoteStartStopAccepted}, func(l *link) { l.start(k) })
}

func (c *Charger) remoteStop(req *ocpp.RemoteStopTransactionRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.connectors {
		if k.charging() && k.tx.id == req.TransactionId {
			k.tx.stopping = ocpp.ReasonRemote
			return c.then(ocpp.RemoteStopTransactionResponse{Status: ocpp.RemoteStartStopAccepted}, func(l *link) { l.stop(k, true) })
		}
	}
	return Reply{Payload: ocpp.RemoteStopTransactionResponse{Status: ocpp.RemoteStartStopRejected}}
}

func (c *Charger) reset(req *ocpp.ResetRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	accepted := ocpp.ResetResponse{Status: ocpp.ResetAccepted}
	if c.rebooting {
		return Reply{Payload: accepted} // once is enough
	}
	c.rebooting = true
	reason := ocpp.ReasonSoftReset
	if req.Type == ocpp.ResetHard {
		reason = ocpp.ReasonHardReset
	}
	for _, k := range c.connectors {
		if k.tx != nil && k.tx.stopping == "" {
			k.tx.stopping = reason
		}
	}
	return c.then(accepted, func(l *link) { l.resetNow(req.Type) })
}

func (c *Charger) changeAvailability(req *ocpp.ChangeAvailabilityRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	targets := c.connectors
	if req.ConnectorId != 0 {
		k := c.connector(req.ConnectorId)
		if k == nil {
			return Reply{Payload: ocpp.ChangeAvailabilityResponse{Status: ocpp.AvailabilityRejected}}
		}
		targets = []*connector{k}
	}
	inoperative := req.Type == ocpp.AvailabilityInoperative
	status := ocpp.AvailabilityAccepted
	var changed []int
	for _, k := range targets {
		if k.inoperative == inoperative {
			continue
		}
		k.inoperative = inoperative
		if k.tx != nil {
			// The status changes when the transaction ends.
			if inoperative {
				status = ocpp.AvailabilityScheduled
			}
			continue
		}
		changed = append(changed, k.id)
	}
	resp := ocpp.ChangeAvailabilityResponse{Status: status}
	if len(changed) == 0 {
		return Reply{Payload: resp}
	}
	return c.then(resp, func(l *link) { l.statuses(changed) })
}

func (c *Charger) unlockConnector(req *ocpp.UnlockConnectorRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.connector(req.ConnectorId)
	if k == nil {
		return Reply{Payload: ocpp.UnlockConnectorResponse{Status: ocpp.UnlockStatusNotSupported}}
	}
	unlocked := ocpp.UnlockConnectorResponse{Status: ocpp.UnlockStatusUnlocked}
	if k.tx == nil || k.tx.stopping != "" {
		return Reply{Payload: unlocked}
	}
	// A transaction still starting stops once it has (see link.start).
	k.tx.stopping = ocpp.ReasonUnlockCommand
	return c.then(unlocked, func(l *link) { l.stop(k, true) })
}

func (c *Charger) getConfiguration(req *ocpp.GetConfigurationRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Reply{Payload: getConfiguration(c.config, req.Key)}
}

func (c *Charger) changeConfiguration(req *ocpp.ChangeConfigurationRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := ocpp.ChangeConfigurationResponse{Status: changeConfiguration(c.config, req.Key, req.Value)}
	if resp.Status == ocpp.ConfigurationAccepted && (req.Key == KeyHeartbeatInterval || req.Key == KeyMeterValueSampleInterval) {
		return c.then(resp, (*link).retime)
	}
	return Reply{Payload: resp}
}

// triggerFunc sends the message a TriggerMessage asked for, about the
// connectors ids.
type triggerFunc func(l *link, ids []int)

// chargerTriggers is what a charger sends for each message a TriggerMessage
// may ask for: one entry a message. A message without an entry is answered
// NotImplemented.
func chargerTriggers() map[string]triggerFunc {
	return map[string]triggerFunc{
		ocpp.TriggerBootNotification: func(l *link, _ []int) {
			if accepted, _, err := l.bootOnce(); accepted && err == nil {
				l.retime()
			}
		},
		ocpp.TriggerHeartbeat: func(l *link, _ []int) {
			l.call(ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
		},
		ocpp.TriggerStatusNotification: (*link).statuses,
		ocpp.TriggerMeterValues: func(l *link, ids []int) {
			for _, id := range ids {
				l.c.mu.Lock()
				req := l.c.meterValues(l.c.connector(id), ocpp.ContextTrigger, l.samples)
				l.c.mu.Unlock()
				l.call(ocpp.ActionMeterValues, req, nil)
			}
		},
		// The two notifications report the state now: Idle when no upload
		// or update runs.
		ocpp.TriggerDiagnosticsStatusNotification: func(l *link, _ []int) {
			l.c.mu.Lock()
			s := l.c.diagnostics
			l.c.mu.Unlock()
			l.diagnosticsStatus(s)
		},
		ocpp.TriggerFirmwareStatusNotification: func(l *link, _ []int) {
			l.c.mu.Lock()
			s := l.c.fwStatus
			l.c.mu.Unlock()
			l.call(ocpp.ActionFirmwareStatusNotification, ocpp.FirmwareStatusNotificationRequest{Status: s}, nil)
		},
	}
}

func (c *Charger) triggerMessage(req *ocpp.TriggerMessageRequest) Reply {
	send, ok := c.triggers[req.RequestedMessage]
	if !ok {
		return Reply{Payload: ocpp.TriggerMessageResponse{Status: ocpp.TriggerMessageNotImplemented}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.allConnectors()
	if req.ConnectorId != nil && *req.ConnectorId != 0 {
		if c.connector(*req.ConnectorId) == nil {
			return Reply{Payload: ocpp.TriggerMessageResponse{Status: ocpp.TriggerMessageRejected}}
		}
		ids = []int{*req.ConnectorId}
	}
	return c.then(ocpp.TriggerMessageResponse{Status: ocpp.TriggerMessageAccepted}, func(l *link) { send(l, ids) })
}
