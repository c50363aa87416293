package globalview

import "math"

// Time inside the view is int64 Unix nanoseconds; lists of intervals are
// sorted, disjoint and half-open, so unions, intersections and differences
// are exact merges of sorted lists.

// openEnd is the end of a span or outage still open.
const openEnd int64 = math.MaxInt64

// noTime is "never": the coverage end of an agent with no heartbeat.
const noTime int64 = math.MinInt64

// interval is [s, e).
type interval struct{ s, e int64 }

// containsAt reports whether t lies in the sorted, disjoint list.
func containsAt(list []interval, t int64) bool {
	lo, hi := 0, len(list)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if list[mid].e <= t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(list) && list[lo].s <= t
}

// mergeSorted merges, in place, a list sorted by start into a disjoint one
// (overlapping or touching intervals join).
func mergeSorted(list []interval) []interval {
	if len(list) < 2 {
		return list
	}
	n := 0
	for _, iv := range list[1:] {
		if iv.s <= list[n].e {
			list[n].e = max(list[n].e, iv.e)
			continue
		}
		n++
		list[n] = iv
	}
	return list[:n+1]
}

// intersect appends a ∩ b to dst.
func intersect(dst, a, b []interval) []interval {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := max(a[i].s, b[j].s), min(a[i].e, b[j].e)
		if s < e {
			dst = append(dst, interval{s, e})
		}
		if a[i].e < b[j].e {
			i++
		} else {
			j++
		}
	}
	return dst
}

// subtract appends a − b to dst.
func subtract(dst, a, b []interval) []interval {
	j := 0
	for _, iv := range a {
		cur := iv.s
		for j < len(b) && b[j].e <= cur {
			j++
		}
		for k := j; k < len(b) && b[k].s < iv.e; k++ {
			if b[k].s > cur {
				dst = append(dst, interval{cur, b[k].s})
			}
			cur = max(cur, b[k].e)
		}
		if cur < iv.e {
			dst = append(dst, interval{cur, iv.e})
		}
	}
	return dst
}

// union appends a ∪ b to dst.
func union(dst, a, b []interval) []interval {
	start := len(dst)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var iv interval
		if j >= len(b) || (i < len(a) && a[i].s <= b[j].s) {
			iv = a[i]
			i++
		} else {
			iv = b[j]
			j++
		}
		if n := len(dst); n > start && dst[n-1].e >= iv.s {
			dst[n-1].e = max(dst[n-1].e, iv.e)
			continue
		}
		dst = append(dst, iv)
	}
	return dst
}

// measure is the length of list ∩ [from, to).
func measure(list []interval, from, to int64) int64 {
	var total int64
	for _, iv := range list {
		if s, e := max(iv.s, from), min(iv.e, to); s < e {
			total += e - s
		}
	}
	return total
}
