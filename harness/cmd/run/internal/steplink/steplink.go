// Package steplink is what the run command knows of the step linked into
// it: the Config every step's New takes, the Server it returns, and the Link
// that the generated zz_step.go fills in with the step's starter and
// solution. The run command's own packages see a step only through it.
package steplink

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"context"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/backend"
)

// Config is what the program gives a step's New. Every step's Config has
// these fields; the generated link copies them over.
type Config struct {
	Backend *backend.Backend
	Workers int
	Logger  *slog.Logger
	// IdleTimeout reaches only the steps whose Config has it (step 04 on).
	IdleTimeout time.Duration
	// QueueLimit reaches only the steps whose Config has it (step 05 on).
	QueueLimit int
	// AuthKeys reaches only the steps whose Config has it (step 09 on):
	// each station's key, for HTTP Basic authentication. nil leaves it off.
	AuthKeys map[string]string
	// MaxFrameSize reaches only the steps whose Config has it (step 09
	// on): the largest frame a station may send. 0 leaves the step's
	// default.
	MaxFrameSize int64
	// Node, NATS and KeepAlive reach only the steps whose Config has them
	// (step 10 on): the node's name among the nodes that share NATS, its
	// connection to them, and how often it says it is still at work on a
	// call routed to it. A nil NATS leaves the node a cluster of one.
	Node      string
	NATS      *nats.Conn
	KeepAlive time.Duration
}

// Server is what every step's server offers.
type Server interface {
	// Serve accepts stations on l until Close.
	Serve(l net.Listener) error
	// Close stops the server and waits for every goroutine it started.
	Close() error
}

// A Link is the step compiled into the program.
type Link struct {
	Step  int
	Name  string // "01-workers"
	Title string
	// Starter builds the learner's server (exercises/NN-name) and Solution
	// the reference solution's (solutions/NN-name); either is nil when the
	// program was built without it.
	Starter, Solution func(Config) Server
	// StarterFields and SolutionFields are the optional fields of Config
	// (IdleTimeout, QueueLimit, AuthKeys, …) that each variant's Config has:
	// the ones the link copies over.
	StarterFields, SolutionFields []string
	// StarterErrNotConnected and SolutionErrNotConnected are the error a
	// variant's Call returns for a station that is not connected (step 07
	// on), or nil.
	StarterErrNotConnected, SolutionErrNotConnected error
}

// Variant returns the constructor of the named variant of the linked step,
// and the optional Config fields it takes.
func (l *Link) Variant(name string) (func(Config) Server, []string, error) {
	var f func(Config) Server
	var fields []string
	switch name {
	case "starter":
		f, fields = l.Starter, l.StarterFields
	case "solution":
		f, fields = l.Solution, l.SolutionFields
	default:
		return nil, nil, fmt.Errorf("unknown variant %q: want starter or solution", name)
	}
	if f == nil {
		return nil, nil, fmt.Errorf("step %s was built without its %s", l.Name, name)
	}
	return f, fields, nil
}

// Graceful is a server that can stop without dropping what it
// acknowledged (step 08 on).
type Graceful interface {
	Shutdown(ctx context.Context) error
}

// RoutedInboxLen is how many messages a node's sync subscription holds
// before the broker's next ones are dropped as a slow consumer's: every
// NATS connection made for a step's node asks for it (nats.SyncQueueLen).
// nats.go's default, 65,536 (512 KiB of channel), is for a subscription
// that lives long; step 10's route takes one for each call it routes, an
// inbox that holds a few messages (the call's keepalives and its answer).
const RoutedInboxLen = 64
