// Command edgecheck attacks the edge of a running OCPP 1.6-J central system
// the way chargers in the field and hostile clients do, over real TCP from
// a process of its own, and prints per case what the server answered and
// whether that is what OCPP-J 1.6 and RFC 6455 call for.
//
//	go run ./stations/edgecheck -url ws://127.0.0.1:8080/ocpp
//	make edge URL=ws://127.0.0.1:8080/ocpp
//
// Each case runs on a fresh connection, as a station id of its own, the
// same on every run (EDGE-{case}): handshakes without ocpp1.6, a 2 MiB frame, a
// binary frame, invalid UTF-8, malformed and schema-breaking frames (each
// followed by a Heartbeat that must still be answered), and a second
// connection as a connected station. With -key or -auth-keys, the cases
// connect as the stations whose keys they were given, and three more check
// HTTP Basic auth. A case that waits longer than -timeout for an answer
// takes the server to be silent, which is a result too.
//
// Then, all at once, the limit cases check the limits the server states on
// handshakes (harness/wsconn): 20 connections that never finish their
// headers must be closed within the header timeout while a station still
// gets in, 1 MiB of headers must be refused with 431 before it is read,
// a connection idle after a refused handshake must be closed within the
// idle timeout, and identities with a NUL or 49 characters must be
// refused with 400. They take about 10 s; -limits=false leaves them out.
// The check causes two 401s in all (the auth cases'), well below the
// refusals make serve counts against an address before it answers 429.
//
// The exit status is 0 when every case is as OCPP-J expects, 1 when one is
// not, and 2 when the flags are wrong or the server cannot be reached.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/tlsauth"
	"github.com/ocppkata/kata/stations/edgecheck/edge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout), nil))
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a case is not as OCPP-J expects
	exitUsage  = 2 // wrong flags, or no server to check
)

// run runs the command line args, writing the cases to stdout, in colour
// if color is set. dial opens the check's connections; nil means the
// network's.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, color bool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	c.Dial = dial
	if err := c.Reach(ctx); err != nil {
		fmt.Fprintf(stderr, "edgecheck: %v\n", err)
		return exitUsage
	}
	p := newPrinter(stdout, color)
	p.header(c)
	results := c.Run(ctx, p.result)
	p.footer(c, results)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "edgecheck: interrupted: the cases after the last one shown did not run")
		return exitFailed
	}
	if edge.Passed(results) < len(results) {
		return exitFailed
	}
	return exitOK
}

// parseFlags reads the command line into a Checker. On a mistake it has
// already told the user, on stderr, what is wrong.
func parseFlags(args []string, stderr io.Writer) (*edge.Checker, error) {
	fs := flag.NewFlagSet("edgecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./stations/edgecheck [flags]\n\n"+
			"Attacks the edge of a running OCPP 1.6-J central system and says, case by case,\n"+
			"whether it answers as OCPP-J 1.6 and RFC 6455 call for.\n\nflags:\n")
		fs.PrintDefaults()
	}
	c := &edge.Checker{}
	var key, station, keysFile, caFile string
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:8080/ocpp", "the central system's endpoint; each connection appends /{stationId}")
	fs.DurationVar(&c.Timeout, "timeout", edge.DefaultTimeout, "how long each case waits for an answer before it takes the server to be silent")
	fs.StringVar(&key, "key", "", "the HTTP Basic password of -station: the cases connect as it, and the auth cases run")
	fs.StringVar(&station, "station", "CS0001", "the station that -key belongs to")
	fs.StringVar(&keysFile, "auth-keys", "", "a file of identity:password lines, the server's: the cases connect as those stations, and the auth cases run")
	fs.StringVar(&caFile, "ca", "", "wss://: the CA certificate (PEM) to trust, such as make certs's certs/ca.pem; default the system's")
	fs.BoolVar(&c.Limits, "limits", true, "also check the server's limits on handshakes: headers never finished, 1 MiB of headers, idle after a refusal, bad identities (about 10 s)")
	if err := fs.Parse(args); err != nil {
		return nil, err // the flag package has printed the error and the usage
	}
	err := setUp(c, fs.Args(), key, station, keysFile)
	if err == nil && caFile != "" {
		if !strings.HasPrefix(c.URL, "wss:") {
			err = fmt.Errorf("-ca is for TLS: want a wss:// URL, not %s", c.URL)
		} else if c.TLS, err = tlsauth.ClientConfig(caFile); err != nil {
			err = fmt.Errorf("-ca: %w", err)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgecheck: %v\nrun 'go run ./stations/edgecheck -h' for the flags\n", err)
	}
	return c, err
}

// setUp checks the flags and fills in the keys.
func setUp(c *edge.Checker, rest []string, key, station, keysFile string) error {
	u, err := url.Parse(c.URL)
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q", rest[0])
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
		return fmt.Errorf("-url %q: want a WebSocket URL such as ws://127.0.0.1:8080/ocpp", c.URL)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", c.Timeout)
	case key != "" && keysFile != "":
		return errors.New("-key and -auth-keys: give one")
	case station == "":
		return errors.New("-station: want a station id")
	case key != "":
		c.Keys = []edge.Key{{Station: station, Password: key}}
	case keysFile != "":
		if c.Keys, err = readKeys(keysFile); err != nil {
			return err
		}
	}
	return nil
}

// A printer writes the cases one line each, in aligned columns, as they
// come: mark, case, what was sent, what came back, and for a case that
// failed what was wanted.
type printer struct {
	w            io.Writer
	color        bool
	nameW, sentW int
}

// sentWidth clips the frames sent, which can be long, in the output.
const sentWidth = 46

func newPrinter(w io.Writer, color bool) *printer {
	p := &printer{w: w, color: color}
	for _, cc := range append(edge.Cases(), edge.LimitCases()...) {
		p.nameW = max(p.nameW, utf8.RuneCountInString(cc.Name))
		p.sentW = max(p.sentW, utf8.RuneCountInString(edge.Clip(edge.Printable(cc.Sent), sentWidth)))
	}
	return p
}

// header says what is checked, and how.
func (p *printer) header(c *edge.Checker) {
	as := "as stations EDGE-{case}, the same on every run"
	if len(c.Keys) > 0 {
		as = fmt.Sprintf("as %d station(s) with their keys", len(c.Keys))
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = edge.DefaultTimeout
	}
	fmt.Fprintf(p.w, "edge checks against %s, %s, %v per answer\n\n", c.URL, as, timeout)
}

// result writes one case's line.
func (p *printer) result(r edge.Result) {
	mark := p.paint("32", "✓")
	if !r.OK {
		mark = p.paint("31", "✗")
	}
	line := fmt.Sprintf("%s %s  %s  %s", mark, pad(r.Case, p.nameW), pad(edge.Clip(edge.Printable(r.Sent), sentWidth), p.sentW), edge.Printable(r.Got))
	if !r.OK {
		line += p.paint("2", "   want: "+r.Want)
	}
	fmt.Fprintln(p.w, line)
}

// footer counts.
func (p *printer) footer(c *edge.Checker, results []edge.Result) {
	fmt.Fprintln(p.w)
	if len(c.Keys) == 0 {
		fmt.Fprintln(p.w, "HTTP Basic auth not checked: give a station's key (KEY=, with STATION=) or the server's keys file (AUTH_KEYS=)")
	}
	fmt.Fprintf(p.w, "%d of %d edge checks as OCPP-J expects\n", edge.Passed(results), len(results))
}

// paint wraps text in an SGR escape sequence when the printer has colour.
func (p *printer) paint(code, text string) string {
	if !p.color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// pad fills s with spaces to width runes.
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
}

// isTerminal reports whether f is a terminal, and colour is welcome there
// (NO_COLOR unset).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
