package kit

import (
	"testing"

	"github.com/ocppkata/kata/harness/internal/stackdump"
)

func TestClassify(t *testing.T) {
	const me = "goroutine 1 [running, synctest bubble 7]:\nmain.test()\n\t/x/t.go:1\n\n"
	g := func(id, state string) string {
		return "goroutine " + id + " [" + state + "]:\ngithub.com/ocppkata/kata/exercises/03-ordering.(*background).enqueue(0x1)\n\t/k/exercises/03-ordering/background.go:42 +0x1\n\n"
	}
	tests := []struct {
		name    string
		dump    string
		want    bubbleState
		waiting int
	}{
		{"all durable", me + g("2", "chan receive (durable), synctest bubble 7") + g("3", "select (durable), synctest bubble 7"), bubbleSettled, 0},
		{"one runnable", me + g("2", "chan receive (durable), synctest bubble 7") + g("3", "runnable, synctest bubble 7"), bubbleBusy, 0},
		{"mutex wait", me + g("2", "sync.Mutex.Lock, synctest bubble 7") + g("3", "select (durable), synctest bubble 7"), bubbleStuck, 1},
		{"rwmutex wait", me + g("2", "sync.RWMutex.Lock, synctest bubble 7"), bubbleStuck, 1},
		{"other bubbles ignored", me + g("2", "runnable, synctest bubble 8") + g("3", "sync.Mutex.Lock") + g("4", "select (durable), synctest bubble 7"), bubbleSettled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, waiting := classify(stackdump.Parse(tt.dump))
			if got != tt.want || len(waiting) != tt.waiting {
				t.Errorf("classify = %v with %d waiting, want %v with %d", got, len(waiting), tt.want, tt.waiting)
			}
		})
	}
	_, waiting := classify(stackdump.Parse(me + g("2", "sync.Mutex.Lock, synctest bubble 7")))
	if got, want := where(waiting[0]), "(*background).enqueue (background.go:42)"; got != want {
		t.Errorf("where = %q, want %q", got, want)
	}
}
