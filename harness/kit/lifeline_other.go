//go:build !unix

package kit

import "os/exec"

// watcherFunc is the function of the goroutine that watches the lifeline:
// there is none here.
const watcherFunc = "github.com/ocppkata/kata/harness/kit.(*lifelineWatch).run"

// lifeline does nothing here: only Unix children watch their parent.
func lifeline(*exec.Cmd) (started, done func(), err error) { return func() {}, func() {}, nil }

func watchParent() (stop func()) { return func() {} }
