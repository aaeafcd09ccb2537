package natstest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/natstest"
)

// The broker runs inside a synctest bubble: its timers are fake, a
// request with no subscriber fails at once, and the test ends only once
// the broker has shut down and every goroutine it started has ended.
func TestBrokerInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := natstest.Start(t)
		a, c := b.Connect(t, "a"), b.Connect(t, "c")
		sub, err := a.Subscribe("kata.test", func(m *nats.Msg) { m.Respond([]byte("pong")) })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := a.FlushWithContext(ctx); err != nil {
			t.Fatal(err)
		}
		if got := b.Interest(t, "kata.test"); got != 1 {
			t.Errorf("Interest(kata.test) = %d with one subscriber, want 1", got)
		}
		if got := b.Subscriptions(t); !slices.Equal(got, []string{"kata.test"}) {
			t.Errorf("Subscriptions() = %q, want [kata.test]", got)
		}
		start := time.Now()
		m, err := c.RequestWithContext(ctx, "kata.test", []byte("ping"))
		if err != nil || string(m.Data) != "pong" {
			t.Fatalf("request on kata.test: %v, %v; want pong", m, err)
		}
		// The request's reply mux is the connection's, not a subscription
		// anyone forgot.
		if got := b.Subscriptions(t); !slices.Equal(got, []string{"kata.test"}) {
			t.Errorf("Subscriptions() after a request = %q, want [kata.test]", got)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		if err := a.FlushWithContext(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = c.RequestWithContext(ctx, "kata.test", []byte("ping"))
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("request with no subscriber: %v, want nats.ErrNoResponders", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("two requests took %v of fake time, want 0", d)
		}
		if got := b.Subscriptions(t); len(got) != 0 {
			t.Errorf("Subscriptions() after Unsubscribe = %q, want none", got)
		}
		// An hour of fake time: the broker's pings and timers run on it.
		time.Sleep(time.Hour)
		if !a.IsConnected() || !c.IsConnected() {
			t.Errorf("after an hour of fake time, connected: a %v, c %v; want both", a.IsConnected(), c.IsConnected())
		}
	})
}
