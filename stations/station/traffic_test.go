package station

import "testing"

func TestOutOfOrder(t *testing.T) {
	tests := []struct {
		ids  []int
		want int
	}{
		{nil, 0},
		{[]int{1, 2, 3}, 0},
		{[]int{2, 1, 3}, 1},
		{[]int{5, 1, 2, 3, 4, 6}, 4},
		{[]int{3, 2, 1}, 2},
	}
	for _, tt := range tests {
		if got := OutOfOrder(tt.ids); got != tt.want {
			t.Errorf("OutOfOrder(%v) = %d, want %d", tt.ids, got, tt.want)
		}
	}
}
