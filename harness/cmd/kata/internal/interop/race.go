//go:build race

package interop

// raceFlags build the server with the race detector when the test runs
// with it: the build reuses the packages the test's build compiled.
var raceFlags = []string{"-race"}
