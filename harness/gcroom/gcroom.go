// Package gcroom paces the garbage collector as GOGC does, with a floor
// under the room it gives the heap.
//
// GOGC lets the heap grow between two collections by a share of what the
// collector scans: the live heap, the goroutines' stacks and the globals.
// A server with thousands of idle connections is mostly stacks, and a low
// GOGC keeps its memory close to what it holds. The same GOGC under load
// on a small heap collects every few megabytes, which costs CPU for
// nothing. Keep gives the heap the share, or a fixed room if that is more.
package gcroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the GOGC that the floor asks for, on a heap that is
// nearly empty.
const maxPercent = 1000

// Keep sets GOGC after every collection: percent, or more when percent of
// what the collection scanned is less than floor bytes, so that the heap
// may grow by at least floor before the next. It returns a function that
// stops it and puts back the GOGC from before.
func Keep(percent int, floor uint64) (stop func()) {
	k := &keeper{percent: percent, floor: floor, set: percent, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	before := debug.SetGCPercent(percent)
	k.arm()
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if !k.stopped {
			k.stopped = true
			debug.SetGCPercent(before)
		}
	}
}

// Percent returns the GOGC that gives a heap whose last collection scanned
// scanned bytes the room Keep gives it.
func Percent(percent int, floor, scanned uint64) int {
	if scanned == 0 || scanned*uint64(percent)/100 >= floor {
		return percent
	}
	return int(min(floor*100/scanned+1, maxPercent))
}

type keeper struct {
	percent int
	floor   uint64
	samples []metrics.Sample // tune's alone: cleanups run one at a time

	mu      sync.Mutex
	set     int // the GOGC set last
	stopped bool
}

// A sentinel is allocated to be collected: its cleanup runs after the
// collection that found it unreachable. It is larger than the tiny
// allocator's objects, which share a block with others and may live on.
type sentinel struct{ _ [32]byte }

// arm has tune run after the next collection.
func (k *keeper) arm() {
	runtime.AddCleanup(new(sentinel), (*keeper).tune, k)
}

// tune sets GOGC for what the last collection scanned, and arms again.
func (k *keeper) tune() {
	metrics.Read(k.samples)
	var scanned uint64
	for _, s := range k.samples {
		scanned += s.Value.Uint64()
	}
	p := Percent(k.percent, k.floor, scanned)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	if p != k.set {
		debug.SetGCPercent(p)
		k.set = p
	}
	k.arm()
}
