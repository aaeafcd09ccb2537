package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
)

// A clusterNode is one node of make cluster: this program's serve, in a
// process of its own, so that a node can be killed as a machine dies
// (kill -9) while the others go on.
type clusterNode struct {
	name string
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is read
	err  error         // how it exited, once done is closed
}

// runCluster runs make cluster: a NATS server in this process, and nodes
// nodes of the linked step's server, each serve in a child process that
// joins it. Node k listens on the port after node k-1's. Every node gets
// the same serve flags (those after --), and so the same store.
//
// A node that exits on its own is reported and the others go on: that is
// how a node's death is tried out. cluster passes the first INT, TERM or
// HUP it gets on to every node (each in a process group of its own, which
// a terminal's Ctrl-C does not reach) and waits for all of them before it
// stops the broker; a second one kills them.
func runCluster(args []string) error {
	fs := steplink.NewFlags("cluster")
	n := fs.Int("nodes", 3, "how many nodes")
	addr := fs.String("addr", "127.0.0.1:8080", "the first node's address; each next node listens on the next port")
	natsAddr := fs.String("nats", "127.0.0.1:4222", "where the NATS server listens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	serveArgs := fs.Args() // after --: serve's flags, the same for every node
	// Checked once here, rather than by each node as it starts.
	f, err := parseServeFlags(serveArgs, os.Getenv)
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %s: %w", *addr, err)
	}
	natsHost, natsPort, err := splitHostPort(*natsAddr)
	if err != nil {
		return fmt.Errorf("-nats %s: %w", *natsAddr, err)
	}

	broker, err := startBroker(natsHost, natsPort, 0)
	if err != nil {
		return err
	}
	defer func() {
		broker.Shutdown()
		broker.WaitForShutdown()
	}()
	natsURL := "nats://" + net.JoinHostPort(natsHost, strconv.Itoa(natsPort))

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)

	st := term.StyleFor(os.Stderr)
	var out sync.Mutex // one node's line at a time
	nodes := make([]*clusterNode, *n)
	for i := range nodes {
		node := &clusterNode{
			name: fmt.Sprintf("node%d", i+1),
			addr: net.JoinHostPort(host, strconv.Itoa(port+i)),
			done: make(chan struct{}),
		}
		nodeArgs := append([]string{"serve", "-addr", node.addr, "-node", node.name, "-nats-url", natsURL}, serveArgs...)
		if f.log == "" {
			nodeArgs = append(nodeArgs, "-log", "text") // JSON otherwise: a node's stderr is a pipe
		}
		node.cmd = exec.Command(os.Args[0], nodeArgs...)
		node.cmd.Stdin = nil
		ownGroup(node.cmd)
		stderr, err := node.cmd.StderrPipe()
		if err != nil {
			return fmt.Errorf("%s: %w", node.name, err)
		}
		node.cmd.Stdout = node.cmd.Stderr
		if err := node.cmd.Start(); err != nil {
			stopNodes(nodes[:i], syscall.SIGKILL)
			return fmt.Errorf("start %s: %w", node.name, err)
		}
		nodes[i] = node
		prefix := st.Dim(fmt.Sprintf("%-6s│ ", node.name))
		go func() {
			copyLines(&out, os.Stderr, stderr, prefix)
			node.err = node.cmd.Wait()
			close(node.done)
		}()
	}

	// Once every node listens, say what runs where.
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		for _, node := range nodes {
			waitListening(node, 30*time.Second)
		}
	}()
	select {
	case <-ready:
	case sig := <-signals:
		return stopCluster(nodes, sig, signals)
	}
	out.Lock()
	printClusterBanner(os.Stderr, st, nodes, natsURL, f)
	out.Unlock()

	exited := make(chan *clusterNode, len(nodes))
	for _, node := range nodes {
		go func() {
			<-node.done
			exited <- node
		}()
	}
	for alive := len(nodes); ; {
		select {
		case sig := <-signals:
			return stopCluster(nodes, sig, signals)
		case node := <-exited:
			alive--
			out.Lock()
			fmt.Fprintf(os.Stderr, "%s\n", st.Red(fmt.Sprintf("%s stopped (%v): its stations reconnect to the other nodes (make stations RECONNECT=1); %d node(s) left", node.name, exitReason(node.err), alive)))
			out.Unlock()
			if alive == 0 {
				return errors.New("every node has stopped")
			}
		}
	}
}

// stopCluster passes sig on to every node that still runs, waits for them
// all, and forces them with a second signal.
func stopCluster(nodes []*clusterNode, sig os.Signal, signals <-chan os.Signal) error {
	fmt.Fprintf(os.Stderr, "\nstopping %d nodes, then the NATS server (Ctrl-C again to force)…\n", len(nodes))
	stopNodes(nodes, sig)
	all := make(chan struct{})
	go func() {
		for _, node := range nodes {
			<-node.done
		}
		close(all)
	}()
	select {
	case <-all:
	case <-signals:
		stopNodes(nodes, syscall.SIGKILL)
		<-all
	}
	var errs []error
	for _, node := range nodes {
		if node.err != nil && !isSignalExit(node.err) {
			errs = append(errs, fmt.Errorf("%s: %w", node.name, node.err))
		}
	}
	return errors.Join(errs...)
}

// stopNodes sends sig to every node that has not exited.
func stopNodes(nodes []*clusterNode, sig os.Signal) {
	for _, node := range nodes {
		select {
		case <-node.done:
		default:
			_ = node.cmd.Process.Signal(sig)
		}
	}
}

// copyLines copies r to w a line at a time, each line after prefix, under
// mu: the nodes' lines interleave whole.
func copyLines(mu *sync.Mutex, w io.Writer, r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mu.Lock()
		fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
		mu.Unlock()
	}
}

// waitListening waits until node accepts connections, until it exits, or
// for at most limit.
func waitListening(node *clusterNode, limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for ctx.Err() == nil {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "tcp", node.addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-node.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// printClusterBanner says where each node serves, and how to try it.
func printClusterBanner(w io.Writer, st term.Style, nodes []*clusterNode, natsURL string, f serveFlags) {
	ws, web := "ws", "http"
	if f.tlsCert != "" {
		ws, web = "wss", "https"
	}
	db := "SQLite " + f.db
	if isPostgresURL(f.db) {
		db = "a PostgreSQL database (DB)" // its URL may hold a password
	}
	fmt.Fprintf(w, "\n%s\n", st.Bold(fmt.Sprintf("a cluster of %d nodes over NATS at %s (embedded in this process), sharing the store: %s", len(nodes), natsURL, db)))
	urls := make([]string, len(nodes))
	for i, node := range nodes {
		urls[i] = fmt.Sprintf("%s://%s/ocpp", ws, node.addr)
		fmt.Fprintf(w, "  %-6s pid %-7d stations %s/{id} · live view %s://%s/ · API %s://%s/api/stations\n", node.name, node.cmd.Process.Pid, urls[i], web, node.addr, web, node.addr)
	}
	fmt.Fprintf(w, "%s\n", st.Dim("any node's API lists every station and calls any of them; kill one node (kill -9 its pid) and its stations move"))
	fmt.Fprintf(w, "%s\n\n", st.Dim(fmt.Sprintf("in another terminal: make stations N=300 MODE=idle RECONNECT=1 URL=%s · Ctrl-C stops all", strings.Join(urls, ","))))
}

// startBroker starts a NATS server on host:port for the nodes of a
// cluster, with its monitoring endpoint (/varz, /subsz) on monitorPort if
// it is not 0.
func startBroker(host string, port, monitorPort int) (*server.Server, error) {
	broker, err := server.NewServer(&server.Options{
		ServerName: "kata-cluster", Host: host, Port: port,
		HTTPHost: host, HTTPPort: monitorPort,
		NoSigs: true, // the signals are the program's, and it stops the broker last
		NoLog:  true,
		// A node that stops answering pings for this long is taken for
		// dead: the broker drops its subscriptions, and calls routed to
		// its stations fail with "no responders". A node killed on this
		// machine is seen at once: its sockets close with it.
		PingInterval: 2 * time.Second, MaxPingsOut: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	go broker.Start()
	if !broker.ReadyForConnections(10 * time.Second) {
		broker.Shutdown()
		return nil, fmt.Errorf("the NATS server could not listen on %s within 10s (another make cluster running? NATS_ADDR=127.0.0.1:4223 picks another port)", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return broker, nil
}

// runBroker runs a NATS server for a cluster's nodes, and nothing else, until
// INT or TERM: make bench's cluster phase runs it in a process of its own,
// whose memory is then the broker's cost.
func runBroker(args []string) error {
	fs := steplink.NewFlags("broker")
	addr := fs.String("addr", "127.0.0.1:4222", "where the NATS server listens")
	monitor := fs.Int("monitor", 0, "the port of its monitoring endpoint (/varz, /subsz) on the same host; 0: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := steplink.CheckArgs(fs); err != nil {
		return err
	}
	host, port, err := splitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %s: %w", *addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := startBroker(host, port, *monitor)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "NATS server on nats://%s\n", *addr)
	<-ctx.Done()
	b.Shutdown()
	b.WaitForShutdown()
	return nil
}

// splitHostPort splits addr into a host and a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("want a port from 1 to 65535, got %q", p)
	}
	return host, port, nil
}

// exitReason says how a node's process ended.
func exitReason(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d, %v", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", exit.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}

// isSignalExit reports whether err is a process's end by a signal, as a
// node stopped by Ctrl-C ends when it is forced.
func isSignalExit(err error) bool {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ws, ok := exit.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled()
	}
	return false
}
