package sla

// Time inside the engine is int64 Unix nanoseconds: interval arithmetic on
// integers is exact and allocation-free, and the store keeps the same form.

// openEnd marks an interval that has not ended yet (an open outage, a present
// feature, a degraded spell in progress).
const openEnd int64 = 0

// interval is the half-open span [start, end) in Unix nanoseconds.
type interval struct{ start, end int64 }

// closedAt returns the interval with an open end replaced by now.
func (iv interval) closedAt(now int64) interval {
	if iv.end == openEnd {
		iv.end = max(now, iv.start)
	}
	return iv
}

// overlap is the length of iv ∩ [from, to).
func (iv interval) overlap(from, to int64) int64 {
	s, e := max(iv.start, from), min(iv.end, to)
	if e <= s {
		return 0
	}
	return e - s
}

// measure is the total length of list ∩ [from, to); list is sorted and disjoint.
func measure(list []interval, from, to int64) int64 {
	var total int64
	for _, iv := range list {
		if iv.start >= to {
			break
		}
		total += iv.overlap(from, to)
	}
	return total
}

// contains reports whether t lies in one of the intervals of the sorted list.
func contains(list []interval, t int64) bool {
	lo, hi := 0, len(list)
	for lo < hi { // binary search for the first interval ending after t
		mid := int(uint(lo+hi) >> 1)
		if list[mid].end <= t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(list) && list[lo].start <= t
}

// clipClose appends to dst the intervals of list clipped to [from, to), with
// open ends closed at to.
func clipClose(dst, list []interval, from, to int64) []interval {
	for _, iv := range list {
		iv = iv.closedAt(to)
		s, e := max(iv.start, from), min(iv.end, to)
		if s < e {
			dst = append(dst, interval{s, e})
		}
	}
	return dst
}

// intersect appends a ∩ b to dst; both are sorted and disjoint.
func intersect(dst, a, b []interval) []interval {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := max(a[i].start, b[j].start), min(a[i].end, b[j].end)
		if s < e {
			dst = append(dst, interval{s, e})
		}
		if a[i].end < b[j].end {
			i++
		} else {
			j++
		}
	}
	return dst
}

// subtract appends a − b to dst; both are sorted and disjoint.
func subtract(dst, a, b []interval) []interval {
	j := 0
	for _, iv := range a {
		cur := iv.start
		for j < len(b) && b[j].end <= cur {
			j++
		}
		for k := j; k < len(b) && b[k].start < iv.end; k++ {
			if b[k].start > cur {
				dst = append(dst, interval{cur, b[k].start})
			}
			cur = max(cur, b[k].end)
		}
		if cur < iv.end {
			dst = append(dst, interval{cur, iv.end})
		}
	}
	return dst
}

// insertMerged adds iv to the sorted, disjoint list, merging overlapping or
// touching intervals. Appends at the end, the common case, cost O(1).
func insertMerged(list []interval, iv interval) []interval {
	if iv.end <= iv.start {
		return list
	}
	n := len(list)
	if n == 0 || list[n-1].end < iv.start {
		return append(list, iv)
	}
	if list[n-1].start <= iv.start { // overlaps or touches the last one only
		list[n-1].end = max(list[n-1].end, iv.end)
		return list
	}
	out := make([]interval, 0, n+1)
	placed := false
	for _, cur := range list {
		if !placed && iv.start < cur.start {
			out = appendMerged(out, iv)
			placed = true
		}
		out = appendMerged(out, cur)
	}
	if !placed {
		out = appendMerged(out, iv)
	}
	return out
}

// appendMerged appends iv (which starts at or after the last start in list),
// merging it into the last interval when they overlap or touch.
func appendMerged(list []interval, iv interval) []interval {
	if n := len(list); n > 0 && list[n-1].end >= iv.start {
		list[n-1].end = max(list[n-1].end, iv.end)
		return list
	}
	return append(list, iv)
}
