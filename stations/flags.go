package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/authkeys"
	"github.com/ocppkata/kata/harness/tlsauth"
	"github.com/ocppkata/kata/stations/station"
)

// config is what the command line asks for.
type config struct {
	n, first, messages int
	// url is -url as given; urls its endpoints, split at the commas.
	url               string
	urls              []string
	mode              station.Mode
	hold, answerDelay time.Duration
	noAnswer          bool
	reconnect         bool
	timeout           time.Duration
	// keysFile and key are the credentials the stations send: each its own
	// key from the file, or every station the one key. keys is the file's
	// content, read by check.
	keysFile, key string
	keys          map[string]string
	// caFile and certsDir are the TLS of a wss:// URL: the CA the stations
	// trust, and the directory of their client certificates (profile 3).
	// tls is the configuration without a certificate, made by check.
	caFile, certsDir string
	tls              *tls.Config
}

// parseFlags reads the command line. On a mistake it has already told the
// user, on stderr, what is wrong.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var mode string
	fs := flag.NewFlagSet("stations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./stations [flags]\n\n"+
			"Runs simulated OCPP 1.6-J charging stations against a central system.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&c.n, "n", 10, "number of stations")
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8080/ocpp", "the central system's endpoint; each station appends /{id}.\n"+
		"Several, comma-separated, share the stations out: station 1 on the first, 2 on the second, …")
	fs.StringVar(&mode, "mode", string(station.LockStep), "lockstep: the 14-call charging session on every station\n"+
		"pipelined: MeterValues sent without waiting for answers\n"+
		"flood: station 1 floods, the others run sessions\n"+
		"deaf: station 1 writes calls of a 16,000-character unknown action and never reads, the others run sessions\n"+
		"idle: connect, boot, stay connected and act on the server's calls as a charger does\n"+
		"(RemoteStartTransaction charges until RemoteStopTransaction, Reset reboots, …)")
	fs.IntVar(&c.messages, "messages", station.DefaultMessages, "MeterValues per station in pipelined mode, or from the flooding station; calls from the deaf station")
	fs.DurationVar(&c.hold, "hold", 0, "how long idle stations stay connected (0: until Ctrl-C or -timeout)")
	fs.IntVar(&c.first, "first", 1, "number of the first station: 1 is CS0001")
	fs.DurationVar(&c.answerDelay, "answer-delay", 0, "how long stations wait before answering the server's calls")
	fs.BoolVar(&c.noAnswer, "no-answer", false, "never answer the server's calls")
	fs.BoolVar(&c.reconnect, "reconnect", false, "idle stations connect again whenever their connection ends\n"+
		"(the server was restarted, or killed), to the next endpoint of -url, after a short random wait, until the run does")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "time limit for the whole run (default 5m, or -hold and a minute when -hold is longer)")
	fs.StringVar(&c.keysFile, "auth-keys", "", "a file of identity:password lines: each station sends its own key\n"+
		"with HTTP Basic auth (a station with no line sends none)")
	fs.StringVar(&c.key, "key", "", "the password every station sends with HTTP Basic auth")
	fs.StringVar(&c.caFile, "ca", "", "wss://: the CA certificate (PEM) the stations trust, such as make certs's certs/ca.pem;\n"+
		"default the system's")
	fs.StringVar(&c.certsDir, "certs", "", "wss://: a directory of client certificates, {id}.pem and {id}-key.pem, such as make certs's\n"+
		"certs/stations: each station presents its own (OCPP security profile 3); one without files presents none")
	if err := fs.Parse(args); err != nil {
		return c, err // the flag package has printed the error and the usage
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })

	err := c.check(mode, fs.Args(), timeoutSet)
	if err != nil {
		fmt.Fprintf(stderr, "stations: %v\nrun 'go run ./stations -h' for the flags\n", err)
	}
	return c, err
}

// defaultTimeout bounds a run when neither -timeout nor a longer -hold says
// otherwise.
const defaultTimeout = 5 * time.Minute

// check validates the flags and fills in what follows from them. timeoutSet
// is whether -timeout was given: if not, a -hold longer than the default
// limit extends it, rather than being cut short by it.
func (c *config) check(mode string, rest []string, timeoutSet bool) error {
	m, err := station.ParseMode(mode)
	if err != nil {
		return fmt.Errorf("-mode: %w", err)
	}
	c.mode = m
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q", rest[0])
	case c.n < 1:
		return fmt.Errorf("-n %d: want at least 1 station", c.n)
	case c.first < 1:
		return fmt.Errorf("-first %d: want 1 or more", c.first)
	case c.messages < 1:
		return fmt.Errorf("-messages %d: want at least 1", c.messages)
	case c.hold < 0:
		return fmt.Errorf("-hold %v: want 0 or more", c.hold)
	case c.answerDelay < 0:
		return fmt.Errorf("-answer-delay %v: want 0 or more", c.answerDelay)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", c.timeout)
	case c.noAnswer && c.answerDelay > 0:
		return errors.New("-no-answer and -answer-delay contradict each other: pick one")
	case c.keysFile != "" && c.key != "":
		return errors.New("-auth-keys and -key contradict each other: pick one (AUTH_KEYS= or KEY= in make)")
	case c.hold > 0 && c.mode != station.Idle:
		return fmt.Errorf("-hold %v: only idle stations hold; add -mode idle", c.hold)
	case c.reconnect && c.mode != station.Idle:
		return errors.New("-reconnect: only idle stations reconnect; add -mode idle")
	case c.reconnect && (c.noAnswer || c.answerDelay > 0):
		return errors.New("-reconnect: stations that are told how to answer (-no-answer, -answer-delay) do not reconnect")
	case c.hold >= c.timeout && timeoutSet:
		return fmt.Errorf("-hold %v is not shorter than -timeout %v: the run would end before the stations; raise -timeout", c.hold, c.timeout)
	case c.hold >= c.timeout:
		c.timeout = c.hold + time.Minute
	}
	c.urls = strings.Split(c.url, ",")
	var u *url.URL
	for i, raw := range c.urls {
		c.urls[i] = strings.TrimSpace(raw)
		each, err := url.Parse(c.urls[i])
		switch {
		case err != nil || (each.Scheme != "ws" && each.Scheme != "wss") || each.Host == "":
			if len(c.urls) > 1 {
				return fmt.Errorf("-url: %q: want WebSocket URLs such as ws://127.0.0.1:8080/ocpp, separated by commas", c.urls[i])
			}
			return fmt.Errorf("-url %q: want a WebSocket URL such as ws://127.0.0.1:8080/ocpp", c.url)
		case slices.Contains(c.urls[:i], c.urls[i]):
			return fmt.Errorf("-url: %s is given twice", c.urls[i])
		case u != nil && each.Scheme != u.Scheme:
			return fmt.Errorf("-url: %s and %s: give all ws:// or all wss://", c.urls[0], c.urls[i])
		}
		u = each
	}
	if c.keysFile != "" {
		if c.keys, err = authkeys.Load(c.keysFile); err != nil {
			return fmt.Errorf("-auth-keys: %w", err)
		}
	}
	if u.Scheme != "wss" {
		if c.caFile != "" || c.certsDir != "" {
			return fmt.Errorf("-ca and -certs are for TLS: want a wss:// URL, not %s", c.url)
		}
		return nil
	}
	if c.tls, err = tlsauth.ClientConfig(c.caFile); err != nil {
		return fmt.Errorf("-ca: %w", err)
	}
	if c.certsDir != "" {
		if info, err := os.Stat(c.certsDir); err != nil || !info.IsDir() {
			return fmt.Errorf("-certs %s: want a directory of {id}.pem and {id}-key.pem files, such as make certs writes into certs/stations", c.certsDir)
		}
	}
	return nil
}

// tlsFor returns station id's TLS configuration: the CA of -ca, and its
// certificate from -certs if the directory has one.
func (c config) tlsFor(id string) (*tls.Config, error) {
	if c.certsDir == "" {
		return c.tls, nil
	}
	cert, err := tlsauth.StationCertificate(c.certsDir, id)
	if err != nil || cert == nil {
		return c.tls, err
	}
	cfg := c.tls.Clone()
	cfg.Certificates = []tls.Certificate{*cert}
	return cfg, nil
}

// certless says which of the stations have no certificate in the -certs
// directory, if any: they connect without one, and a server of profile 3
// refuses them. It returns "" when every station has one, or no directory
// was given.
func (c config) certless() string {
	if c.certsDir == "" {
		return ""
	}
	var missing []string
	for i := range c.n {
		id := station.StationID(c.first + i)
		if cert, _ := tlsauth.StationFiles(c.certsDir, id); !exists(cert) {
			missing = append(missing, id)
		}
	}
	switch {
	case len(missing) == 0:
		return ""
	case len(missing) == c.n:
		return fmt.Sprintf("none of the %d stations has a certificate in %s (%s.pem, …): they connect without one (make certs STATIONS=%d makes them)",
			c.n, c.certsDir, station.StationID(c.first), c.first+c.n-1)
	case len(missing) == 1:
		return fmt.Sprintf("1 of %d stations (%s) has no certificate in %s: it connects without one", c.n, missing[0], c.certsDir)
	default:
		return fmt.Sprintf("%d of %d stations (%s, … %s) have no certificate in %s: they connect without one (make certs STATIONS=%d makes them)",
			len(missing), c.n, missing[0], missing[len(missing)-1], c.certsDir, c.first+c.n-1)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// keyless says which of the stations have no key in the -auth-keys file,
// if any: they connect without one, and a server that checks keys refuses
// them. It returns "" when every station has a key, or no file was given.
func (c config) keyless() string {
	if c.keys == nil {
		return ""
	}
	var missing []string
	for i := range c.n {
		if id := station.StationID(c.first + i); c.keys[id] == "" {
			missing = append(missing, id)
		}
	}
	switch {
	case len(missing) == 0:
		return ""
	case len(missing) == c.n:
		return fmt.Sprintf("none of the %d stations (%s to %s) has a key in %s: they connect without one",
			c.n, station.StationID(c.first), station.StationID(c.first+c.n-1), c.keysFile)
	case len(missing) == 1:
		return fmt.Sprintf("1 of %d stations (%s) has no key in %s: it connects without one", c.n, missing[0], c.keysFile)
	case len(missing) <= 3:
		return fmt.Sprintf("%d of %d stations (%s) have no key in %s: they connect without one",
			len(missing), c.n, strings.Join(missing, ", "), c.keysFile)
	default:
		return fmt.Sprintf("%d of %d stations (%s, %s, … %s) have no key in %s: they connect without one",
			len(missing), c.n, missing[0], missing[1], missing[len(missing)-1], c.keysFile)
	}
}
