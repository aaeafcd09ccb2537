package roster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/natstest"
)

// BenchmarkHolders is a listing of a cluster of 3 nodes of 3,000 stations
// each, on an embedded NATS: what GET /api/stations adds to the store's
// read.
func BenchmarkHolders(b *testing.B) {
	broker := natstest.Start(b)
	for n := range 3 {
		name := fmt.Sprintf("node-%d", n)
		var ids []string
		for i := range 3000 {
			ids = append(ids, fmt.Sprintf("CS%d%05d", n, i))
		}
		start(b, name, held(ids...), broker.Connect(b, name))
	}
	r := start(b, "asker", held(), broker.Connect(b, "asker"))
	// The asker knows the nodes once their answers to its hello came in.
	for i := 0; len(r.Holders(b.Context())) < 9000; i++ {
		if i == 500 {
			b.Fatal("the asker did not hear of the three nodes within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := r.Holders(b.Context()); len(got) != 9000 {
			b.Fatalf("%d stations listed, want 9000", len(got))
		}
	}
}
