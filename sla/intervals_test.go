package sla

import (
	"fmt"
	"testing"
)

func TestIntervalOps(t *testing.T) {
	a := []interval{{0, 10}, {20, 30}, {40, 50}}
	b := []interval{{5, 25}, {45, 60}}
	tests := []struct {
		name string
		got  []interval
		want []interval
	}{
		{"intersect", intersect(nil, a, b), []interval{{5, 10}, {20, 25}, {45, 50}}},
		{"subtract", subtract(nil, a, b), []interval{{0, 5}, {25, 30}, {40, 45}}},
		{"subtract nothing", subtract(nil, a, nil), a},
		{"subtract all", subtract(nil, a, []interval{{-1, 100}}), nil},
		{"clip and close", clipClose(nil, []interval{{0, 10}, {20, openEnd}}, 5, 25), []interval{{5, 10}, {20, 25}}},
		{"insert at end", insertMerged([]interval{{0, 10}}, interval{20, 30}), []interval{{0, 10}, {20, 30}}},
		{"insert touching", insertMerged([]interval{{0, 10}}, interval{10, 30}), []interval{{0, 30}}},
		{"insert before", insertMerged([]interval{{10, 20}, {30, 40}}, interval{0, 5}), []interval{{0, 5}, {10, 20}, {30, 40}}},
		{"insert bridging", insertMerged([]interval{{0, 10}, {20, 30}, {40, 50}}, interval{5, 25}), []interval{{0, 30}, {40, 50}}},
		{"insert empty", insertMerged([]interval{{0, 10}}, interval{5, 5}), []interval{{0, 10}}},
	}
	for _, tc := range tests {
		if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		t    int64
		want bool
	}{{-1, false}, {0, true}, {9, true}, {10, false}, {25, true}, {50, false}} {
		if got := contains(a, tc.t); got != tc.want {
			t.Errorf("contains(%d) = %v", tc.t, got)
		}
	}
	if got := measure(a, 5, 45); got != 5+10+5 {
		t.Errorf("measure = %d, want 20", got)
	}
}
