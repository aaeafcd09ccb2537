//go:build race

package interop

// raceFlags build the server with the race detector when the test runs
// with it: the build reuses the packages the test's build compiled. It is
// linked as the test binaries are, without the symbol table and DWARF,
// which take most of a -race link's time; the race detector's reports
// come from the runtime's own tables.
var raceFlags = []string{"-race", "-ldflags=-s -w"}
