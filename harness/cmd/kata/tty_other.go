//go:build !(linux || darwin)

package main

// takeTerminal does nothing here: Ctrl-C reaches make and kata alike.
func takeTerminal() (restore func()) { return func() {} }
