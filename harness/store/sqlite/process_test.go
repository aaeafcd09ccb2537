package sqlite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// processEnv makes the test binary a writer of TestProcesses: "n:rounds:path".
const processEnv = "KATA_SQLITE_PROCESS"

// resultPrefix marks a writer's result on its standard output.
const resultPrefix = "kata-sqlite-writer: "

// TestProcesses's flags: to measure, more writers or more rounds than make
// test's few seconds allow, or a single writer for a baseline:
//
//	go test -run TestProcesses -v -processes.n=1 -processes.rounds=1000 ./harness/store/sqlite
var (
	processes = flag.Int("processes.n", 3, "TestProcesses: how many writer processes")
	rounds    = flag.Int("processes.rounds", 25, "TestProcesses: rounds of six writes per writer process")
)

// writerResult is what one writer process did.
type writerResult struct {
	Own     []int         // the ids of its own starts, by round
	Shared  []int         // the ids of the starts every writer sends, by round
	Writes  int           // the writes that returned nil
	Slowest time.Duration // the longest a write took
	Errors  []string      // the writes that did not
	Took    time.Duration
}

// TestProcesses: several processes of one machine write one SQLite file
// at once, as the nodes of a cluster sharing it would. Each process is this
// test binary again, running writer. No write fails (SQLITE_BUSY waits
// for the lock within the busy timeout, it never reaches the caller), no
// transaction id is given twice, a start that every process sends gets one
// id, and every acknowledged write is in the file. The log says how many
// writes a second they made, and the slowest write: a measurement, not a
// bound.
func TestProcesses(t *testing.T) {
	if spec := os.Getenv(processEnv); spec != "" {
		writer(t, spec)
		return
	}
	if testing.Short() {
		t.Skip("starts processes: not in -short")
	}
	path := filepath.Join(t.TempDir(), "kata.db")
	// The schema first, as a cluster's first node does.
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Every writer opens the file, says so, and waits for the word to
	// go: they all write at once, and the time is of their writes, not
	// of starting processes.
	writers := make([]*writerProcess, *processes)
	for n := range writers {
		writers[n] = startWriter(t, n, path)
	}
	start := time.Now()
	for _, w := range writers {
		w.start()
	}
	results := make([]writerResult, len(writers))
	for n, w := range writers {
		results[n] = w.wait()
	}
	took := time.Since(start)
	if t.Failed() {
		return
	}
	checkWriters(t, path, results)
	writes, slowest := 0, time.Duration(0)
	for _, r := range results {
		writes, slowest = writes+r.Writes, max(slowest, r.Slowest)
	}
	t.Logf("%s on one file: %d writes in %v, %.0f writes/s; the slowest took %v (busy timeout %v)",
		plural(len(writers), "process", "processes"), writes, took.Round(time.Millisecond), float64(writes)/took.Seconds(),
		slowest.Round(time.Millisecond), 5*time.Second)
}

// A writerProcess is a writer in a process of its own.
type writerProcess struct {
	t      *testing.T
	n      int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
	stderr bytes.Buffer
}

// startWriter starts writer n and waits until it has opened the file.
func startWriter(t *testing.T, n int, path string) *writerProcess {
	t.Helper()
	w := &writerProcess{t: t, n: n}
	w.cmd = exec.Command(os.Args[0], "-test.run=^TestProcesses$", "-test.count=1")
	w.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%d:%s", processEnv, n, *rounds, path))
	w.cmd.Stderr = &w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	w.stdout = bufio.NewScanner(out)
	w.stdout.Buffer(nil, 1<<20)
	if _, ok := w.line(); !ok {
		t.Fatalf("writer %d did not open the file: %s", n, w.stderr.Bytes())
	}
	return w
}

// line returns the next line of the writer's that is meant for the test.
func (w *writerProcess) line() (string, bool) {
	for w.stdout.Scan() {
		if line, ok := strings.CutPrefix(w.stdout.Text(), resultPrefix); ok {
			return line, true
		}
	}
	return "", false
}

// start tells the writer to go.
func (w *writerProcess) start() {
	if _, err := io.WriteString(w.stdin, "go\n"); err != nil {
		w.t.Errorf("writer %d: %v", w.n, err)
	}
}

// wait returns the writer's result, once it has exited.
func (w *writerProcess) wait() writerResult {
	var r writerResult
	line, ok := w.line()
	if !ok {
		w.cmd.Wait()
		w.t.Errorf("writer %d said nothing: %s", w.n, w.stderr.Bytes())
		return r
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		w.t.Errorf("writer %d: %v", w.n, err)
	}
	for _, e := range r.Errors {
		w.t.Errorf("writer %d: %s", w.n, e)
	}
	if err := w.cmd.Wait(); err != nil {
		w.t.Errorf("writer %d: %v\n%s", w.n, err, w.stderr.Bytes())
	}
	return r
}

// writer is a writer process: rounds of a start of its own, a start that
// every writer sends, a batch of meter values, a status, a stop, a sign
// of life, each write as the backend makes it; and a read.
func writer(t *testing.T, spec string) {
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 {
		t.Fatalf("%s=%q: want n:rounds:path", processEnv, spec)
	}
	n, _ := strconv.Atoi(parts[0])
	count, _ := strconv.Atoi(parts[1])
	s, err := Open(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Ready; then wait for the word.
	fmt.Printf("%sready\n", resultPrefix)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var r writerResult
	last := time.Now()
	fail := func(err error, what string, i int) bool {
		now := time.Now()
		r.Slowest, last = max(r.Slowest, now.Sub(last)), now
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("round %d, %s: %v", i, what, err))
			return true
		}
		r.Writes++
		return false
	}
	begin := time.Now()
	station := fmt.Sprintf("P%d", n)
	for i := range count {
		last = time.Now()
		own, err := s.StartTransaction(ctx, station, ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "T", MeterStart: i, Timestamp: dt(i)})
		if fail(err, "StartTransaction", i) {
			continue
		}
		r.Own = append(r.Own, own)
		shared, err := s.StartTransaction(ctx, "SHARED", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "T", MeterStart: i, Timestamp: dt(i)})
		if !fail(err, "shared StartTransaction", i) {
			r.Shared = append(r.Shared, shared)
		}
		readings := make([]store.Reading, 10)
		for k := range readings {
			readings[k] = store.Reading{Station: station, Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &own,
				MeterValue: []ocpp.MeterValue{energy(i*100+k, strconv.Itoa(k))}}}
		}
		fail(s.MeterValues(ctx, readings), "MeterValues", i)
		fail(s.Statuses(ctx, []store.StatusUpdate{{Station: station, Request: ocpp.StatusNotificationRequest{
			ConnectorId: 1, Status: ocpp.StatusCharging, ErrorCode: ocpp.ChargePointNoError}, At: t0}}), "Statuses", i)
		_, err = s.StopTransaction(ctx, station, ocpp.StopTransactionRequest{TransactionId: own, MeterStop: i + 1, Timestamp: dt(i*100 + 99),
			TransactionData: []ocpp.MeterValue{energy(i*100+99, "99")}})
		fail(err, "StopTransaction", i)
		fail(s.Seen(ctx, map[string]time.Time{station: t0.Add(time.Duration(i) * time.Second)}), "Seen", i)
		// And a read, as the operator API's on any node, while the others
		// write.
		if _, err := s.Transactions(ctx, station); err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("round %d, Transactions: %v", i, err))
		}
		last = time.Now()
	}
	r.Took = time.Since(begin)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", resultPrefix, b)
}

// checkWriters checks the file against what the writers were told.
func checkWriters(t *testing.T, path string, results []writerResult) {
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	given := map[int]string{}
	for n, r := range results {
		if len(r.Own) != *rounds || len(r.Shared) != *rounds {
			t.Fatalf("writer %d: %d starts of its own and %d shared, want %d each", n, len(r.Own), len(r.Shared), *rounds)
		}
		for i, id := range r.Own {
			where := fmt.Sprintf("writer %d's start %d", n, i)
			if other, dup := given[id]; dup {
				t.Errorf("transaction id %d given to %s and to %s", id, other, where)
			}
			given[id] = where
			samples, err := s.TransactionMeterValues(ctx, id)
			if err != nil || len(samples) != 11 {
				t.Errorf("%s, transaction %d: %d samples, err %v; want 11 (10 MeterValues, 1 in the stop)", where, id, len(samples), err)
			}
		}
		for i, id := range r.Shared {
			if first := results[0].Shared[i]; id != first {
				t.Errorf("shared start %d: writer %d got id %d, writer 0 got %d; a replay gets the first id", i, n, id, first)
			}
			if other, dup := given[id]; dup && !strings.HasPrefix(other, "shared") {
				t.Errorf("transaction id %d given to %s and to shared start %d", id, other, i)
			}
			given[id] = fmt.Sprintf("shared start %d", i)
		}
	}
	txs, err := s.Transactions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(results) + 1) * *rounds; len(txs) != want {
		t.Errorf("%d transactions in the file, want %d: %d writers' own and the shared ones", len(txs), want, len(results))
	}
	for n := range results {
		txs, err := s.Transactions(ctx, fmt.Sprintf("P%d", n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			if tx.Stop == nil {
				t.Errorf("writer %d's transaction %d is not stopped: its stop was acknowledged", n, tx.ID)
			}
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
