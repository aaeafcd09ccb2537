//go:build !race

package queue

// yield does nothing in a normal build.
//
// Under the race detector (yield_race.go) it lets other goroutines run at
// the queue's edges: at the start of Push and at the end of Len. That is
// where code around a queue tends to check something and then act on it
// (look the queue up, then push to it; see it empty, then retire it); with
// the yield, a goroutine that changes the queue in between gets its turn
// every time a test runs, not once in a thousand. The race build of the Go
// runtime shuffles its scheduler for the same reason.
func yield() {}
