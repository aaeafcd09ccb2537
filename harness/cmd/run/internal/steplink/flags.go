package steplink

import (
	"flag"
	"fmt"
)

// NewFlags returns a flag set for a command that reports errors instead of
// exiting.
func NewFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("run "+name, flag.ContinueOnError)
}

// CheckArgs refuses arguments left after the flags: a mistyped flag value
// would otherwise be ignored without a word.
func CheckArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
