//go:build race

package queue

import "runtime"

// yield lets other goroutines run: see yield.go.
func yield() { runtime.Gosched() }
