package probes

import (
	"context"
	"sync"
	"time"
)

// runContext is a scheduled run's context: done at its deadline, or when the
// run has ended. It keeps context.WithDeadline's contract without its cost
// when nobody waits on it: the channel, and the timer that closes it, are
// made only when Done or a derived context asks (a plain-http run never does:
// its sockets carry the deadline).
type runContext struct {
	deadline time.Time

	mu      sync.Mutex
	done    chan struct{} // made by watchLocked
	closed  bool          // done is closed
	timer   *time.Timer   // closes done at the deadline
	err     error         // nil until done (or, unwatched, until the deadline)
	waiters map[*afterFunc]struct{}
}

// afterFunc is a function context.AfterFunc or a derived context registered.
type afterFunc struct{ f func() }

// NewRunContext returns a scheduled run's context, done at deadline, and the
// function that ends it once the run has returned (its Err is then
// context.Canceled, unless the deadline came first). Nothing else cancels it:
// while the run is in progress only the deadline does, so a probe whose
// every wait is bounded by that deadline (a socket deadline) need not watch
// it for an earlier cancellation (CanceledOnlyByDeadline). It costs one
// allocation where context.WithTimeout costs four, and context.AfterFunc on
// it as many more.
func NewRunContext(deadline time.Time) (ctx context.Context, end func()) {
	c := &runContext{deadline: deadline}
	return c, func() { c.finish(context.Canceled) }
}

// CanceledOnlyByDeadline reports whether ctx is NewRunContext's itself (not
// a context derived from it, which may be canceled earlier).
func CanceledOnlyByDeadline(ctx context.Context) bool {
	_, ok := ctx.(*runContext)
	return ok
}

func (c *runContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *runContext) Value(any) any { return nil }

func (c *runContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchLocked()
	return c.done
}

func (c *runContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil && !time.Now().Before(c.deadline) {
		// Nobody waits on done: the deadline passing is the whole event.
		c.err = context.DeadlineExceeded
	}
	return c.err
}

// AfterFunc runs f in a goroutine of its own once c is done, as
// context.AfterFunc does; the context package calls it for a context derived
// from c, which without it would take a goroutine to watch c.
func (c *runContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchLocked()
	a := &afterFunc{f: f}
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	if c.waiters == nil {
		c.waiters = map[*afterFunc]struct{}{}
	}
	c.waiters[a] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, waiting := c.waiters[a]
		delete(c.waiters, a)
		return waiting
	}
}

// watchLocked makes done, closed already if c is, else closed by a timer at
// the deadline. Call with c.mu held.
func (c *runContext) watchLocked() {
	if c.done != nil {
		return
	}
	c.done = make(chan struct{})
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
	if c.err != nil {
		close(c.done)
		c.closed = true
		return
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.finish(context.DeadlineExceeded) })
}

// finish makes c done with err, unless it is done already.
func (c *runContext) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.err == nil {
		c.err = err
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.done != nil {
		close(c.done)
		c.closed = true
	}
	for a := range c.waiters {
		go a.f()
	}
	c.waiters = nil
}
