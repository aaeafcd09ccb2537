package netpoll

import "testing"

func TestFDTable(t *testing.T) {
	a, b := new(Conn), new(Conn)
	tests := []struct {
		name  string
		steps func(t *fdTable)
		want  map[int]*Conn // at each descriptor 0–9; nil elsewhere
		n     int
	}{
		{"empty", func(*fdTable) {}, nil, 0},
		{"set past the end", func(t *fdTable) { t.set(7, a) }, map[int]*Conn{7: a}, 1},
		{"nil past the end grows nothing", func(t *fdTable) { t.set(9, nil) }, nil, 0},
		{"two, one removed", func(t *fdTable) { t.set(3, a); t.set(5, b); t.set(3, nil) }, map[int]*Conn{5: b}, 1},
		{"replaced", func(t *fdTable) { t.set(4, a); t.set(4, b) }, map[int]*Conn{4: b}, 1},
		{"removed twice", func(t *fdTable) { t.set(2, a); t.set(2, nil); t.set(2, nil) }, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var table fdTable
			tt.steps(&table)
			for fd := -1; fd < 10; fd++ {
				if got := table.get(fd); got != tt.want[fd] {
					t.Errorf("get(%d) = %p, want %p", fd, got, tt.want[fd])
				}
			}
			if table.n != tt.n {
				t.Errorf("n = %d, want %d", table.n, tt.n)
			}
		})
	}
}
