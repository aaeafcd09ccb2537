package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func TestCheckCluster(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		fields  []string
		wantErr string
	}{
		{"no NATS_URL", "", nil, ""},
		{"a node", "nats://127.0.0.1:4222", []string{"AuthKeys", "Node", "NATS"}, ""},
		{"a step before the cluster", "nats://127.0.0.1:4222", []string{"AuthKeys"}, "step 09 has no cluster (its Config has no NATS): NATS_URL needs step 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCluster(tt.url, 9, tt.fields)
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkCluster(%q, %v) = %v, want %q", tt.url, tt.fields, err, tt.wantErr)
			}
		})
	}
}

func TestNodeName(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}
	if got := nodeName("n1", addr); got != "n1" {
		t.Errorf("NODE=n1: %q", got)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	host, _, _ = strings.Cut(host, ".")
	if got := nodeName("", addr); got != host+":8081" {
		t.Errorf("the default name on port 8081 is %q, want %q: the nodes of one machine differ by their port", got, host+":8081")
	}
}

func TestClusterBanner(t *testing.T) {
	node := []string{"Node", "NATS"}
	tests := []struct {
		name, url string
		fields    []string
		want      string
	}{
		{"joined", "nats://kata:s3cret@127.0.0.1:4222", node, "node n1 of a cluster · NATS nats://kata:xxxxx@127.0.0.1:4222"},
		{"alone", "", node, "node n1, a cluster of one · NATS_URL=nats://HOST:4222 joins"},
		{"before step 10", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clusterBanner(tt.url, "n1", tt.fields)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("clusterBanner = %q, want %q", got, tt.want)
			}
		})
	}
}

// A NATS that is not there when the node starts is an error that says
// where it was looked for; one that is there is joined, and left.
func TestJoinCluster(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A port nothing listens on: one that was free a moment ago.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "nats://kata:s3cret@" + l.Addr().String()
	l.Close()
	if _, err := joinCluster(gone, "n1", logger); err == nil || !strings.Contains(err.Error(), "cannot join the cluster") ||
		!strings.Contains(err.Error(), "is a NATS server running there?") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("joining a NATS that is not there: %v; want a clear error, without the password", err)
	}

	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not start")
	}
	var log lockedBuffer
	n, err := joinCluster(srv.ClientURL(), "n1", slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Conn().Subscribe("kata.test", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := n.leave(); err != nil {
		t.Errorf("leave: %v", err)
	}
	if !n.Conn().IsClosed() {
		t.Error("the connection is still open after leave")
	}
	if s := log.String(); strings.Contains(s, "disconnected") {
		t.Errorf("leaving logged a disconnection, as if the broker had gone:\n%s", s)
	}
	if err := (*natsLink)(nil).leave(); err != nil || (*natsLink)(nil).Conn() != nil {
		t.Errorf("a cluster of one leaves nothing: %v", err)
	}
}

// lockedBuffer is a log's buffer that the NATS connection's goroutine may
// write while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
