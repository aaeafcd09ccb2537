package live

import (
	"math"
	"time"
)

// The latencies are counted in buckets that grow by a fifth, from 0.1 ms:
// a percentile read from them is within 10% of the true one, which is all
// a picture needs, at a fixed cost however many calls a second there are.
const (
	firstBucket  = 100 * time.Microsecond
	bucketGrowth = 1.2
	numBuckets   = 90 // up to about 19 minutes; longer counts in the last
	rateSeconds  = 60
)

// second is what the calls answered in one second of the server's life
// tell: how many, and how long they waited for their answer.
type second struct {
	at      int64 // which second since the start this is
	calls   int
	latency [numBuckets]uint32
}

// rates keeps the calls answered over the last minute, a second at a time.
type rates struct {
	ring [rateSeconds]second
}

func bucket(d time.Duration) int {
	if d <= firstBucket {
		return 0
	}
	b := int(math.Log(float64(d)/float64(firstBucket))/math.Log(bucketGrowth)) + 1
	return min(b, numBuckets-1)
}

// bucketValue is the middle of bucket b, in milliseconds.
func bucketValue(b int) float64 {
	if b == 0 {
		return float64(firstBucket) / float64(time.Millisecond) / 2
	}
	lo := float64(firstBucket) * math.Pow(bucketGrowth, float64(b-1))
	return lo * math.Sqrt(bucketGrowth) / float64(time.Millisecond)
}

// slot returns the second sec, emptied if it held an older one.
func (r *rates) slot(sec int64) *second {
	s := &r.ring[sec%rateSeconds]
	if s.at != sec {
		*s = second{at: sec}
	}
	return s
}

// addTally counts in second sec the answers a tap counted.
func (r *rates) addTally(sec int64, t *tally) {
	s := r.slot(sec)
	s.calls += t.calls
	for b, n := range t.latency {
		s.latency[b] += n
	}
}

// perSecond returns the rate over the last few seconds up to now, the
// current second counted for the part of it that has passed.
func (r *rates) perSecond(now time.Duration, over int) float64 {
	sec := int64(now / time.Second)
	calls := 0
	for s := sec - int64(over) + 1; s <= sec; s++ {
		if s >= 0 && r.ring[s%rateSeconds].at == s {
			calls += r.ring[s%rateSeconds].calls
		}
	}
	span := float64(over-1) + float64(now%time.Second)/float64(time.Second)
	if sec < int64(over-1) {
		span = now.Seconds() // the server is younger than the span
	}
	if span <= 0 {
		return 0
	}
	return float64(calls) / span
}

// history returns the calls answered in each whole second of the last
// minute, oldest first, none before the start.
func (r *rates) history(now time.Duration) []int {
	sec := int64(now / time.Second)
	from := max(sec-rateSeconds, 0)
	out := make([]int, 0, sec-from)
	for s := from; s < sec; s++ {
		n := 0
		if r.ring[s%rateSeconds].at == s {
			n = r.ring[s%rateSeconds].calls
		}
		out = append(out, n)
	}
	return out
}

// percentiles returns the latencies below which p50 and p99 of the calls
// of the last minute were answered, in milliseconds, or false if none
// was measured.
func (r *rates) percentiles(now time.Duration) (p50, p99 float64, ok bool) {
	sec := int64(now / time.Second)
	var sum [numBuckets]uint64
	var total uint64
	for i := range r.ring {
		s := &r.ring[i]
		if s.at <= sec && s.at > sec-rateSeconds && (s.calls > 0) {
			for b, n := range s.latency {
				sum[b] += uint64(n)
				total += uint64(n)
			}
		}
	}
	if total == 0 {
		return 0, 0, false
	}
	at := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(total)))
		var seen uint64
		for b, n := range sum {
			if seen += n; seen >= want {
				return bucketValue(b)
			}
		}
		return bucketValue(numBuckets - 1)
	}
	return at(0.5), at(0.99), true
}
