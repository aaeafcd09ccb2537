//go:build !race

package interop

var raceFlags []string
