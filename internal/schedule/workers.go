package schedule

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// defaultIdleTimeout is how long a worker waits for another run before it
// exits: longer than the usual intervals (10 s, 30 s), so that a steady
// schedule keeps its workers, and short enough that the surplus of a burst
// (every target hanging at once) is gone half a minute later.
const defaultIdleTimeout = 30 * time.Second

// workers runs checks on long-lived goroutines. gocron starts every task on a
// fresh goroutine, and a probe run (dial, TLS, net/http) grew that small stack
// anew each time: copying stacks was about a tenth of the agent's CPU at 1,000
// checks. A worker keeps its grown stack from one run to the next.
//
// The pool never limits concurrency: a run that finds no idle worker starts a
// new one, so a thousand hanging targets still each start on time, each bounded
// by its own timeout. Idle workers are reused last in, first out: after a burst
// the same few workers take the steady load and the surplus stays idle until
// idleTimeout ends it, rather than sharing the load and never leaving.
type workers struct {
	exec        func(*entry) // one run; called on a worker
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*worker // parked workers, the most recently parked last
	closed bool
	wg     sync.WaitGroup // every worker started

	started atomic.Int64 // workers ever started
	live    atomic.Int64 // workers not yet exited
}

// worker is one goroutine of the pool; work hands it its next entry, or is
// closed to end it. Buffered: the hand-off never waits for the worker to wake.
type worker struct {
	work chan *entry
}

func newWorkers(exec func(*entry)) *workers {
	return &workers{exec: exec, idleTimeout: defaultIdleTimeout}
}

// run runs exec(e) on an idle worker, or on a new one when none is idle.
func (p *workers) run(e *entry) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.work <- e
		return
	}
	if p.closed {
		// Scheduler.Stop closes the pool once no run is in flight, so this
		// is a run that raced a Stop whose ctx ran out: run it here rather
		// than drop it (its slot has been counted in s.running).
		p.mu.Unlock()
		p.exec(e)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	p.started.Add(1)
	p.live.Add(1)
	go p.loop(&worker{work: make(chan *entry, 1)}, e)
}

// loop runs e, then every entry handed to w, until w has been idle for
// idleTimeout or the pool is closed.
func (p *workers) loop(w *worker, e *entry) {
	defer p.wg.Done()
	defer p.live.Add(-1)
	idle := time.NewTimer(p.idleTimeout)
	idle.Stop()
	defer idle.Stop()
	for {
		p.exec(e)
		if !p.park(w) {
			return
		}
		idle.Reset(p.idleTimeout)
		var ok bool
		select {
		case e, ok = <-w.work:
		case <-idle.C:
			if p.unpark(w) {
				return
			}
			// A run took w off the idle list as the timer fired: its entry
			// is on the way.
			e, ok = <-w.work
		}
		if !ok {
			return
		}
	}
}

// park puts w on the idle list; false when the pool is closed.
func (p *workers) park(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// unpark takes w off the idle list; false when a run has already taken it.
func (p *workers) unpark(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The longest idle are first in the list, and theirs are the timers
	// that fire.
	for i, v := range p.idle {
		if v == w {
			p.idle = slices.Delete(p.idle, i, i+1)
			return true
		}
	}
	return false
}

// close ends idle workers now and busy ones after their run; done is closed
// once every worker has exited.
func (p *workers) close() (done <-chan struct{}) {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		close(w.work)
	}
	ch := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(ch)
	}()
	return ch
}
