//go:build !unix

package main

// openFileLimit returns 0: no limit the server can read.
func openFileLimit() int { return 0 }
