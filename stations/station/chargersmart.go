package station

import (
	"math"
	"slices"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// The charger's own limit, with no charging profile: 16 A on each of three
// phases of 230 V, per connector.
const (
	maxAmps     = 16
	volts       = 230
	phasesOfAll = 3
)

// installedProfile is a charging profile set on a connector, or on the
// charger as a whole for connector 0.
type installedProfile struct {
	connector int
	ocpp.ChargingProfile
}

// installProfile sets p on connector, replacing a profile of the same id,
// or of the same stackLevel and purpose on that connector (OCPP 1.6
// §3.13.2). It reports false when that would make more profiles than
// MaxChargingProfilesInstalled. The caller holds mu.
func (c *Charger) installProfile(connector int, p ocpp.ChargingProfile) bool {
	kept := slices.DeleteFunc(slices.Clone(c.profiles), func(x installedProfile) bool {
		return x.ChargingProfileId == p.ChargingProfileId ||
			x.connector == connector && x.StackLevel == p.StackLevel && x.ChargingProfilePurpose == p.ChargingProfilePurpose
	})
	if len(kept) >= c.number(KeyMaxChargingProfilesInstalled) {
		return false
	}
	c.settle()
	c.profiles = append(kept, installedProfile{connector: connector, ChargingProfile: p})
	return true
}

// dropTxProfiles removes connector's TxProfiles, as the end of its
// transaction does; the caller holds mu.
func (c *Charger) dropTxProfiles(connector int) {
	c.settle()
	c.profiles = slices.DeleteFunc(c.profiles, func(x installedProfile) bool {
		return x.connector == connector && x.ChargingProfilePurpose == ocpp.PurposeTx
	})
}

// setChargingProfile keeps the profile (see installProfile). It is
// Rejected for a connector the charger does not have, a stackLevel above
// ChargeProfileMaxStackLevel, more periods than ChargingScheduleMaxPeriods,
// a Recurring profile without its startSchedule or recurrencyKind, and a
// TxProfile on a connector with no transaction, or another than the one it
// names.
func (c *Charger) setChargingProfile(req *ocpp.SetChargingProfileRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	rejected := Reply{Payload: ocpp.SetChargingProfileResponse{Status: ocpp.ChargingProfileRejected}}
	p := req.CsChargingProfiles
	k := c.connector(req.ConnectorId)
	switch {
	case req.ConnectorId != 0 && k == nil,
		p.StackLevel > c.number(KeyChargeProfileMaxStackLevel),
		len(p.ChargingSchedule.ChargingSchedulePeriod) > c.number(KeyChargingScheduleMaxPeriods),
		p.ChargingProfileKind == ocpp.KindRecurring && (p.ChargingSchedule.StartSchedule == nil || p.RecurrencyKind == ""):
		return rejected
	case p.ChargingProfilePurpose == ocpp.PurposeTx:
		if k.tx == nil || !k.tx.open || p.TransactionId != nil && *p.TransactionId != k.tx.id {
			return rejected
		}
	}
	if !c.installProfile(req.ConnectorId, p) {
		return rejected
	}
	return Reply{Payload: ocpp.SetChargingProfileResponse{Status: ocpp.ChargingProfileAccepted}}
}

// clearChargingProfile removes the profiles that match every field the
// request gives (all of them when it gives none): Unknown when none does.
func (c *Charger) clearChargingProfile(req *ocpp.ClearChargingProfileRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	before := len(c.profiles)
	c.profiles = slices.DeleteFunc(c.profiles, func(x installedProfile) bool {
		return (req.Id == nil || x.ChargingProfileId == *req.Id) &&
			(req.ConnectorId == nil || x.connector == *req.ConnectorId) &&
			(req.ChargingProfilePurpose == "" || x.ChargingProfilePurpose == req.ChargingProfilePurpose) &&
			(req.StackLevel == nil || x.StackLevel == *req.StackLevel)
	})
	status := ocpp.ClearChargingProfileAccepted
	if len(c.profiles) == before {
		status = ocpp.ClearChargingProfileUnknown
	}
	return Reply{Payload: ocpp.ClearChargingProfileResponse{Status: status}}
}

// getCompositeSchedule answers with the limits the connector keeps to from
// now for the duration asked, in the unit asked (A when none is): see
// composite. A connector the charger does not have is Rejected.
func (c *Charger) getCompositeSchedule(req *ocpp.GetCompositeScheduleRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.ConnectorId != 0 && c.connector(req.ConnectorId) == nil {
		return Reply{Payload: ocpp.GetCompositeScheduleResponse{Status: ocpp.CompositeScheduleRejected}}
	}
	unit := req.ChargingRateUnit
	if unit == "" {
		unit = ocpp.ChargingRateA
	}
	own := limit{rate: maxAmps, unit: ocpp.ChargingRateA, phases: phasesOfAll}
	if req.ConnectorId == 0 {
		own.rate *= float64(len(c.connectors))
	}
	start := time.Now().Truncate(time.Second)
	schedule := c.composite(req.ConnectorId, start, time.Duration(req.Duration)*time.Second, unit, own)
	return Reply{Payload: ocpp.GetCompositeScheduleResponse{
		Status:           ocpp.CompositeScheduleAccepted,
		ConnectorId:      &req.ConnectorId,
		ScheduleStart:    &ocpp.DateTime{Time: start},
		ChargingSchedule: &schedule,
	}}
}

// limit is a rate in a unit, on a number of phases.
type limit struct {
	rate   float64
	unit   ocpp.ChargingRateUnit
	phases int
}

// in converts l to unit, at 230 V a phase.
func (l limit) in(unit ocpp.ChargingRateUnit) float64 {
	switch {
	case l.unit == unit:
		return l.rate
	case unit == ocpp.ChargingRateW:
		return l.rate * volts * float64(l.phases)
	default:
		return l.rate / volts / float64(l.phases)
	}
}

// composite is the schedule connector keeps to from start for d, all its
// profiles combined (OCPP 1.6 §3.13): at each instant, the TxProfile in
// effect with the highest stackLevel or, without one, the TxDefaultProfile
// in effect with the highest (the connector's before connector 0's at the
// same level), capped by the ChargePointMaxProfile in effect with the
// highest stackLevel and by own, the charger's own limit. For connector 0
// it is the ChargePointMaxProfile and own. Relative profiles count from the start of the
// connector's transaction, or from start without one. Periods of the same
// limit are merged; limits are rounded to 0.1. The caller holds mu.
func (c *Charger) composite(connector int, start time.Time, d time.Duration, unit ocpp.ChargingRateUnit, own limit) ocpp.ChargingSchedule {
	end := start.Add(d)
	from := start // what Relative profiles count from
	if k := c.connector(connector); k != nil && k.tx != nil && k.tx.open {
		from = k.tx.started
	}
	var cpMax, tx, txDefault []installedProfile
	for _, p := range c.profiles {
		switch {
		case p.ChargingProfilePurpose == ocpp.PurposeChargePointMax:
			cpMax = append(cpMax, p)
		case connector == 0:
		case p.ChargingProfilePurpose == ocpp.PurposeTx && p.connector == connector:
			tx = append(tx, p)
		case p.ChargingProfilePurpose == ocpp.PurposeTxDefault && (p.connector == connector || p.connector == 0):
			txDefault = append(txDefault, p)
		}
	}
	// The connector's TxDefaultProfile wins over connector 0's of the same
	// stackLevel: put it last, where prevailing looks last.
	slices.SortStableFunc(txDefault, func(a, b installedProfile) int { return a.connector - b.connector })

	// The limit can change only where a profile's period, schedule or
	// validity begins or ends.
	edges := []time.Time{start}
	for _, p := range slices.Concat(cpMax, tx, txDefault) {
		edges = append(edges, p.edges(from, start, end)...)
	}
	slices.SortFunc(edges, time.Time.Compare)
	edges = slices.CompactFunc(edges, time.Time.Equal)

	schedule := ocpp.ChargingSchedule{Duration: ptrTo(int(d / time.Second)), ChargingRateUnit: unit}
	for _, t := range edges {
		if t.Before(start) || !t.Before(end) && !t.Equal(start) {
			continue
		}
		l := own
		if p, ok := prevailing(tx, t, from); ok {
			l = p
		} else if p, ok := prevailing(txDefault, t, from); ok {
			l = p
		}
		caps := []limit{own}
		if p, ok := prevailing(cpMax, t, from); ok {
			caps = append(caps, p)
		}
		for _, cp := range caps {
			if cp.in(unit) < l.in(unit) {
				l = cp
			}
		}
		period := ocpp.ChargingSchedulePeriod{StartPeriod: int(t.Sub(start) / time.Second), Limit: math.Round(l.in(unit)*10) / 10}
		if l.phases != phasesOfAll {
			period.NumberPhases = ptrTo(l.phases)
		}
		periods := schedule.ChargingSchedulePeriod
		if n := len(periods); n > 0 {
			if last := periods[n-1]; last.StartPeriod == period.StartPeriod {
				// Two edges within a second (times with milliseconds): the
				// later one's limit holds from that second on.
				periods = periods[:n-1]
			} else if last.Limit == period.Limit && phasesOf(last) == phasesOf(period) {
				continue
			}
		}
		if n := len(periods); n > 0 && periods[n-1].Limit == period.Limit && phasesOf(periods[n-1]) == phasesOf(period) {
			schedule.ChargingSchedulePeriod = periods
			continue
		}
		schedule.ChargingSchedulePeriod = append(periods, period)
	}
	return schedule
}

// meterRate is the power in W at which k's meter counts at t: the
// charger's power, or less if its charging profiles allow less. The
// caller holds mu.
func (c *Charger) meterRate(k *connector, t time.Time) float64 {
	own := limit{rate: float64(c.p.power), unit: ocpp.ChargingRateW, phases: phasesOfAll}
	if len(c.profiles) == 0 {
		return own.rate
	}
	return c.composite(k.id, t, 0, ocpp.ChargingRateW, own).ChargingSchedulePeriod[0].Limit
}

// counting is the energy in Wh that k's meter counted since k.tx.since,
// until now, at the rate the charging profiles allowed. The caller holds
// mu.
func (c *Charger) counting(k *connector, now time.Time) float64 {
	d := now.Sub(k.tx.since)
	if d <= 0 {
		return 0
	}
	if len(c.profiles) == 0 {
		return float64(c.p.power) * d.Hours()
	}
	own := limit{rate: float64(c.p.power), unit: ocpp.ChargingRateW, phases: phasesOfAll}
	periods := c.composite(k.id, k.tx.since, d, ocpp.ChargingRateW, own).ChargingSchedulePeriod
	var wh float64
	for i, p := range periods {
		end := d
		if i+1 < len(periods) {
			end = time.Duration(periods[i+1].StartPeriod) * time.Second
		}
		wh += p.Limit * (end - time.Duration(p.StartPeriod)*time.Second).Hours()
	}
	return wh
}

// settle counts what the meters of the connectors in a transaction counted
// so far, before the charging profiles change; the caller holds mu.
func (c *Charger) settle() {
	now := time.Now()
	for _, k := range c.connectors {
		if k.tx != nil && k.tx.open {
			k.tx.counted += c.counting(k, now)
			k.tx.since = now
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func phasesOf(p ocpp.ChargingSchedulePeriod) int {
	if p.NumberPhases == nil {
		return phasesOfAll
	}
	return *p.NumberPhases
}

// prevailing is the limit at t of the profile with the highest stackLevel
// among those in effect at t, the last of them at the same level; false
// when none is.
func prevailing(profiles []installedProfile, t, from time.Time) (limit, bool) {
	var best limit
	level := -1
	for _, p := range profiles {
		if l, ok := p.at(t, from); ok && p.StackLevel >= level {
			best, level = l, p.StackLevel
		}
	}
	return best, level >= 0
}

// cycle is how long a Recurring profile's cycle is.
func (p installedProfile) cycle() time.Duration {
	if p.RecurrencyKind == ocpp.RecurrencyWeekly {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// scheduleStart is when the cycle of p's schedule that is under way at t
// began (Relative profiles count from from), and false when its schedule
// has not begun by t.
func (p installedProfile) scheduleStart(t, from time.Time) (time.Time, bool) {
	s := from
	if p.ChargingProfileKind != ocpp.KindRelative && p.ChargingSchedule.StartSchedule != nil {
		s = p.ChargingSchedule.StartSchedule.Time
	}
	if t.Before(s) {
		return s, false
	}
	if p.ChargingProfileKind == ocpp.KindRecurring {
		s = s.Add(t.Sub(s) / p.cycle() * p.cycle())
	}
	return s, true
}

// at is p's limit at t, and false when p is not in effect at t: outside its
// validity, before its schedule or after the schedule's duration, or before
// its first period.
func (p installedProfile) at(t, from time.Time) (limit, bool) {
	if p.ValidFrom != nil && t.Before(p.ValidFrom.Time) || p.ValidTo != nil && !t.Before(p.ValidTo.Time) {
		return limit{}, false
	}
	s, ok := p.scheduleStart(t, from)
	if !ok {
		return limit{}, false
	}
	offset := t.Sub(s)
	sch := p.ChargingSchedule
	if sch.Duration != nil && offset >= time.Duration(*sch.Duration)*time.Second {
		return limit{}, false
	}
	var l limit
	for _, period := range sch.ChargingSchedulePeriod {
		if time.Duration(period.StartPeriod)*time.Second > offset {
			break
		}
		l = limit{rate: period.Limit, unit: sch.ChargingRateUnit, phases: phasesOf(period)}
	}
	return l, l.unit != ""
}

// edges are the instants in [start, end) where p's limit may change.
func (p installedProfile) edges(from, start, end time.Time) []time.Time {
	var out []time.Time
	for _, v := range []*ocpp.DateTime{p.ValidFrom, p.ValidTo} {
		if v != nil {
			out = append(out, v.Time)
		}
	}
	// Each cycle's start, periods and end, from the cycle under way at
	// start (or the first, if none is yet) until end.
	s, _ := p.scheduleStart(start, from)
	for cs := s; cs.Before(end); cs = cs.Add(p.cycle()) {
		out = append(out, cs)
		for _, period := range p.ChargingSchedule.ChargingSchedulePeriod {
			out = append(out, cs.Add(time.Duration(period.StartPeriod)*time.Second))
		}
		if dur := p.ChargingSchedule.Duration; dur != nil {
			out = append(out, cs.Add(time.Duration(*dur)*time.Second))
		}
		if p.ChargingProfileKind != ocpp.KindRecurring {
			break
		}
	}
	return out
}
