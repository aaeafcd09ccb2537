package live

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// page is a page's event stream, read by a test.
type page struct {
	t *testing.T
	r *bufio.Reader
}

// pipeWriter is a ResponseWriter whose body goes down a pipe, so that a
// test reads the stream as a browser would, and a test that stops reading
// leaves the handler blocked in Write as a slow browser does, until the
// write deadline the handler set passes, as it would on a socket.
type pipeWriter struct {
	header http.Header
	w      *io.PipeWriter

	mu       sync.Mutex
	deadline *time.Timer
}

func (w *pipeWriter) Header() http.Header         { return w.header }
func (w *pipeWriter) Write(p []byte) (int, error) { return w.w.Write(p) }
func (w *pipeWriter) WriteHeader(int)             {}
func (w *pipeWriter) Flush()                      {}

func (w *pipeWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.deadline != nil {
		w.deadline.Stop()
	}
	w.deadline = time.AfterFunc(time.Until(t), func() { w.w.CloseWithError(os.ErrDeadlineExceeded) })
	return nil
}

// openPage opens an event stream on h, closed when the test ends.
func openPage(t *testing.T, h *Hub) *page {
	p, _ := openPageDone(t, h)
	return p
}

// openPageDone is openPage, and a channel closed when the handler returns.
func openPageDone(t *testing.T, h *Hub) (*page, <-chan struct{}) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/live/events", nil).WithContext(ctx)
	w := &pipeWriter{header: http.Header{}, w: pw}
	done := make(chan struct{})
	go func() {
		h.Handler().ServeHTTP(w, req)
		pw.Close()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		pr.Close()
		<-done
		w.mu.Lock()
		if w.deadline != nil {
			w.deadline.Stop()
		}
		w.mu.Unlock()
	})
	return &page{t: t, r: bufio.NewReader(pr)}, done
}

// next returns the next event and its data.
func (p *page) next() (string, []byte) {
	p.t.Helper()
	var event string
	var data []byte
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			p.t.Fatalf("the event stream ended: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = []byte(strings.TrimPrefix(line, "data: "))
		case line == "" && event != "":
			return event, data
		}
	}
}

// frame returns the next event, which must be a frame.
func (p *page) frame() frame {
	p.t.Helper()
	event, data := p.next()
	if event != "frame" {
		p.t.Fatalf("got event %q, want a frame", event)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		p.t.Fatalf("a frame that is not JSON: %v: %s", err, data)
	}
	return f
}

// start opens a page and reads its hello and first, whole, frame.
func start(t *testing.T, h *Hub) (*page, hello, frame) {
	t.Helper()
	p := openPage(t, h)
	event, data := p.next()
	if event != "hello" {
		t.Fatalf("first event %q, want hello", event)
	}
	var hi hello
	if err := json.Unmarshal(data, &hi); err != nil {
		t.Fatal(err)
	}
	f := p.frame()
	if !f.Full {
		t.Fatalf("the first frame is not whole: %s", data)
	}
	return p, hi, f
}

func newHub(t *testing.T, opts Options) *Hub {
	t.Helper()
	h := New(opts)
	t.Cleanup(func() { h.Close() })
	return h
}

func laneNamed(f frame, name string) (laneOut, bool) {
	for _, l := range f.Lanes {
		if l.Name == name {
			return l, true
		}
	}
	return laneOut{}, false
}

func stationNamed(f frame, id string) (stationOut, bool) {
	for _, s := range f.Stations {
		if s.ID == id {
			return s, true
		}
	}
	return stationOut{}, false
}

func TestHelloSaysWhatRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{Step: "05", Title: "Backpressure", Variant: "starter", Server: queues{}})
		h.stationSeen("CS1", report{})
		_, hi, f := start(t, h)
		if hi.Server == "" || hi.Step != "05" || hi.Title != "Backpressure" || hi.Variant != "starter" || !hi.Queues || hi.Processors || hi.Node != "" {
			t.Errorf("hello: %+v", hi)
		}
		if _, hi, _ := start(t, newHub(t, Options{Step: "10", Node: "node-b"})); hi.Node != "node-b" {
			t.Errorf("hello of a node of a cluster: %+v, want node node-b", hi)
		}
		if hi.FrameMs != 200 || hi.WindowMs != 20000 {
			t.Errorf("hello: frames every %d ms over %d ms, want the defaults 200 and 20000", hi.FrameMs, hi.WindowMs)
		}
		if len(f.Stations) != 1 || f.Stations[0].ID != "CS1" || f.Stations[0].N != 1 {
			t.Errorf("first frame's stations: %+v, want CS1 as station 1", f.Stations)
		}
		if other := New(Options{}); other.id == h.id {
			t.Errorf("two hubs share the id %q: a page could not tell a restarted server", h.id)
		} else {
			other.Close()
		}
	})
}

type queues struct{}

func (queues) Queued(string) int { return 3 }

func TestWorkBecomesBars(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h)
		t0 := time.Now()
		w := backend.Work{Kind: backend.KindCall, Station: "CS1", Worker: "worker-1"}
		h.WorkStarted(1, w, time.Now())
		time.Sleep(50 * time.Millisecond)
		h.WorkEnded(1, w, t0, time.Now(), nil)
		long := backend.Work{Kind: backend.KindCall, Station: "CS2", Worker: "worker-2"}
		time.Sleep(50 * time.Millisecond)
		h.WorkStarted(2, long, time.Now()) // at 100 ms, until 450 ms
		time.Sleep(100 * time.Millisecond)

		f := p.frame() // at 200 ms
		l1, ok1 := laneNamed(f, "worker-1")
		l2, ok2 := laneNamed(f, "worker-2")
		if !ok1 || !ok2 || len(l1.Bars) != 1 || len(l2.Bars) != 1 {
			t.Fatalf("frame at 200 ms: lanes %+v, want worker-1 and worker-2 with one bar each", f.Lanes)
		}
		if l1.Bars[0] != [3]int64{1, 0, 50} {
			t.Errorf("worker-1's bar %v, want station 1 from 0 to 50 ms", l1.Bars[0])
		}
		if l2.Bars[0] != [3]int64{2, 100, 200} {
			t.Errorf("worker-2's bar %v, want station 2 from 100 ms to the frame's end, 200 ms: work still going shows", l2.Bars[0])
		}

		f = p.frame() // at 400 ms
		if _, ok := laneNamed(f, "worker-1"); ok {
			t.Errorf("frame at 400 ms still has worker-1, idle since 50 ms")
		}
		if l2, _ := laneNamed(f, "worker-2"); len(l2.Bars) != 1 || l2.Bars[0] != [3]int64{2, 200, 400} {
			t.Errorf("frame at 400 ms: worker-2's bars %v, want [2 200 400]", l2.Bars)
		}
		time.Sleep(50 * time.Millisecond)
		h.WorkEnded(2, long, t0.Add(100*time.Millisecond), time.Now(), nil)
		f = p.frame() // at 600 ms
		if l2, _ := laneNamed(f, "worker-2"); len(l2.Bars) != 1 || l2.Bars[0] != [3]int64{2, 400, 450} {
			t.Errorf("frame at 600 ms: worker-2's bars %v, want [2 400 450]", l2.Bars)
		}
		if f.T != 600 {
			t.Errorf("frame t = %d, want 600", f.T)
		}
	})
}

func TestThinsOutUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h)
		// 50,000 pieces of work in one frame: 10 workers, each answering
		// 5,000 calls of 40 µs from 50 stations.
		const workers, each = 10, 5000
		t0 := time.Now()
		seq := 0
		for i := range each {
			for w := range workers {
				seq++
				work := backend.Work{Kind: backend.KindCall, Station: fmt.Sprintf("CS%d", (seq%50)+1), Worker: fmt.Sprintf("worker-%d", w+1)}
				from := t0.Add(time.Duration(i) * 40 * time.Microsecond)
				h.WorkStarted(seq, work, from)
				h.WorkEnded(seq, work, from, from.Add(40*time.Microsecond), nil)
			}
		}
		time.Sleep(200 * time.Millisecond)
		event, data := p.next()
		var f frame
		if err := json.Unmarshal(data, &f); event != "frame" || err != nil {
			t.Fatalf("%s %v", event, err)
		}
		if len(f.Lanes) != workers {
			t.Fatalf("%d lanes, want %d", len(f.Lanes), workers)
		}
		for _, l := range f.Lanes {
			if len(l.Bars) == 0 || len(l.Bars) > MaxBars {
				t.Errorf("%s: %d bars for 5,000 calls, want 1 to %d", l.Name, len(l.Bars), MaxBars)
			}
			if l.Bars[0][1] != 0 || l.Bars[len(l.Bars)-1][2] != 200 {
				t.Errorf("%s: bars from %d to %d ms, want them to span the frame, 0 to 200", l.Name, l.Bars[0][1], l.Bars[len(l.Bars)-1][2])
			}
		}
		if lanes, _ := json.Marshal(f.Lanes); len(lanes) > 2<<10 {
			t.Errorf("the lanes of 50,000 calls take %d bytes of the frame; want at most 2 KiB: the page must not draw every call", len(lanes))
		}

		// A thousand busy lanes: the frame carries MaxLanes and counts the rest.
		for w := range 1000 {
			seq++
			work := backend.Work{Kind: backend.KindProcess, Station: "CS1", Worker: fmt.Sprintf("processor-%d", w)}
			h.WorkStarted(seq, work, time.Now())
			h.WorkEnded(seq, work, time.Now(), time.Now().Add(time.Millisecond), nil)
		}
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if len(f.Lanes) != MaxLanes || f.MoreLanes != 1000-MaxLanes {
			t.Errorf("1,000 busy lanes: the frame has %d and counts %d more, want %d and %d", len(f.Lanes), f.MoreLanes, MaxLanes, 1000-MaxLanes)
		}
		if f.Lanes[0].Name != "processor-0" || f.Lanes[1].Name != "processor-1" || f.Lanes[2].Name != "processor-2" {
			t.Errorf("lanes not in natural order: %s, %s, %s", f.Lanes[0].Name, f.Lanes[1].Name, f.Lanes[2].Name)
		}

		// A hundred workers beside the thousand processors: both are seen.
		for w := range 1000 {
			seq++
			work := backend.Work{Kind: backend.KindProcess, Station: "CS1", Worker: fmt.Sprintf("processor-%d", w)}
			h.WorkStarted(seq, work, time.Now())
			h.WorkEnded(seq, work, time.Now(), time.Now().Add(time.Millisecond), nil)
		}
		for w := range 100 {
			seq++
			work := backend.Work{Kind: backend.KindCall, Station: "CS1", Worker: fmt.Sprintf("worker-%d", w+1)}
			h.WorkStarted(seq, work, time.Now())
			h.WorkEnded(seq, work, time.Now(), time.Now().Add(time.Millisecond), nil)
		}
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		workerLanes := 0
		for _, l := range f.Lanes {
			if strings.HasPrefix(l.Name, "worker-") {
				workerLanes++
			}
		}
		if len(f.Lanes) != MaxLanes || workerLanes != 100 {
			t.Errorf("100 workers and 1,000 processors busy: %d lanes, %d of them workers; want %d, with every worker", len(f.Lanes), workerLanes, MaxLanes)
		}
	})
}

func TestCallsCountedEvenWhenThinned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h) // a watch counts from its start
		c := tapOn(h)
		for i := range 50000 {
			c.FrameRead("CS1", fmt.Appendf(nil, `[2,"%d","Heartbeat",{}]`, i))
			if i%2 == 1 {
				time.Sleep(20 * time.Microsecond) // 50,000 in half a second
			}
			c.MessageSent("CS1", &ocpp.CallResult{ID: fmt.Sprint(i)})
		}
		time.Sleep(600 * time.Millisecond) // the first second is over
		f := p.frame()
		for f.T < 1000 { // the frames made while the page did not read
			f = p.frame()
		}
		if len(f.Stats.Rate) != 1 || f.Stats.Rate[0] != 50000 {
			t.Errorf("calls answered per second: %v, want [50000]: every call counts, however few are drawn", f.Stats.Rate)
		}
		if f.Stats.P50 == nil || *f.Stats.P50 > 0.1 {
			t.Errorf("p50 = %v ms, want under 0.1 ms: every call was answered at once", f.Stats.P50)
		}
	})
}

// tapOn returns a tap as the hub's Listener puts on a connection.
func tapOn(h *Hub) *tapConn {
	server, client := net.Pipe()
	client.Close()
	return &tapConn{Conn: server, h: h}
}

func TestTapCountsWaitingAndLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h)
		c := tapOn(h)
		c.FrameRead("CS1", []byte(`[2,"a","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]`))
		c.FrameRead("CS1", []byte(`[2,"b","Heartbeat",{}]`))
		c.FrameRead("CS1", []byte(`[3,"x",{}]`)) // an answer to the server's own call: not waiting
		time.Sleep(30 * time.Millisecond)
		c.MessageSent("CS1", &ocpp.CallResult{ID: "a"})
		time.Sleep(170 * time.Millisecond)

		f := p.frame()
		st, ok := stationNamed(f, "CS1")
		if !ok || st.Status != "Charging" || st.Waiting != 1 || !st.Connected {
			t.Fatalf("CS1 after a StatusNotification answered and a Heartbeat not: %+v, want Charging, 1 waiting, connected", st)
		}
		if f.Stats.P50 == nil || *f.Stats.P50 < 27 || *f.Stats.P50 > 33 {
			t.Errorf("p50 = %v ms, want 30 ms (within 10%%): from the call read to its answer sent", f.Stats.P50)
		}
		if f.Stats.Waiting != 1 || f.Stats.Queue != 1 {
			t.Errorf("waiting %d, queue %d; want 1 and 1: a call read, not in the backend", f.Stats.Waiting, f.Stats.Queue)
		}
		c.Close()
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if st, _ := stationNamed(f, "CS1"); st.Waiting != 0 {
			t.Errorf("CS1 waits for %d calls after its connection closed, want 0", st.Waiting)
		}
	})
}

func TestFirmwareAndDiagnosticsShow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{Operator: true})
		c := tapOn(h)
		// Nobody watches yet: the statuses are kept for the page that comes.
		c.FrameRead("CS1", []byte(`[2,"1","FirmwareStatusNotification",{"status":"Downloading"}]`))
		c.FrameRead("CS1", []byte(`[2,"2","DiagnosticsStatusNotification",{"status":"Uploading"}]`))
		c.FrameRead("CS2", []byte(`[2,"1","Heartbeat",{}]`))
		p, hi, f := start(t, h)
		if !hi.Operator {
			t.Errorf("hello: %+v, want operator: the page offers the operator's calls", hi)
		}
		if st, _ := stationNamed(f, "CS1"); st.Firmware != "Downloading" || st.Diagnostics != "Uploading" {
			t.Errorf("CS1 in the first page's whole picture: %+v, want firmware Downloading and diagnostics Uploading, reported before it came", st)
		}
		// What a station that never sent them looks like to the page: no
		// key at all, as for a connector's status it never reported.
		if data, _ := json.Marshal(stationOut{ID: "CS2"}); strings.Contains(string(data), "firmware") || strings.Contains(string(data), "diagnostics") {
			t.Errorf("a station with no firmware or diagnostics status encodes as %s, want neither key", data)
		}

		for _, step := range []struct {
			frame                 string
			firmware, diagnostics string // what CS1 shows after it; "" if the frame must not send CS1
		}{
			{`[2,"3","FirmwareStatusNotification",{"status":"Installing"}]`, "Installing", "Uploading"},
			{`[2,"4","DiagnosticsStatusNotification",{"status":"Uploaded"}]`, "Installing", "Uploaded"},
			{`[2,"5","FirmwareStatusNotification",{"status":"Installing"}]`, "", ""}, // no change: not sent again
			{`[2,"6","FirmwareStatusNotification",{"status":"Bricked"}]`, "", ""},    // not OCPP 1.6's: the server refuses it
			{`[2,"7","DiagnosticsStatusNotification",{"state":"Uploaded"}]`, "", ""}, // no status
			{`[2,"8","FirmwareStatusNotification",{"status":"Installed"}]`, "Installed", "Uploaded"},
			{`[2,"9","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]`, "Installed", "Uploaded"},
		} {
			c.FrameRead("CS1", []byte(step.frame))
			_, id, _, _ := peek([]byte(step.frame))
			c.MessageSent("CS1", &ocpp.CallResult{ID: string(id)}) // answered: CS1 waits for nothing
			time.Sleep(200 * time.Millisecond)
			f = p.frame()
			st, sent := stationNamed(f, "CS1")
			switch {
			case step.firmware == "" && sent:
				t.Errorf("after %s the frame sends CS1 (%+v), want nothing: what it shows did not change", step.frame, st)
			case step.firmware != "" && (!sent || st.Firmware != step.firmware || st.Diagnostics != step.diagnostics):
				t.Errorf("after %s: CS1 sent %v, %+v; want it sent with firmware %s and diagnostics %s",
					step.frame, sent, st, step.firmware, step.diagnostics)
			}
		}
		if st, _ := stationNamed(f, "CS1"); st.Status != "Charging" {
			t.Errorf("CS1's status %q, want Charging: a connector's status beside the firmware's", st.Status)
		}
	})
}

// fleet is the stations a test has connected, as Options.Connected lists
// them.
type fleet struct {
	mu sync.Mutex
	on []string
}

func (f *fleet) set(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = ids
}

func (f *fleet) connected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.on...)
}

func TestStationsSentWhenTheyChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stations fleet
		stations.set("CS1", "CS2", "CS3")
		h := newHub(t, Options{Connected: stations.connected})
		time.Sleep(200 * time.Millisecond)
		synctest.Wait() // the frame is made
		p, _, f := start(t, h)
		if len(f.Stations) != 3 {
			t.Fatalf("whole frame: %d stations, want 3", len(f.Stations))
		}
		time.Sleep(200 * time.Millisecond)
		if f = p.frame(); f.Full || len(f.Stations) != 0 {
			t.Errorf("nothing changed, yet the frame sends %d stations (full %v)", len(f.Stations), f.Full)
		}
		stations.set("CS1", "CS3")
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if len(f.Stations) != 1 || f.Stations[0].ID != "CS2" || f.Stations[0].Connected {
			t.Errorf("after CS2 left: %+v, want only CS2, not connected", f.Stations)
		}
		if f.Stats.Connected != 2 || f.Stats.Known != 3 {
			t.Errorf("connected %d of %d known, want 2 of 3", f.Stats.Connected, f.Stats.Known)
		}
	})
}

func TestSlowPageSkipsToTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		n := 1
		connected := func() []string {
			mu.Lock()
			defer mu.Unlock()
			ids := []string{}
			for i := range n {
				ids = append(ids, fmt.Sprintf("CS%d", i+1))
			}
			return ids
		}
		h := newHub(t, Options{Connected: connected})
		p, _, _ := start(t, h)
		// The page reads nothing for two seconds while stations come.
		for range 10 {
			mu.Lock()
			n++
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
		synctest.Wait()
		h.mu.Lock()
		made := h.seq
		h.mu.Unlock()
		if made != 11 {
			t.Fatalf("%d frames made, want 11 (1 when the page came, 10 while it did not read): a slow page must not hold the hub", made)
		}
		first := p.frame() // the frame the stream was writing when the page stopped
		f := p.frame()
		if !f.Full || len(f.Stations) != 11 || f.T != 2000 {
			t.Errorf("after the pause: full %v, %d stations, t %d; want the newest frame (t 2000), whole, with 11 stations (the first was at %d)",
				f.Full, len(f.Stations), f.T, first.T)
		}
	})
}

func TestPeek(t *testing.T) {
	tests := []struct {
		frame      string
		typ        ocpp.MessageType
		id, action string
		ok         bool
	}{
		{`[2,"id1","Heartbeat",{}]`, ocpp.TypeCall, "id1", "Heartbeat", true},
		{` [ 2 , "id1" , "Heartbeat" , {} ]`, ocpp.TypeCall, "id1", "Heartbeat", true},
		{`[3,"id2",{"status":"Accepted"}]`, ocpp.TypeCallResult, "id2", "", true},
		{`[4,"id3","NotImplemented","",{}]`, ocpp.TypeCallError, "id3", "", true},
		{`[2,"a\"b","Heartbeat",{}]`, 0, "", "", false},
		{`[2,"id1"`, 0, "", "", false},
		{`{"a":1}`, 0, "", "", false},
		{`[12,"id",{}]`, 0, "", "", false},
		{``, 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.frame, func(t *testing.T) {
			typ, rawID, rawAction, ok := peek([]byte(tt.frame))
			id, action := string(rawID), string(rawAction)
			if typ != tt.typ || id != tt.id || action != tt.action || ok != tt.ok {
				t.Errorf("peek = %v %q %q %v, want %v %q %q %v", typ, id, action, ok, tt.typ, tt.id, tt.action, tt.ok)
			}
		})
	}
}

func TestPageServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		for _, tt := range []struct{ path, want string }{
			{"/", "text/html"},
			{"/live/live.js", "text/javascript"},
			{"/live/live.css", "text/css"},
		} {
			w := httptest.NewRecorder()
			h.Handler().ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), tt.want) {
				t.Errorf("GET %s: %d %q, want 200 %s", tt.path, w.Code, w.Header().Get("Content-Type"), tt.want)
			}
		}
		w := httptest.NewRecorder()
		h.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		for _, ref := range []string{`/live/live.css`, `/live/live.js`} {
			if !strings.Contains(w.Body.String(), ref) {
				t.Errorf("the page does not load %s", ref)
			}
		}
	})
}

func TestForgetsStationsGoneBeyondMaxGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stations fleet
		var ids []string
		for i := range MaxGone + 500 {
			ids = append(ids, fmt.Sprintf("CS%d", i+1))
		}
		stations.set(ids...)
		h := newHub(t, Options{Connected: stations.connected})
		time.Sleep(200 * time.Millisecond)
		synctest.Wait() // the frame is made
		p, _, _ := start(t, h)
		stations.set("CS7") // all but one go
		time.Sleep(200 * time.Millisecond)
		f := p.frame()
		keep := MaxGone * 9 / 10
		if !f.Full || f.Stats.Known != keep+1 || len(f.Stations) != keep+1 {
			t.Fatalf("after %d stations left: full %v, %d known, %d sent; want a whole frame of the %d gone last seen and CS7",
				MaxGone+499, f.Full, f.Stats.Known, len(f.Stations), keep)
		}
		if st, ok := stationNamed(f, "CS7"); !ok || !st.Connected || st.N != 7 {
			t.Errorf("CS7, still connected: %+v, %v; want it kept, as station 7", st, ok)
		}
		if _, ok := stationNamed(f, "CS1"); ok {
			t.Errorf("CS1, the first seen of those gone, is still sent")
		}
		if st, ok := stationNamed(f, "CS1500"); !ok || st.N != 1500 || st.Connected {
			t.Errorf("CS1500: %+v, %v; want it kept, gone, its number unchanged", st, ok)
		}
	})
}

func TestStationNumbersFollowTheirIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		for _, id := range []string{"CS0007", "CS0002", "north", "B7", "CS0001"} {
			h.stationSeen(id, report{})
		}
		_, _, f := start(t, h)
		want := map[string]int{"CS0007": 7, "CS0002": 2, "north": ownNumbers + 1, "B7": ownNumbers + 2, "CS0001": 1}
		for id, n := range want {
			if st, _ := stationNamed(f, id); st.N != n {
				t.Errorf("%s is station %d, want %d", id, st.N, n)
			}
		}
	})
}

func TestPageThatNeverReadsIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, done := openPageDone(t, h)
		p.next() // hello
		p.frame()
		time.Sleep(writeTimeout + time.Second) // and reads nothing more
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatalf("a page that read nothing for %s still has its stream: a browser gone without closing would hold a goroutine forever", writeTimeout+time.Second)
		}
	})
}

func TestCallsNobodyCanAnswerDoNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h) // a watch counts from its start
		c := tapOn(h)
		for _, frame := range []string{
			`[2,"","Heartbeat",{}]`,
			`[2,"` + strings.Repeat("x", ocpp.MaxIDLength+1) + `","Heartbeat",{}]`,
			"[2,\"a\xff\",\"Heartbeat\",{}]",
			"[2,\"b\",\"DataTransfer\",{\"vendorId\":\"\xff\"}]",
		} {
			c.FrameRead("CS1", []byte(frame))
		}
		time.Sleep(200 * time.Millisecond)
		f := p.frame()
		if f.Stats.Waiting != 0 {
			t.Errorf("%d calls waiting after four the server cannot answer (no id, too long an id, invalid UTF-8): want 0, or they wait forever", f.Stats.Waiting)
		}
	})
}

func TestQueueLeavesOutCallsBeingWorkedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		p, _, _ := start(t, h) // a watch counts from its start
		c := tapOn(h)
		for _, id := range []string{"a", "b", "c"} {
			c.FrameRead("CS1", []byte(`[2,"`+id+`","Heartbeat",{}]`))
		}
		w := backend.Work{Kind: backend.KindCall, Station: "CS1", CallID: "a", Worker: "worker-1"}
		h.WorkStarted(1, w, time.Now())
		time.Sleep(200 * time.Millisecond)
		f := p.frame()
		if f.Stats.Waiting != 3 || f.Stats.Queue != 2 {
			t.Errorf("3 calls read, 1 with a worker: waiting %d, queue %d; want 3 and 2", f.Stats.Waiting, f.Stats.Queue)
		}
		// Answered, the worker does its bookkeeping: b and c still wait for one.
		c.MessageSent("CS1", &ocpp.CallResult{ID: "a"})
		h.WorkReplied(1)
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if f.Stats.Waiting != 2 || f.Stats.Queue != 2 {
			t.Errorf("a answered, its worker still busy: waiting %d, queue %d; want 2 and 2", f.Stats.Waiting, f.Stats.Queue)
		}
		h.WorkEnded(1, w, time.Now(), time.Now(), nil)
		time.Sleep(200 * time.Millisecond)
		if f = p.frame(); f.Stats.Queue != 2 {
			t.Errorf("after the work ended: queue %d, want 2", f.Stats.Queue)
		}
	})
}

func TestNobodyWatchingCostsNoGauges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		reads := 0
		connected := func() []string {
			mu.Lock()
			defer mu.Unlock()
			reads++
			return []string{"CS1"}
		}
		h := newHub(t, Options{Connected: connected})
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		if reads != 0 {
			t.Errorf("the stations were listed %d times in a second nobody watched; want 0: an unwatched view must cost the server nothing per frame", reads)
		}
		mu.Unlock()
		_, _, f := start(t, h)
		if st, ok := stationNamed(f, "CS1"); !ok || !st.Connected {
			t.Errorf("the first page's whole picture: CS1 %+v, %v; want it connected, read when the page came", st, ok)
		}
	})
}

// backlog is a step 05 server's queues: a number for each station.
type backlog struct {
	mu sync.Mutex
	q  map[string]int
}

func (b *backlog) Queued(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.q[id]
}

func TestQueuesOfStationsGoneStillShow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stations fleet
		stations.set("CS1", "CS2")
		queues := &backlog{q: map[string]int{"CS1": 2000, "CS2": 1}}
		h := newHub(t, Options{Connected: stations.connected, Server: queues})
		p, _, f := start(t, h)
		if f.Stats.Queued == nil || *f.Stats.Queued != 2001 {
			t.Fatalf("queued %v, want 2001", f.Stats.Queued)
		}
		stations.set("CS2") // the flooder leaves, its backlog stays
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if st, _ := stationNamed(f, "CS1"); st.Connected || st.Queued != 2000 || *f.Stats.Queued != 2001 {
			t.Errorf("CS1 gone with 2,000 queued: %+v, queued in all %d; want its tile to say so, and the total to count it", st, *f.Stats.Queued)
		}
		queues.mu.Lock()
		queues.q["CS1"] = 0 // processed
		queues.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if st, _ := stationNamed(f, "CS1"); st.Queued != 0 || *f.Stats.Queued != 1 {
			t.Errorf("CS1's backlog processed: %+v, queued in all %d; want 0 and 1", st, *f.Stats.Queued)
		}
	})
}

func TestWatchCountsFromItsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		c := tapOn(h)
		w := backend.Work{Kind: backend.KindCall, Station: "CS1", CallID: "a", Worker: "worker-1"}
		// Nobody watches: a status is kept, a call costs nothing.
		c.FrameRead("CS1", []byte(`[2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]`))
		c.FrameRead("CS1", []byte(`[2,"a","Heartbeat",{}]`))
		h.WorkStarted(1, w, time.Now())
		c.mu.Lock()
		kept := 0
		if n := c.counts; n != nil {
			kept = len(n.calls) + n.unknown
		}
		c.mu.Unlock()
		h.mu.Lock()
		open := len(h.open)
		h.mu.Unlock()
		if kept != 0 || open != 0 {
			t.Errorf("nobody watching, the view keeps %d calls and %d pieces of work; want none: a call must cost it nothing", kept, open)
		}

		ctx, cancel := context.WithCancel(context.Background())
		first := watchPage(t, h, ctx)
		p, _, f := start(t, h) // a second page
		st, _ := stationNamed(f, "CS1")
		if st.Status != "Charging" || st.Waiting != 0 || f.Stats.Queue != 0 || len(f.Lanes) != 0 {
			t.Errorf("a page comes: CS1 %+v, queue %d, %d lanes; want Charging (reported before), no call waiting, none queued, no lane: a watch counts from its start",
				st, f.Stats.Queue, len(f.Lanes))
		}
		c.MessageSent("CS1", &ocpp.CallResult{ID: "a"}) // read before the watch
		h.WorkReplied(1)
		h.WorkEnded(1, w, time.Now(), time.Now(), nil)
		c.FrameRead("CS1", []byte(`[2,"b","Heartbeat",{}]`))
		cancel() // the first page leaves: the second still watches
		<-first
		time.Sleep(200 * time.Millisecond)
		f = p.frame()
		if st, _ := stationNamed(f, "CS1"); st.Waiting != 1 || len(f.Stats.Rate) != 0 || f.Stats.P50 != nil || f.Stats.Queue != 1 {
			t.Errorf("after a call read before the watch was answered and one read in it was not: CS1 waits for %d, rate %v, p50 %v, queue %d; want 1, none, none, 1",
				st.Waiting, f.Stats.Rate, f.Stats.P50, f.Stats.Queue)
		}
		c.MessageSent("CS1", &ocpp.CallResult{ID: "b"})
		time.Sleep(time.Second)
		f = p.frame()
		for f.T < 1200 {
			f = p.frame()
		}
		if st, _ := stationNamed(f, "CS1"); st.Waiting != 0 || len(f.Stats.Rate) != 1 || f.Stats.Rate[0] != 1 {
			t.Errorf("b answered: CS1 waits for %d, rate %v; want 0 and [1]", st.Waiting, f.Stats.Rate)
		}
	})
}

// watchPage opens an event stream on h, in a synctest bubble, that drops
// what it reads until ctx ends; the channel is closed when its handler
// returns.
func watchPage(t *testing.T, h *Hub, ctx context.Context) <-chan struct{} {
	t.Helper()
	pr, pw := io.Pipe()
	req := httptest.NewRequest("GET", "/live/events", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		h.Handler().ServeHTTP(&pipeWriter{header: http.Header{}, w: pw}, req)
		pw.Close()
		close(done)
	}()
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		pr.Close()
		<-done
	})
	// The page is open, and its first frame made, before the caller goes
	// on: a frame it made later, at the same instant as the caller's next
	// steps, could show some of them or none.
	synctest.Wait()
	return done
}

func TestMeterOf(t *testing.T) {
	sv := func(measurand, unit, value string) ocpp.SampledValue {
		return ocpp.SampledValue{Measurand: measurand, Unit: unit, Value: value}
	}
	const (
		energy = ocpp.MeasurandEnergyActiveImportRegister
		power  = ocpp.MeasurandPowerActiveImport
	)
	for _, tc := range []struct {
		name     string
		readings [][]ocpp.SampledValue
		want     meter
	}{
		{"Wh and W", [][]ocpp.SampledValue{{sv(energy, "Wh", "1500"), sv(power, "W", "7400")}},
			meter{wh: 1500, w: 7400, hasWh: true, hasW: true, register: true}},
		{"kWh and kW", [][]ocpp.SampledValue{{sv(energy, "kWh", "1.75"), sv(power, "kW", "11")}},
			meter{wh: 1750, w: 11000, hasWh: true, hasW: true, register: true}},
		{"no measurand, no unit: the register in Wh", [][]ocpp.SampledValue{{sv("", "", "42")}},
			meter{wh: 42, hasWh: true, register: true}},
		{"the register only", [][]ocpp.SampledValue{{sv(energy, "Wh", "10")}},
			meter{wh: 10, hasWh: true, register: true}},
		{"the power only", [][]ocpp.SampledValue{{sv(power, "W", "3680")}},
			meter{w: 3680, hasW: true, register: true}},
		{"neither", [][]ocpp.SampledValue{{sv(ocpp.MeasurandVoltage, "V", "230"), sv(ocpp.MeasurandCurrentImport, "A", "16")}},
			meter{register: true}},
		{"an energy in a power's unit, a power in an energy's", [][]ocpp.SampledValue{{sv(energy, "kW", "1"), sv(power, "Wh", "1")}},
			meter{register: true}},
		{"not numbers", [][]ocpp.SampledValue{{sv(energy, "Wh", "lots"), sv(power, "W", "NaN")}},
			meter{register: true}},
		{"signed data", [][]ocpp.SampledValue{{{Measurand: energy, Unit: "Wh", Value: "12", Format: ocpp.FormatSignedData}}},
			meter{register: true}},
		{"the phases added up", [][]ocpp.SampledValue{{
			{Measurand: power, Unit: "W", Value: "1000", Phase: ocpp.PhaseL1},
			{Measurand: power, Unit: "W", Value: "1100", Phase: ocpp.PhaseL2},
			{Measurand: power, Unit: "W", Value: "1200", Phase: ocpp.PhaseL3},
			{Measurand: power, Unit: "W", Value: "5", Phase: ocpp.PhaseN},
		}}, meter{w: 3300, hasW: true, register: true}},
		{"the whole meter over its phases", [][]ocpp.SampledValue{{
			{Measurand: energy, Unit: "Wh", Value: "100", Phase: ocpp.PhaseL1},
			sv(energy, "Wh", "300"),
		}}, meter{wh: 300, hasWh: true, register: true}},
		{"the last reading that has each", [][]ocpp.SampledValue{
			{sv(energy, "Wh", "100"), sv(power, "W", "1000")},
			{sv(energy, "Wh", "110")},
		}, meter{wh: 110, w: 1000, hasWh: true, hasW: true, register: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var readings []ocpp.MeterValue
			for _, r := range tc.readings {
				readings = append(readings, ocpp.MeterValue{SampledValue: r})
			}
			if got := meterOf(readings); got != tc.want {
				t.Errorf("meterOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestChargingAndBootingShow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var on fleet
		on.set("CS1", "CS2")
		h := newHub(t, Options{Connected: on.connected})
		c := tapOn(h)
		// Nobody watches yet: the boot and the start are kept for the
		// page that comes; the meter readings are not read. All happens
		// between frames (every 200 ms from the start), each step below
		// before the next.
		c.FrameRead("CS1", []byte(`[2,"0","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`))
		time.Sleep(1100 * time.Millisecond)
		c.FrameRead("CS1", []byte(`[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`))
		c.FrameRead("CS1", []byte(`[2,"2","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":1000,"timestamp":"2026-01-01T00:00:00Z"}]`))
		c.FrameRead("CS1", []byte(`[2,"3","MeterValues",{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":"2026-01-01T00:00:01Z","sampledValue":[{"value":"1200"}]}]}]`))
		c.FrameRead("CS2", []byte(`[2,"1","Heartbeat",{}]`))
		p, _, f := start(t, h)
		st, _ := stationNamed(f, "CS1")
		if st.Booted != 1100 || st.KWh == nil || *st.KWh != 0 || st.KW != nil || st.Register {
			t.Errorf("CS1 in the first page's whole picture: %s, want booted again at 1100 ms, 0 kWh (a reading before the page is not read), no power",
				stationJSON(st))
		}
		if st, _ := stationNamed(f, "CS2"); st.Booted != 0 || st.KWh != nil || st.KW != nil {
			t.Errorf("CS2, which neither booted again nor charged: %s, want no boot, no energy, no power", stationJSON(st))
		}
		if data, _ := json.Marshal(stationOut{ID: "CS2"}); strings.Contains(string(data), "kW") || strings.Contains(string(data), "booted") ||
			strings.Contains(string(data), "register") {
			t.Errorf("a station neither booted nor charging encodes as %s, want no kWh, kW, register or booted key", data)
		}

		meterValues := func(connector int, tx, values string) string {
			return `[2,"m","MeterValues",{"connectorId":` + strconv.Itoa(connector) + tx +
				`,"meterValue":[{"timestamp":"2026-01-01T00:00:01Z","sampledValue":[` + values + `]}]}]`
		}
		const tx7 = `,"transactionId":7`
		var cs2Booted []int64 // as each frame after a step of CS2's says
		for _, step := range []struct {
			station, frame string
			want           string // what the station's energy, power and register say after it; "" if the frame must not send it
		}{
			{"CS1", meterValues(1, tx7, `{"value":"1500","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"7400","measurand":"Power.Active.Import","unit":"W"}`),
				"0.5 kWh 7.4 kW"},
			{"CS1", meterValues(1, tx7, `{"value":"1.75","measurand":"Energy.Active.Import.Register","unit":"kWh"},{"value":"11","measurand":"Power.Active.Import","unit":"kW"}`),
				"0.75 kWh 11 kW"},
			{"CS1", meterValues(1, tx7, `{"value":"2000","measurand":"Energy.Active.Import.Register","unit":"Wh"}`), // no power: the last stays
				"1 kWh 11 kW"},
			{"CS1", meterValues(1, tx7, `{"value":"230","measurand":"Voltage","unit":"V"}`), ""}, // neither
			// The meter went down (replaced, or wrapped): the session's
			// energy goes on from where it was.
			{"CS1", meterValues(1, tx7, `{"value":"100","measurand":"Energy.Active.Import.Register","unit":"Wh"}`), "1 kWh 11 kW"},
			{"CS1", meterValues(1, tx7, `{"value":"350","measurand":"Energy.Active.Import.Register","unit":"Wh"}`), "1.25 kWh 11 kW"},
			// A reading outside a transaction: nothing to show.
			{"CS2", meterValues(1, "", `{"value":"5000"}`), ""},
			// A transaction that began before the hub: the register.
			{"CS2", meterValues(1, `,"transactionId":8`, `{"value":"5000"}`), "5 kWh register"},
			{"CS1", `[2,"s","StopTransaction",{"transactionId":7,"meterStop":2350,"timestamp":"2026-01-01T00:01:00Z"}]`, "nothing"},
			// After its stop, a late reading: not shown again.
			{"CS1", meterValues(1, tx7, `{"value":"2400"}`), ""},
			// Not its transaction.
			{"CS2", `[2,"s","StopTransaction",{"transactionId":9,"meterStop":5000,"timestamp":"2026-01-01T00:01:00Z"}]`, ""},
			// A boot ends it (CS2's first the hub saw: not shown as one).
			{"CS2", `[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`, "nothing"},
			{"CS2", `[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`, "nothing"},
		} {
			c.FrameRead(step.station, []byte(step.frame))
			_, id, _, _ := peek([]byte(step.frame))
			c.MessageSent(step.station, &ocpp.CallResult{ID: string(id)})
			time.Sleep(200 * time.Millisecond)
			f = p.frame()
			st, sent := stationNamed(f, step.station)
			switch got := meterWords(st); {
			case step.want == "" && sent:
				t.Errorf("after %s the frame sends %s (%s), want nothing: what it shows did not change", step.frame, step.station, stationJSON(st))
			case step.want != "" && (!sent || got != step.want):
				t.Errorf("after %s: %s sent %v, %q; want it sent with %q", step.frame, step.station, sent, got, step.want)
			}
			if step.station == "CS2" {
				cs2Booted = append(cs2Booted, st.Booted)
			}
		}
		// CS2's last two steps are its boots: the first the hub saw, no
		// news, and the second, 100 ms before the last frame.
		if got, want := cs2Booted[len(cs2Booted)-2:], []int64{0, f.T - 100}; !slices.Equal(got, want) {
			t.Errorf("CS2 booted again at %v ms after its two boots, want %v: not at the first, and at the second", got, want)
		}
	})
}

// meterWords says what a station's energy, power and register are.
func meterWords(st stationOut) string {
	var words []string
	if st.KWh != nil {
		words = append(words, strconv.FormatFloat(*st.KWh, 'f', -1, 64)+" kWh")
	}
	if st.KW != nil {
		words = append(words, strconv.FormatFloat(*st.KW, 'f', -1, 64)+" kW")
	}
	if st.Register {
		words = append(words, "register")
	}
	if len(words) == 0 {
		return "nothing"
	}
	return strings.Join(words, " ")
}

func stationJSON(st stationOut) string {
	data, _ := json.Marshal(st)
	return string(data)
}

func TestTileShowsTheLowestConnector(t *testing.T) {
	type set struct {
		connector int
		status    string
	}
	tests := []struct {
		name string
		sets []set
		want string
	}{
		{"none", nil, ""},
		{"the station's own only", []set{{0, "Unavailable"}}, "Unavailable"},
		{"a connector over the station's own", []set{{0, "Unavailable"}, {1, "Charging"}}, "Charging"},
		{"the lowest connector", []set{{2, "Faulted"}, {0, "Available"}, {1, "Preparing"}}, "Preparing"},
		{"the last status of a connector", []set{{1, "Preparing"}, {2, "Faulted"}, {1, "Charging"}}, "Charging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st station
			for _, s := range tt.sets {
				st.setStatus(s.connector, s.status)
			}
			if got := st.summary(); got != tt.want {
				t.Errorf("summary after %v = %q, want %q", tt.sets, got, tt.want)
			}
			for _, s := range tt.sets {
				if st.setStatus(s.connector, st.statusOf(s.connector)) {
					t.Errorf("connector %d's status set again to %q: reported as a change", s.connector, st.statusOf(s.connector))
				}
			}
		})
	}
}

func TestTapDropsItsCountsWhenTheWatchEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub(t, Options{})
		c := tapOn(h)
		ctx, cancel := context.WithCancel(context.Background())
		watchPage(t, h, ctx)
		synctest.Wait()
		c.FrameRead("CS1", []byte(`[2,"a","Heartbeat",{}]`))
		c.mu.Lock()
		counting := c.counts != nil
		c.mu.Unlock()
		if !counting {
			t.Fatal("a page watches, and the tap counts nothing of a call")
		}
		cancel()
		synctest.Wait()
		c.mu.Lock()
		left := c.counts
		c.mu.Unlock()
		if left != nil {
			t.Errorf("the last page has gone, and the tap keeps its counts: %+v", left)
		}
	})
}

func TestStationFits64Bytes(t *testing.T) {
	// The hub keeps one for every station it knows: 10,000 idle stations
	// pay for each byte past a size class 10,000 times.
	if size := unsafe.Sizeof(station{}); size > 64 {
		t.Errorf("a station's view is %d bytes, want at most 64", size)
	}
}

func TestNumberSet(t *testing.T) {
	tests := []struct {
		name   string
		add    []int
		remove []int
		free   int // firstFree(ownNumbers+1)
	}{
		{"empty", nil, nil, ownNumbers + 1},
		{"own numbers leave the others free", []int{1, 63, 64, ownNumbers}, nil, ownNumbers + 1},
		{"the lowest free above", []int{ownNumbers + 1, ownNumbers + 2, ownNumbers + 4}, nil, ownNumbers + 3},
		{"across a word", seq(ownNumbers+1, 130), nil, ownNumbers + 131},
		{"a number given back", seq(ownNumbers+1, 130), []int{ownNumbers + 70}, ownNumbers + 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s numberSet
			for _, n := range tt.add {
				s.add(n)
			}
			for _, n := range tt.remove {
				s.remove(n)
			}
			gone := make(map[int]bool)
			for _, n := range tt.remove {
				gone[n] = true
			}
			for _, n := range tt.add {
				if s.has(n) == gone[n] {
					t.Errorf("has(%d) = %v after adding it%s", n, s.has(n), map[bool]string{true: " and removing it"}[gone[n]])
				}
			}
			for _, n := range []int{2, 65, 1 << 19, ownNumbers + 1000} {
				if !slices.Contains(tt.add, n) && s.has(n) {
					t.Errorf("has(%d) = true, never added", n)
				}
			}
			if got := s.firstFree(ownNumbers + 1); got != tt.free {
				t.Errorf("firstFree = %d, want %d", got, tt.free)
			}
		})
	}
}

// seq returns n numbers from first on.
func seq(first, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = first + i
	}
	return s
}
