package schedule

import (
	"container/heap"
	"time"
)

// The wheel: gocron starts a turn every turnEvery, and a turn dispatches the
// slots that come until its start plus turnCovers, earliest first, each at its
// time. Turns overlap by design (one dispatches while the next waits for
// turnLine), so that the hand-over from one to the next never leaves a gap: a
// gocron tick up to turnCovers-turnEvery late delays no slot.
const (
	turnEvery  = time.Second
	turnCovers = 2 * turnEvery
)

// turn is gocron's task: until its end it dispatches every slot that comes,
// sleeping until each on one timer. Apply nudges it when a new entry becomes
// the earliest; Stop ends it. A turn lives until its end even when nothing is
// due, so that a check applied in the middle of it runs in its first slot.
//
// A turn's end is counted from its tick, not from when the turn before it let
// go: a turn that waited ends one tick after that one, so at most one turn
// ever waits in line (counted from the moment it began turning, every wait
// would add a second and the line would grow by one turn every two seconds).
// The line is a channel rather than a mutex so that a waiting turn is durably
// blocked, as testing/synctest needs.
func (s *Scheduler) turn() {
	end := time.Now().Add(turnCovers)
	select {
	case s.turnLine <- struct{}{}:
	case <-s.quit:
		return
	}
	defer func() { <-s.turnLine }()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		now := time.Now()
		if s.stopped || !now.Before(end) {
			s.mu.Unlock()
			return
		}
		wait := end.Sub(now)
		if len(s.queue) > 0 && s.queue[0].next < end.UnixNano() {
			e := s.queue[0]
			slot := time.Unix(0, e.next)
			if wait = slot.Sub(now); wait <= 0 {
				e.next = nextSlot(slot, e.spec.Interval, now).UnixNano()
				heap.Fix(&s.queue, 0)
				s.running.Add(1)
				s.mu.Unlock()
				s.dispatch(e, slot, now)
				continue
			}
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.quit:
			return
		}
	}
}

// nextSlot is the first slot after slot that is still to come at now: a run
// that comes late (the machine stalled) is the check's one run for the slots
// it missed, rather than the first of several back to back.
func nextSlot(slot time.Time, interval time.Duration, now time.Time) time.Time {
	next := slot.Add(interval)
	if !next.After(now) {
		next = next.Add((now.Sub(next)/interval + 1) * interval)
	}
	return next
}

// dispatch observes the slot's lateness, applies the no-overlap rule and hands
// the run to a worker; s.running counts it already.
func (s *Scheduler) dispatch(e *entry, slot, now time.Time) {
	if s.lateness != nil {
		s.lateness.Observe(now.Sub(slot).Seconds())
	}
	if !e.runMu.TryLock() {
		// The previous run is still going (its timeout exceeds the interval, or
		// the check is being closed): skip this slot rather than queue it.
		s.running.Done()
		return
	}
	s.workers.run(e)
}

// nudge wakes a turn sleeping until a later slot; s.mu is held.
func (s *Scheduler) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queue is a min-heap of entries by next slot (container/heap).
type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].next < q[j].next }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *queue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*q = old[:n-1]
	return e
}
