package schedule

import (
	"container/heap"
	"time"
)

// The wheel: gocron starts a turn every turnEvery, and a turn arms each check
// whose next slot comes before the turn's start plus turnCovers: it puts the
// check in the bucket of its slot's time, and each bucket has a timer that
// fires at that time and hands its checks' runs to workers (fire). The
// checks that share a point of the grid (Grid: a few at any rate) share a
// bucket and a timer, and no one goroutine stands between a slot and its
// run. Before, one goroutine slept until each slot in turn and dispatched
// it: a moment without a CPU for it made every slot after that moment late,
// and the burst that followed got it preempted behind thousands of runs
// (session 4, 50,000 checks on two cores: lateness p99 26-79 ms,
// bench/RESULTS.md).
//
// Turns overlap by design: a slot is armed one to two turns ahead, so a
// gocron tick up to turnCovers-turnEvery late delays no slot.
const (
	turnEvery  = time.Second
	turnCovers = 2 * turnEvery
)

// armBatch is how many entries a turn arms under one hold of s.mu: the
// buckets firing meanwhile wait for the lock in between, so it is held for
// microseconds, not for the milliseconds arming a whole turn takes.
const armBatch = 64

// bucket is the checks armed for one slot time, and the timer that fires
// then. Buckets are kept on a free list once fired, timer and all.
type bucket struct {
	at      time.Time
	entries []*entry
	timer   *time.Timer
}

// turn is gocron's task: it arms every queued entry whose next slot comes
// before its start plus turnCovers, and raises s.horizon to that point, so
// that a check applied or run later arms itself when its slot comes before
// it.
func (s *Scheduler) turn() {
	end := time.Now().Add(turnCovers)
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		if end.After(s.horizon) {
			s.horizon = end
		}
		now := time.Now()
		for range armBatch {
			if len(s.queue) == 0 || s.queue[0].next >= end.UnixNano() {
				s.mu.Unlock()
				return
			}
			s.arm(heap.Pop(&s.queue).(*entry), now)
		}
		s.mu.Unlock()
	}
}

// arm puts e, off the queue, in the bucket of its next slot, starting that
// bucket's timer if e is its first; s.mu is held.
func (s *Scheduler) arm(e *entry, now time.Time) {
	b := s.buckets[e.next]
	if b == nil {
		b = s.newBucket(time.Unix(0, e.next), now)
		s.buckets[e.next] = b
	}
	b.entries = append(b.entries, e)
	e.bucket = b
}

// newBucket is a bucket for at, from the free list when it holds one, with
// its timer set; s.mu is held.
func (s *Scheduler) newBucket(at, now time.Time) *bucket {
	if n := len(s.freeBuckets); n > 0 {
		b := s.freeBuckets[n-1]
		s.freeBuckets = s.freeBuckets[:n-1]
		b.at = at
		b.timer.Reset(at.Sub(now))
		return b
	}
	b := &bucket{at: at}
	b.timer = time.AfterFunc(at.Sub(now), func() { s.fire(b) })
	return b
}

// queueOrArm arms e when its next slot comes before the horizon the turns
// have armed to, and queues it for a later turn otherwise; s.mu is held.
func (s *Scheduler) queueOrArm(e *entry, now time.Time) {
	if e.next < s.horizon.UnixNano() {
		s.arm(e, now)
		return
	}
	heap.Push(&s.queue, e)
}

// disarm takes e out of its bucket, if any, without touching the bucket's
// list: the bucket skips an entry that is no longer its own when it fires;
// s.mu is held.
func (e *entry) disarm() { e.bucket = nil }

// fire is b's timer going off: for each of its entries still armed in it, it
// takes the slot, arms or queues the next one, and hands the run to a worker.
func (s *Scheduler) fire(b *bucket) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	now, at := time.Now(), b.at
	delete(s.buckets, at.UnixNano())
	due := make([]*entry, 0, len(b.entries))
	for i, e := range b.entries {
		b.entries[i] = nil
		if e.bucket != b {
			continue // removed, or moved to another slot (reslot)
		}
		e.bucket = nil
		e.next = nextSlot(at, e.spec.Interval, now).UnixNano()
		s.queueOrArm(e, now)
		s.running.Add(1)
		due = append(due, e)
	}
	b.entries = b.entries[:0]
	s.freeBuckets = append(s.freeBuckets, b)
	s.mu.Unlock()
	for _, e := range due {
		s.dispatch(e, at, now)
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
