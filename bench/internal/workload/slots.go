package workload

import "time"

// Vigil plans a check's runs at wall-clock multiples of its interval plus a
// stable offset (schedule.Offset, on the grid of schedule.Grid), whenever the
// agent started. The harness computes the same slots (Check.Offset) to count
// the runs that were due in any window and how late each observed run
// started.

func slotOffset(c Check) int64 { return int64(c.Offset) }

// Planned counts the check's slots in (from, to].
func Planned(c Check, from, to time.Time) int64 {
	if !to.After(from) {
		return 0
	}
	o, iv := slotOffset(c), int64(c.Interval)
	return floorDiv(to.UnixNano()-o, iv) - floorDiv(from.UnixNano()-o, iv)
}

// Lateness is how long after its slot a run that started at start began.
func Lateness(c Check, start time.Time) time.Duration {
	o, iv := slotOffset(c), int64(c.Interval)
	return time.Duration(floorMod(start.UnixNano()-o, iv))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
