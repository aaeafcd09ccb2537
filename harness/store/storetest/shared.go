package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// RunShared runs the suite of Stores that share their data: the nodes of
// a cluster, each with a Store of its own on one database. open returns
// two Stores on the same new, empty data, and closes them in a t.Cleanup.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	tests := []struct {
		name string
		test func(t *testing.T, a, b store.Store)
	}{
		{"WritesSeenByTheOther", testSharedWrites},
		{"DistinctIDs", testSharedIDs},
		{"ReplayOnTheOther", testSharedReplay},
		{"ReplayRace", testSharedReplayRace},
		{"StopOnBoth", testSharedStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			tt.test(t, a, b)
		})
	}
}

// testSharedWrites: what one node writes, the other reads.
func testSharedWrites(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	must(t, a.Boot(ctx, "CS1", boot("Acme", "Fast", "1.0"), at(1)), "Boot on a")
	id := mustStart(t, a, "CS1", start(1, "TAG", 0, 2))
	st, err := b.Station(ctx, "CS1")
	must(t, err, "Station on b")
	if st.Vendor != "Acme" || len(st.OpenTransactions) != 1 || st.OpenTransactions[0] != id {
		t.Errorf("b sees %+v; want the station a booted, with transaction %d open", st, id)
	}
}

// testSharedIDs: both nodes start transactions at once, from many
// goroutines; no id is given twice, and each node lists them all.
func testSharedIDs(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	const perNode, stations = 40, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	given := map[int]string{}
	for n, s := range []store.Store{a, b} {
		for g := range stations {
			wg.Go(func() {
				station := fmt.Sprintf("CS%d", g)
				for i := range perNode / stations {
					// Node and i in meterStart: every start is a new one.
					where := fmt.Sprintf("node %d's start %d on %s", n, i, station)
					id, err := s.StartTransaction(ctx, station, start(1, "TAG", n*1000+i, i))
					if err != nil {
						t.Errorf("%s: %v", where, err)
						return
					}
					mu.Lock()
					if other, dup := given[id]; dup {
						t.Errorf("transaction id %d given to %s and to %s: ids must be unique across nodes", id, other, where)
					}
					given[id] = where
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for n, s := range []store.Store{a, b} {
		txs, err := s.Transactions(ctx, "")
		must(t, err, "Transactions")
		if len(txs) != 2*perNode {
			t.Errorf("node %d lists %d transactions, want %d: every node's", n, len(txs), 2*perNode)
		}
	}
}

// testSharedReplay: a station that got no answer from one node sends its
// start again, to the other: it gets the first id.
func testSharedReplay(t *testing.T, a, b store.Store) {
	first := mustStart(t, a, "CS1", start(1, "TAG", 100, 5))
	if again := mustStart(t, b, "CS1", start(1, "TAG", 100, 5)); again != first {
		t.Errorf("a start replayed on the other node got id %d, the first got %d: a replay gets the first id, whichever node it reaches", again, first)
	}
	txs, err := b.Transactions(t.Context(), "CS1")
	must(t, err, "Transactions")
	if len(txs) != 1 {
		t.Errorf("after a start and its replay on two nodes: %d transactions, want 1", len(txs))
	}
}

// testSharedReplayRace: the same starts reach both nodes at the same
// time; each pair gets one id.
func testSharedReplayRace(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	const starts = 20
	var ids [2][starts]int
	var wg sync.WaitGroup
	for n, s := range []store.Store{a, b} {
		wg.Go(func() {
			for i := range starts {
				id, err := s.StartTransaction(ctx, "CS1", start(1, "TAG", i, i))
				if err != nil {
					t.Errorf("node %d start %d: %v", n, i, err)
					return
				}
				ids[n][i] = id
			}
		})
	}
	wg.Wait()
	for i := range starts {
		if ids[0][i] != ids[1][i] {
			t.Errorf("start %d sent to both nodes at once got ids %d and %d: want one", i, ids[0][i], ids[1][i])
		}
	}
	txs, err := a.Transactions(ctx, "CS1")
	must(t, err, "Transactions")
	if len(txs) != starts {
		t.Errorf("%d starts, each sent to both nodes: %d transactions, want %d", starts, len(txs), starts)
	}
}

// testSharedStop: a station's stop reaches both nodes at once; both know
// the transaction, and its samples are kept once.
func testSharedStop(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	const sessions = 10
	ids := make([]int, sessions)
	for i := range ids {
		ids[i] = mustStart(t, a, "CS1", start(1, "TAG", i, i))
	}
	var wg sync.WaitGroup
	for n, s := range []store.Store{a, b} {
		wg.Go(func() {
			for i, id := range ids {
				known, err := s.StopTransaction(ctx, "CS1", ocpp.StopTransactionRequest{TransactionId: id, MeterStop: 10, Timestamp: dt(i + 1),
					TransactionData: []ocpp.MeterValue{energy(i+1, "10")}})
				if err != nil || !known {
					t.Errorf("node %d stopping transaction %d: known %v, err %v; want known, no error", n, id, known, err)
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		samples, err := b.TransactionMeterValues(ctx, id)
		must(t, err, "TransactionMeterValues")
		if len(samples) != 1 {
			t.Errorf("transaction %d, stopped on both nodes at once, has %d samples, want 1", id, len(samples))
		}
	}
}
