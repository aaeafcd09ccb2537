package queue

import (
	"slices"
	"sync"
	"testing"
)

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
