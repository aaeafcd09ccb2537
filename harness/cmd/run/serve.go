package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/ocppkata/kata/harness/backend"
)

// serve runs the linked step's server on a real port until a signal stops it.
func serve(args []string) error {
	fs := newFlags("serve")
	name := fs.String("variant", "solution", "which server: starter (your code) or solution")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	workers := fs.Int("workers", 0, "Config.Workers; 0 leaves the step's default")
	scale := fs.Float64("scale", 1, "multiplies the backend's latencies (the workshop's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	newServer, err := variant(*name)
	if err != nil {
		return err
	}
	if *scale < 0 {
		return fmt.Errorf("-scale %v: want 0 or more", *scale)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies().Scaled(*scale)})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another make serve running? ADDR=127.0.0.1:8081 picks another port)", *addr, err)
	}
	srv := newServer(Config{Backend: b, Workers: *workers, Logger: logger})

	st := styleFor(os.Stderr)
	whose := "the reference solution (solutions/" + linked.Name + ")"
	if *name == "starter" {
		whose = "your code (exercises/" + linked.Name + ")"
	}
	conc := fmt.Sprintf("Workers: %d", *workers)
	more := ""
	if *workers == 0 {
		conc = fmt.Sprintf("Workers: the step's default (GOMAXPROCS is %d)", runtime.GOMAXPROCS(0))
		more = "\nmany stations? make serve WORKERS=100: the backend's calls wait, they do not compute"
	} else if *workers > runtime.GOMAXPROCS(0) {
		more = "\nmore workers than processors, because the backend's calls wait rather than compute: see step 01"
	}
	fmt.Fprintf(os.Stderr, "%s\n", st.bold(fmt.Sprintf("step %02d · %s · %s", linked.Step, linked.Title, whose)))
	fmt.Fprintf(os.Stderr, "listening on ws://%s/ocpp/{stationId} · %s · workshop latencies ×%g\n", l.Addr(), conc, *scale)
	fmt.Fprintf(os.Stderr, "%s\n\n", st.dim(fmt.Sprintf("in another terminal: make stations N=10 URL=ws://%s/ocpp · Ctrl-C stops the server%s", l.Addr(), more)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		stop() // a second Ctrl-C ends the program at once
		fmt.Fprintln(os.Stderr, "\nstopping: closing every connection and waiting for the workers (Ctrl-C again to force)…")
		err = srv.Close()
		if serveErr := <-served; err == nil {
			err = serveErr
		}
	case err = <-served:
		if closeErr := srv.Close(); err == nil {
			err = closeErr
		}
		if err == nil {
			err = errors.New("the server stopped serving on its own")
		}
	}
	stats := b.Stats()
	fmt.Fprintf(os.Stderr, "stopped: %d calls handled, at most %d at once\n", stats.Done, stats.Peak)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
