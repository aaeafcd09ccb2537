//go:build !(linux || darwin)

package bench

// raiseFileLimit does nothing here: Windows has no open-files limit of
// that kind. It returns 0, which means no limit known.
func raiseFileLimit() (uint64, error) { return 0, nil }
