package station

import (
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// reservation is a connector's reservation (ReserveNow), guarded by the
// Charger's mu.
type reservation struct {
	id     int
	idTag  string
	expiry *time.Timer // after's: ends the reservation at its expiryDate
}

// holds reports whether the reservation is for idTag (idTags are
// case-insensitive).
func (r *reservation) holds(idTag string) bool { return strings.EqualFold(r.idTag, idTag) }

// reservation returns the connector that holds reservation id, or nil; the
// caller holds mu.
func (c *Charger) reservation(id int) *connector {
	for _, k := range c.connectors {
		if k.reserved != nil && k.reserved.id == id {
			return k
		}
	}
	return nil
}

// reserveNow reserves a connector for an idTag until the expiry date: the
// connector is Reserved, and only that idTag starts a transaction on it
// (see connector.freeFor); the StartTransaction that does carries the
// reservation's id. A reservation of an id the charger holds replaces it.
// Connector 0 is Rejected (ReserveConnectorZeroSupported is false), so is
// an expiry date that has passed; a connector out of service is
// Unavailable, one in use or reserved for another Occupied. The charger
// has no faults, so no Faulted.
func (c *Charger) reserveNow(req *ocpp.ReserveNowRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	answer := func(s ocpp.ReservationStatus) Reply { return Reply{Payload: ocpp.ReserveNowResponse{Status: s}} }
	k := c.connector(req.ConnectorId)
	old := c.reservation(req.ReservationId)
	switch {
	case k == nil || !req.ExpiryDate.After(time.Now()):
		return answer(ocpp.ReservationRejected)
	case k.inoperative:
		return answer(ocpp.ReservationUnavailable)
	case k.tx != nil || k.reserved != nil && k != old:
		return answer(ocpp.ReservationOccupied)
	}
	changed := []int{k.id}
	if old != nil {
		c.stopTimer(old.reserved.expiry)
		old.reserved = nil
		if old != k {
			changed = append(changed, old.id)
		}
	}
	r := &reservation{id: req.ReservationId, idTag: req.IdTag}
	r.expiry = c.after(time.Until(req.ExpiryDate.Time), func() {
		if k.reserved == r {
			k.reserved = nil
			c.push(func(l *link) { l.statuses([]int{k.id}) })
		}
	})
	k.reserved = r
	return c.then(ocpp.ReserveNowResponse{Status: ocpp.ReservationAccepted}, func(l *link) { l.statuses(changed) })
}

// cancelReservation ends a reservation the charger holds; an id it does
// not hold is Rejected.
func (c *Charger) cancelReservation(req *ocpp.CancelReservationRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.reservation(req.ReservationId)
	if k == nil {
		return Reply{Payload: ocpp.CancelReservationResponse{Status: ocpp.CancelReservationRejected}}
	}
	c.stopTimer(k.reserved.expiry)
	k.reserved = nil
	return c.then(ocpp.CancelReservationResponse{Status: ocpp.CancelReservationAccepted}, func(l *link) { l.statuses([]int{k.id}) })
}
