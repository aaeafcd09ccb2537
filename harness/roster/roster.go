// Package roster tells which node of a cluster holds each station's
// connection, for the operator's view of the whole cluster: the API of any
// node lists every station, says whether it is connected anywhere, and
// names the node that holds it.
//
// # Ask, do not track
//
// A Roster asks the other nodes when it is asked, and keeps no directory of
// stations. A listing (Holders) publishes one request on the subject
// kata.roster.held, to which every node's Roster subscribes; each answers
// on the request's inbox with the ids of the stations connected to it now
// (its Stations), and the asker adds its own. Holder asks the same of one
// station, and stops at the first node that holds it.
//
// A directory kept from connect and disconnect events would make a listing
// free, but it is only as right as the events that reached it: core NATS
// drops what a node publishes while it reconnects, a node that dies sends
// no "disconnected", and a node that joins late knows nothing. Repairing
// that takes snapshots and expiry, which is asking anyway, on a timer. Asking
// costs a request to each node and an answer from each per listing: with 3
// nodes of 3,000 stations, three answers of some 40 KB; BenchmarkHolders
// measures 7 to 9 ms and 3 MB allocated per listing on a busy 2-core
// machine, for an operator's listing rather than a station's message. Its
// answer is as of now: a dead node's stations read as not connected at
// once, as they are (they are on their way to another node).
//
// # Bounded
//
// A listing waits for the nodes it knows of, and at most Options.Wait. A
// Roster knows the others by their heartbeats on kata.roster.alive (every
// Options.Heartbeat; a node unheard for three is forgotten), by the hello a
// node sends when it starts (the others answer with a heartbeat at once),
// and by the bye it sends when it stops. A node that did not answer a
// listing in time is not waited for again until it is heard from: a node
// that died costs one Wait, once, not one per listing. A listing while this
// node is cut off from the broker answers this node's stations at once.
//
// An answer travels in parts of at most partBytes of ids, so that no
// message nears NATS's payload limit (1 MiB by default) however many
// stations a node holds.
//
// Two nodes may answer for the same station for a moment (a newer
// connection takes over from an older one): the listing names one of them.
// A Roster without a NATS connection is a cluster of one: it answers from
// its Stations alone.
package roster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// The subjects of the roster's protocol.
const (
	heldSubject  = "kata.roster.held"  // a request: which stations do you hold?
	aliveSubject = "kata.roster.alive" // a heartbeat, a hello or a bye
)

// The headers of its messages.
const (
	fromHeader    = "Roster-From"    // the sending Roster's instance: its own messages come back to it
	nodeHeader    = "Roster-Node"    // the sending node's name
	stationHeader = "Roster-Station" // a request about one station
	moreHeader    = "Roster-More"    // an answer that more parts follow
	kindHeader    = "Roster-Kind"    // on kata.roster.alive: hello, alive or bye
)

// The kinds of message on kata.roster.alive.
const (
	kindHello = "hello" // a node that starts: every other answers alive at once
	kindAlive = "alive"
	kindBye   = "bye" // a node that stops: no one waits for it any more
)

// partBytes bounds the ids in one part of an answer.
const partBytes = 64 << 10

// Defaults of Options.
const (
	DefaultWait      = time.Second
	DefaultHeartbeat = 2 * time.Second
)

// forgetAfter is how many heartbeats a node may miss before it is
// forgotten.
const forgetAfter = 3

// Stations are a node's connected stations. A *portmux.Mux is one.
type Stations interface {
	// Connected returns the ids of the stations connected now.
	Connected() []string
	// IsConnected reports whether station id is connected now.
	IsConnected(id string) bool
}

// Options configure a Roster.
type Options struct {
	// Node is this node's name, as the listings give it. Required.
	Node string
	// Stations are this node's. Required.
	Stations Stations
	// NATS connects the node to the others; nil makes it a cluster of one.
	// The Roster does not close it.
	NATS *nats.Conn
	// Wait bounds how long a listing waits for the other nodes' answers.
	// Zero means DefaultWait.
	Wait time.Duration
	// Heartbeat is how often the node tells the others it is there. Zero
	// means DefaultHeartbeat.
	Heartbeat time.Duration
	// Logger receives what goes wrong with the broker; nil discards it.
	Logger *slog.Logger
}

// member is another node, as this one knows it.
type member struct {
	node  string
	heard time.Time // its last message
	// missed is set when it did not answer a listing in time, and cleared
	// when it is heard from: no listing waits for it meanwhile.
	missed bool
}

// A Roster tells which node holds each station. Its methods are safe for
// concurrent use.
type Roster struct {
	opts Options
	self string // this Roster's instance: a node name may be taken twice
	subs []*nats.Subscription
	stop chan struct{}
	beat sync.WaitGroup

	mu      sync.Mutex
	members map[string]*member // by instance
	closed  bool
}

// New returns the Roster of a node, and with a NATS connection starts
// answering the other nodes and telling them it is there. Close stops it.
func New(opts Options) (*Roster, error) {
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Roster{opts: opts, self: rand.Text(), stop: make(chan struct{}), members: make(map[string]*member)}
	nc := opts.NATS
	if nc == nil {
		return r, nil
	}
	for subject, h := range map[string]nats.MsgHandler{heldSubject: r.answer, aliveSubject: r.heard} {
		sub, err := nc.Subscribe(subject, h)
		if err != nil {
			r.unsubscribe()
			return nil, fmt.Errorf("roster: subscribe to %s: %w", subject, err)
		}
		r.subs = append(r.subs, sub)
	}
	r.announce(kindHello)
	r.beat.Go(r.heartbeats)
	return r, nil
}

// Node returns this node's name.
func (r *Roster) Node() string { return r.opts.Node }

// Close stops the Roster: it tells the other nodes and stops answering
// them. It leaves the NATS connection open.
func (r *Roster) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	if r.opts.NATS == nil {
		return nil
	}
	close(r.stop)
	r.beat.Wait()
	r.announce(kindBye)
	r.unsubscribe()
	return nil
}

func (r *Roster) unsubscribe() {
	for _, sub := range r.subs {
		sub.Unsubscribe() // fails only on a closed connection: nothing is left to let go
	}
}

// heartbeats tells the other nodes every Heartbeat that this one is
// there, until Close.
func (r *Roster) heartbeats() {
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.announce(kindAlive)
		case <-r.stop:
			return
		}
	}
}

// announce publishes a message of kind on kata.roster.alive.
func (r *Roster) announce(kind string) {
	m := r.msg(aliveSubject)
	m.Header.Set(kindHeader, kind)
	if err := r.opts.NATS.PublishMsg(m); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		r.opts.Logger.Warn("roster: the other nodes were not told", "kind", kind, "err", err)
	}
}

// msg returns a message on subject from this Roster.
func (r *Roster) msg(subject string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(fromHeader, r.self)
	m.Header.Set(nodeHeader, r.opts.Node)
	return m
}

// heard notes a message on kata.roster.alive.
func (r *Roster) heard(m *nats.Msg) {
	from := m.Header.Get(fromHeader)
	if from == r.self || from == "" {
		return
	}
	kind := m.Header.Get(kindHeader)
	r.mu.Lock()
	if kind == kindBye {
		delete(r.members, from)
	} else {
		r.noteLocked(from, m.Header.Get(nodeHeader))
	}
	closed := r.closed
	r.mu.Unlock()
	if kind == kindHello && !closed {
		r.announce(kindAlive) // the newcomer learns of this node now, not at its next heartbeat
	}
}

// noteLocked notes that the node of instance from was heard from now.
func (r *Roster) noteLocked(from, node string) {
	mb := r.members[from]
	if mb == nil {
		mb = &member{}
		r.members[from] = mb
	}
	mb.node, mb.heard, mb.missed = node, time.Now(), false
}

// answer answers a listing of another node with this node's stations, in
// parts of at most partBytes.
func (r *Roster) answer(m *nats.Msg) {
	if m.Header.Get(fromHeader) == r.self || m.Reply == "" {
		return
	}
	var ids []string
	if station := m.Header.Get(stationHeader); station != "" {
		if r.opts.Stations.IsConnected(station) {
			ids = []string{station}
		}
	} else {
		ids = r.opts.Stations.Connected()
	}
	for {
		n, size := 0, 0
		for n < len(ids) && (n == 0 || size+len(ids[n])+4 <= partBytes) {
			size += len(ids[n]) + 4 // its quotes, its comma, and an escape or two
			n++
		}
		part := r.msg(m.Reply)
		if n < len(ids) {
			part.Header.Set(moreHeader, "1")
		}
		part.Data, _ = json.Marshal(ids[:n]) // strings: it cannot fail
		if err := r.opts.NATS.PublishMsg(part); err != nil {
			r.opts.Logger.Warn("roster: a listing was not answered", "err", err)
			return
		}
		if ids = ids[n:]; len(ids) == 0 {
			return
		}
	}
}

// Holders returns the node that holds each station connected anywhere in
// the cluster, by station id: this node's stations, and those of every
// other node that answered within Options.Wait (or before ctx ends).
func (r *Roster) Holders(ctx context.Context) map[string]string {
	held := make(map[string]string)
	for _, id := range r.opts.Stations.Connected() {
		held[id] = r.opts.Node
	}
	r.gather(ctx, "", func(node string, ids []string) bool {
		for _, id := range ids {
			if _, ok := held[id]; !ok {
				held[id] = node
			}
		}
		return false
	})
	return held
}

// Holder returns the node that holds station's connection, or "" if no
// node that answered within Options.Wait (or before ctx ends) does.
func (r *Roster) Holder(ctx context.Context, station string) string {
	if r.opts.Stations.IsConnected(station) {
		return r.opts.Node
	}
	holder := ""
	r.gather(ctx, station, func(node string, ids []string) bool {
		if len(ids) > 0 {
			holder = node
			return true
		}
		return false
	})
	return holder
}

// gather asks the other nodes which stations they hold (of station's only,
// if not ""), and hands each part of each answer to add, until every node
// it waits for has answered in full, add returns true, Options.Wait has
// passed or ctx ends.
func (r *Roster) gather(ctx context.Context, station string, add func(node string, ids []string) bool) {
	nc := r.opts.NATS
	if nc == nil || !nc.IsConnected() {
		return
	}
	waiting := r.expected()
	if len(waiting) == 0 {
		return
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		r.opts.Logger.Warn("roster: the other nodes were not asked", "err", err)
		return
	}
	defer sub.Unsubscribe()
	m := r.msg(heldSubject)
	m.Reply = inbox
	if station != "" {
		m.Header.Set(stationHeader, station)
	}
	if err := nc.PublishMsg(m); err != nil {
		r.opts.Logger.Warn("roster: the other nodes were not asked", "err", err)
		return
	}
	wait, cancel := context.WithTimeout(ctx, r.opts.Wait)
	defer cancel()
	for len(waiting) > 0 {
		a, err := sub.NextMsgWithContext(wait)
		if err != nil {
			break
		}
		from, node := a.Header.Get(fromHeader), a.Header.Get(nodeHeader)
		r.mu.Lock()
		r.noteLocked(from, node)
		r.mu.Unlock()
		var ids []string
		if err := json.Unmarshal(a.Data, &ids); err != nil {
			r.opts.Logger.Warn("roster: an answer that is not a list of ids", "node", node, "err", err)
			continue
		}
		if add(node, ids) {
			return
		}
		if a.Header.Get(moreHeader) == "" {
			delete(waiting, from)
		}
	}
	if len(waiting) > 0 && wait.Err() != nil && ctx.Err() == nil {
		r.missed(waiting) // they had all of Wait, not only what the asker had left
	}
}

// expected returns the other nodes a listing waits for: those heard from
// within forgetAfter heartbeats that did not miss a listing since. It
// forgets the others.
func (r *Roster) expected() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	waiting := make(map[string]bool)
	for from, mb := range r.members {
		switch {
		case time.Since(mb.heard) >= forgetAfter*r.opts.Heartbeat:
			delete(r.members, from)
		case !mb.missed:
			waiting[from] = true
		}
	}
	return waiting
}

// missed notes the nodes that did not answer a listing in time.
func (r *Roster) missed(waiting map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for from := range waiting {
		if mb := r.members[from]; mb != nil {
			mb.missed = true
			r.opts.Logger.Warn("roster: a node did not answer in time; its stations are left out until it is heard from again",
				"node", mb.node, "wait", r.opts.Wait)
		}
	}
}
