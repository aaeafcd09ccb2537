package learn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunWatch checks a step each time one of its files is saved, or Enter is
// pressed, clearing the screen between runs: the learner keeps it open
// beside the editor. Ctrl-C ends it.
func RunWatch(args []string) error {
	fs := base.NewFlags("watch", "-step N")
	num := fs.String("step", "", "the step to watch: 1 or 01")
	poll := fs.Duration("poll", 300*time.Millisecond, "how often to look for saved files")
	s, err := base.ParseStep(fs, num, args)
	if err != nil {
		return err
	}
	// Ctrl-C ends a watch: the way out, not a failure.
	defer term.TakeTerminal()()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	enter := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case enter <- struct{}{}:
			default: // a run is going on: it will show the latest code anyway
			}
		}
	}()

	c := checker{ctx: ctx, s: s, st: term.StyleFor(os.Stdout), w: os.Stdout}
	dir := filepath.Join(s.Repo.Root, s.Dir())
	for {
		// A file saved while the suite runs is a change to check next.
		last := snapshot(dir)
		if c.st.TTY {
			fmt.Print("\x1b[H\x1b[2J") // clear the screen
		}
		fmt.Printf("%s\n", c.st.Dim(time.Now().Format("15:04:05")+" make watch: checking "+s.Dir()))
		if _, err := c.checkMine(); errors.Is(err, errInterrupted) || ctx.Err() != nil {
			fmt.Println()
			return nil
		} else if err != nil {
			fmt.Println(c.st.Red(err.Error()))
		}
		fmt.Printf("\n%s\n", c.st.Dim(fmt.Sprintf("watching %s: save a file or press Enter to check again; Ctrl-C to stop.", s.Dir())))
		if !waitForChange(ctx, dir, last, *poll, enter) {
			fmt.Println()
			return nil
		}
	}
}

// waitForChange waits until a file under dir differs from the snapshot or
// Enter is pressed, and reports true; false once ctx ends.
func waitForChange(ctx context.Context, dir string, last map[string]time.Time, poll time.Duration, enter <-chan struct{}) bool {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-enter:
			return true
		case <-tick.C:
			if changed(last, snapshot(dir)) {
				// Let an editor finish writing (some write twice).
				time.Sleep(poll / 3)
				return true
			}
		}
	}
}

// snapshot returns the modification time and size of every file under dir.
func snapshot(dir string) map[string]time.Time {
	files := make(map[string]time.Time)
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files[path] = info.ModTime().Add(time.Duration(info.Size())) // a size change counts too
		}
		return nil
	})
	return files
}

// changed reports whether two snapshots differ.
func changed(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return true
	}
	for path, t := range a {
		if u, ok := b[path]; !ok || !u.Equal(t) {
			return true
		}
	}
	return false
}
