package queue

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFIFO(t *testing.T) {
	q := New[int]()
	for i := range 5 {
		q.Push(i)
	}
	if got := q.Len(); got != 5 {
		t.Fatalf("Len = %d, want 5", got)
	}
	<-q.Ready()
	if got := q.Take(); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("Take = %v, want 0..4 in order", got)
	}
	if got := q.Take(); len(got) != 0 {
		t.Fatalf("second Take = %v, want nothing", got)
	}
}

func TestPushNeverBlocksAndNothingIsLost(t *testing.T) {
	q := New[int]()
	const producers, each = 4, 1000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				q.Push(p*each + i)
			}
		})
	}
	seen := make(map[int]bool)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for len(seen) < producers*each {
		select {
		case <-q.Ready():
		case <-done:
		}
		for _, v := range q.Take() {
			if seen[v] {
				t.Fatalf("%d taken twice", v)
			}
			seen[v] = true
		}
	}
}

func TestEmpty(t *testing.T) {
	q := New[string]()
	if got := q.Len(); got != 0 {
		t.Fatalf("Len of a new queue = %d, want 0", got)
	}
	if got := q.Take(); got != nil {
		t.Fatalf("Take of a new queue = %v, want nil", got)
	}
	select {
	case <-q.Ready():
		t.Fatal("a new queue is Ready")
	default:
	}
}

func TestReadyHoldsOneToken(t *testing.T) {
	q := New[int]()
	for i := range 3 {
		q.Push(i)
	}
	<-q.Ready()
	select {
	case <-q.Ready():
		t.Fatal("three pushes left more than one token: Ready signals that items may be there, not how many")
	default:
	}
	if got := q.Take(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("Take = %v, want 0, 1, 2", got)
	}
	if got := q.Len(); got != 0 {
		t.Fatalf("Len after Take = %d, want 0", got)
	}

	// A push after the consumer took the token arms it again.
	q.Push(3)
	select {
	case <-q.Ready():
	default:
		t.Fatal("a push after Take did not make the queue Ready")
	}
	if got := q.Take(); !slices.Equal(got, []int{3}) {
		t.Fatalf("Take = %v, want 3", got)
	}
}

func TestReadyMayBeStale(t *testing.T) {
	// A consumer that takes without waiting leaves the token behind: the
	// next wait wakes and finds nothing, which it must tolerate.
	q := New[int]()
	q.Push(1)
	if got := q.Take(); !slices.Equal(got, []int{1}) {
		t.Fatalf("Take = %v, want 1", got)
	}
	<-q.Ready()
	if got := q.Take(); len(got) != 0 {
		t.Fatalf("Take after a stale token = %v, want nothing", got)
	}
}

func TestTakeHandsOverTheItems(t *testing.T) {
	q := New[int]()
	q.Push(1)
	q.Push(2)
	first := q.Take()
	q.Push(3)
	if !slices.Equal(first, []int{1, 2}) {
		t.Fatalf("a push after Take changed the slice Take returned: %v, want 1, 2", first)
	}
	if got := q.Take(); !slices.Equal(got, []int{3}) {
		t.Fatalf("Take = %v, want 3", got)
	}
}

func TestConsumerSleepsUntilPush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := New[int]()
		got := make(chan []int)
		go func() {
			<-q.Ready()
			got <- q.Take()
		}()
		synctest.Wait() // the consumer is durably blocked on Ready
		select {
		case v := <-got:
			t.Fatalf("the consumer woke with %v before any push", v)
		default:
		}
		q.Push(7)
		if v := <-got; !slices.Equal(v, []int{7}) {
			t.Fatalf("the consumer took %v, want 7", v)
		}
	})
}

func TestOrderPerProducer(t *testing.T) {
	// With many producers, each one's items come out in the order it pushed them.
	q := New[[2]int]()
	const producers, each = 4, 500
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				q.Push([2]int{p, i})
			}
		})
	}
	wg.Wait()
	next := make([]int, producers)
	for _, v := range q.Take() {
		if v[1] != next[v[0]] {
			t.Fatalf("producer %d's item %d came out when %d was due", v[0], v[1], next[v[0]])
		}
		next[v[0]]++
	}
	for p, n := range next {
		if n != each {
			t.Fatalf("producer %d: %d items taken, want %d", p, n, each)
		}
	}
}
