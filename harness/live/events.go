package live

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"
)

//go:embed page
var pageFiles embed.FS

// writeTimeout is how long a page may take to take in one frame before
// its stream is dropped: a page that went away without closing must not
// hold a goroutine forever. Its browser reconnects if it is still there.
const writeTimeout = 10 * time.Second

// Handler serves the page at / and its files and event stream under
// /live/: mount it for "GET /{$}" and "GET /live/".
func (h *Hub) Handler() http.Handler {
	files, _ := fs.Sub(pageFiles, "page") // the directory is embedded: it is there
	assets := http.StripPrefix("/live/", http.FileServerFS(files))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.HandleFunc("GET /live/events", h.serveEvents)
	mux.Handle("GET /live/", assets)
	return mux
}

// serveEvents sends a page its event stream: hello, a whole frame, then
// every frame as it is made. A page that falls behind is not waited for:
// it skips to the newest frame, whole.
func (h *Hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in between must not hold frames back
	h.mu.Lock()
	hi := h.helloLocked()
	if h.pages == 0 {
		h.beginWatchLocked()
	}
	h.pages++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.pages--; h.pages == 0 {
			h.endWatchLocked()
		}
		h.mu.Unlock()
	}()
	send := func(event string, data []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write([]byte("event: " + event + "\ndata: ")); err != nil {
			return false
		}
		if _, err := w.Write(data); err != nil {
			return false
		}
		if _, err := w.Write([]byte("\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// A restarted server is back within a second or two: the browser need
	// not wait its default three before it tries again.
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	data, _ := json.Marshal(hi)
	if !send("hello", data) {
		return
	}
	h.makeFrame() // the gauges, read now: nobody read them while no page watched
	last, data := h.whole()
	if !send("frame", data) {
		return
	}
	for {
		h.mu.Lock()
		seq, latest, tick := h.seq, h.latest, h.tick
		h.mu.Unlock()
		if seq != last {
			if seq != last+1 || latest == nil {
				seq, latest = h.whole()
			}
			if !send("frame", latest) {
				return
			}
			last = seq
		}
		select {
		case <-tick:
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
	}
}
