package station

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// localList is a charger's local authorization list (SendLocalList).
type localList struct {
	version int
	entries map[string]ocpp.IdTagInfo // by idTag in upper case: idTags are case-insensitive
}

// accepts reports whether the list accepts idTag at now: it holds the tag,
// Accepted and not expired.
func (ll *localList) accepts(idTag string, now time.Time) bool {
	info, ok := ll.entries[strings.ToUpper(idTag)]
	return ok && info.Status == ocpp.AuthorizationAccepted && (info.ExpiryDate == nil || now.Before(info.ExpiryDate.Time))
}

func (c *Charger) getLocalListVersion(*ocpp.GetLocalListVersionRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Reply{Payload: ocpp.GetLocalListVersionResponse{ListVersion: c.localList.version}}
}

// sendLocalList replaces the list (Full) or changes the entries it names
// (Differential, whose version must be newer than the list's:
// VersionMismatch otherwise). An update longer than SendLocalListMaxLength,
// or one that would make the list longer than LocalAuthListMaxLength,
// Failed. The list is kept while LocalAuthListEnabled is false, and not
// used.
func (c *Charger) sendLocalList(req *ocpp.SendLocalListRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	answer := func(s ocpp.UpdateStatus) Reply { return Reply{Payload: ocpp.SendLocalListResponse{Status: s}} }
	if len(req.LocalAuthorizationList) > c.number(KeySendLocalListMaxLength) {
		return answer(ocpp.UpdateFailed)
	}
	entries := make(map[string]ocpp.IdTagInfo)
	switch req.UpdateType {
	case ocpp.UpdateFull:
	case ocpp.UpdateDifferential:
		if req.ListVersion <= c.localList.version {
			return answer(ocpp.UpdateVersionMismatch)
		}
		for tag, info := range c.localList.entries {
			entries[tag] = info
		}
	}
	for _, e := range req.LocalAuthorizationList {
		tag := strings.ToUpper(e.IdTag)
		if e.IdTagInfo == nil {
			delete(entries, tag) // only in a Differential update: Validate saw to it
			continue
		}
		entries[tag] = *e.IdTagInfo
	}
	if len(entries) > c.number(KeyLocalAuthListMaxLength) {
		return answer(ocpp.UpdateFailed)
	}
	c.localList = localList{version: req.ListVersion, entries: entries}
	return answer(ocpp.UpdateAccepted)
}

// number reads a key that holds a whole number; the caller holds mu.
func (c *Charger) number(name string) int {
	n, _ := strconv.Atoi(findKey(c.config, name).value) // the table holds whole numbers there
	return n
}

// authorized reports whether idTag may charge, as a charger decides before
// a StartTransaction. While LocalAuthListEnabled is true, the local list
// is asked first: with LocalPreAuthorize, an idTag it accepts needs no
// Authorize; with LocalAuthorizeOffline, it is accepted when Authorize
// gets no answer (a CALLERROR is an answer, and a refusal). Otherwise the
// central system's Authorize decides.
func (l *link) authorized(idTag string) bool {
	c := l.c
	c.mu.Lock()
	listed := c.flag(KeyLocalAuthListEnabled) && c.localList.accepts(idTag, time.Now())
	pre, offline := listed && c.flag(KeyLocalPreAuthorize), listed && c.flag(KeyLocalAuthorizeOffline)
	c.mu.Unlock()
	if pre {
		return true
	}
	var resp ocpp.AuthorizeResponse
	err := l.call(ocpp.ActionAuthorize, ocpp.AuthorizeRequest{IdTag: idTag}, &resp)
	var ce *ocpp.CallError
	if err != nil {
		return offline && !errors.As(err, &ce)
	}
	return resp.IdTagInfo.Status == ocpp.AuthorizationAccepted
}
