package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ocppkata/kata/harness/authkeys"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/tlsauth"
)

// authConfig is the HTTP Basic authentication that serve turns on.
type authConfig struct {
	file    string            // the keys file
	keys    map[string]string // nil: authentication is off
	warning string            // what to say about the file's permissions
}

// loadAuthKeys reads the keys file, if any, for the server of step num,
// whose Config has the optional fields given. A file with a malformed line is refused whole:
// the server does not start, rather than start with some stations locked
// out or, worse, with authentication off.
func loadAuthKeys(file string, num int, fields []string) (authConfig, error) {
	if file == "" {
		return authConfig{}, nil
	}
	if !slices.Contains(fields, "AuthKeys") {
		return authConfig{}, fmt.Errorf("step %02d has no authentication (its Config has no AuthKeys): AUTH_KEYS needs step 09 or later", num)
	}
	keys, err := authkeys.Load(file)
	if err != nil {
		return authConfig{}, fmt.Errorf("AUTH_KEYS: %w; the server does not start with a keys file it cannot read whole", err)
	}
	if len(keys) == 0 {
		return authConfig{}, fmt.Errorf("AUTH_KEYS: %s holds no keys, so every station would be refused; add identity:password lines", file)
	}
	return authConfig{file: file, keys: keys, warning: authkeys.Warning(file)}, nil
}

// banner says that authentication is on, for how many stations, and what
// is wrong with the file's permissions, if anything. Whether the learner's
// code refuses a station is what its step teaches: it says should. Over
// TLS, the TLS line says which profile it makes.
func (a authConfig) banner(learner, overTLS bool) string {
	gets := "gets"
	if learner {
		gets = "should get"
	}
	profile := " (OCPP security profile 1)"
	if overTLS {
		profile = ""
	}
	s := fmt.Sprintf("auth on: HTTP Basic%s · %s with a key in %s; any other station %s 401",
		profile, term.Plural(len(a.keys), "station"), a.file, gets)
	if a.warning != "" {
		s += "\nwarning: " + a.warning
	}
	return s
}

// shutdownGrace is how long a graceful stop may take before it gives up.
const shutdownGrace = 30 * time.Second

// shutDown stops srv through its Shutdown, which drains what it
// acknowledged; a second signal cuts it short through Close. It reports what
// the backend finished after the signal.
func shutDown(srv steplink.Graceful, b *backend.Backend) error {
	signaled, before := time.Now(), b.Totals()
	fmt.Fprintf(os.Stderr, "\nshutting down: no new station, nothing more read; draining what was acknowledged (up to %v; Ctrl-C again to force)…\n", shutdownGrace)
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(again)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-again:
		fmt.Fprintln(os.Stderr, "forced: closing every connection now")
		if c, ok := srv.(interface{ Close() error }); ok {
			c.Close()
		}
		err = <-done
	}
	fmt.Fprint(os.Stderr, drainedSummary(before, b.Totals(), time.Since(signaled)))
	fmt.Fprint(os.Stderr, drainedSummary(backend.Totals{}, b.Totals(), 0))
	return err
}

// drainedSummary says what the backend finished between two counts: after
// the signal (before is the count then), the work a graceful shutdown
// drained; or in all (before is zero, took too).
func drainedSummary(before, now backend.Totals, took time.Duration) string {
	calls, processed := now.Calls-before.Calls, now.Processed-before.Processed
	written, batches := now.Written-before.Written, now.Batches-before.Batches
	if took == 0 {
		// Every message a station had answered is here once, by one road:
		// the total is the stations' count of calls answered.
		return fmt.Sprintf("in all: %d calls answered by the workers + %d messages processed + %d meter values written = %d "+
			"(make stations prints how many were answered: the same number, if nothing acknowledged was lost)\n",
			calls, processed, written, calls+processed+written)
	}
	return fmt.Sprintf("drained in %v: %s answered, %s processed in the background, %s written in %s\n",
		took.Round(time.Millisecond), term.Plural(calls, "call"), term.Plural(processed, "message"),
		term.Plural(written, "meter value"), term.Plural(batches, "write"))
}

// maxScale bounds -scale: at 1000, one charging session already keeps the
// backend busy for five hours.
const maxScale = 1000

// checkServeFlags says what is wrong with serve's numbers, if anything.
func checkServeFlags(workers int, scale float64) error {
	if workers < 0 {
		return fmt.Errorf("-workers %d: want 0 (the step's default) or more", workers)
	}
	if math.IsNaN(scale) || scale < 0 || scale > maxScale {
		return fmt.Errorf("-scale %v: want a factor from 0 to %d: 1 is the workshop's latencies, 0.1 a tenth of them, 0 none", scale, maxScale)
	}
	return nil
}

// servedSummary is what serve says when it stops: how much work the backend
// did and how much of it at once. Steps 03 on answer some calls at once and
// process them in the background, so the backend's peak is the workers'
// calls and the background processors' work together: it says which.
func servedSummary(stats backend.Stats, tot backend.Totals, workers int) string {
	pool := fmt.Sprintf("%d workers", workers)
	if workers == 0 {
		pool = "the step's default workers"
	}
	// Counted as the "in all" line of a graceful stop counts them, each
	// message once: a batch of meter values is its meter values.
	done := "stopped: " + term.Plural(tot.Calls, "call") + " answered by the workers"
	if tot.Processed > 0 {
		done += ", " + term.Plural(tot.Processed, "message") + " processed in the background"
	}
	if tot.Batches > 0 {
		batches := "1 batch"
		if tot.Batches != 1 {
			batches = fmt.Sprintf("%d batches", tot.Batches)
		}
		done += ", " + term.Plural(tot.Written, "meter value") + " written in " + batches
	}
	if tot.Failed > 0 {
		done += fmt.Sprintf(", %d cut short", tot.Failed)
	}
	if tot.Processed == 0 {
		return fmt.Sprintf("%s\ncalls in the backend: at most %d at once (%s)\n", done, stats.Peak, pool)
	}
	return fmt.Sprintf("%s\ncalls in the backend: at most %d at once (%s + background processors; at most %d answering, %d in the background)\n",
		done, stats.Peak, pool, tot.PeakCalls, tot.PeakProcessing)
}

// tlsBanner says which security profile the server's TLS makes, and what
// the operator's side wants under profile 3.
func tlsBanner(f serveFlags, basic bool) string {
	switch {
	case f.tlsClientCA != "":
		return fmt.Sprintf("TLS on: OCPP security profile 3 · certificate %s · a station must present a certificate of %s whose CN is its id, or gets 403 "+
			"(the API, the live view and the metrics take a browser without one)", f.tlsCert, f.tlsClientCA)
	case basic:
		return fmt.Sprintf("TLS on: OCPP security profile 2 (TLS and Basic auth) · certificate %s", f.tlsCert)
	}
	return fmt.Sprintf("TLS on · certificate %s · with AUTH_KEYS it is OCPP security profile 2 (TLS and Basic auth); with TLS_CLIENT_CA, profile 3", f.tlsCert)
}

// stationsTLS is what make stations needs to connect to a server with
// TLS: the CA that signed its certificate and, under profile 3, the
// stations' certificates. Where TLS_CERT is make certs's, it names its
// files; otherwise it says what they are.
func stationsTLS(f serveFlags) string {
	dir := filepath.Dir(f.tlsCert)
	ca := filepath.Join(dir, tlsauth.CAFile)
	if _, err := os.Stat(ca); err != nil {
		ca = "<the CA that signed TLS_CERT>"
	}
	s := " CA=" + ca
	if f.tlsClientCA != "" {
		certs := filepath.Join(dir, tlsauth.StationsDir)
		if _, err := os.Stat(certs); err != nil {
			certs = "<a directory of {stationId}.pem and {stationId}-key.pem>"
		}
		s += " CERTS=" + certs
	}
	return s
}
