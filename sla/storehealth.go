package sla

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// When a write to the store fails (a full disk, an I/O error), memory is
// ahead of the file. The failed transactions are not replayed: they read
// live state under locks their callers held. Instead the engine notes which
// features the store missed and, at each heartbeat, rewrites each of them
// whole from memory until a write succeeds. A later change of a record
// supersedes an earlier one, so the backlog holds at most one entry per
// feature, plus the transitions (a log, of which at most
// maxUnsavedTransitions are kept) and the compactions the store missed.
// Until the backlog is empty the engine is not Ready and says so
// (StoreHealth, which internal/export shows as metrics).

// maxUnsavedTransitions bounds the transitions kept for a store that keeps
// failing: about 100 bytes each.
const maxUnsavedTransitions = 10_000

// transitionRecord is one state change as the engine writes it.
type transitionRecord struct {
	From, To State
	Reason   string
}

// transitionWrite is a transition record waiting to be written.
type transitionWrite struct {
	at  int64
	rec transitionRecord
}

// storeBacklog is what failed to reach the store, and the failures' count.
type storeBacklog struct {
	mu           sync.Mutex
	features     map[string]bool // features to rewrite whole
	transitions  map[string][]transitionWrite
	nTransitions int
	dropped      uint64 // transitions beyond maxUnsavedTransitions, lost
	compactions  []*store.Compaction
	heartbeat    bool // the last heartbeat was not written
	writeErrors  uint64
	lastErr      error
	since        time.Time // the first failure since the store last caught up; zero when it has
}

// failedLocked counts a failed write at now; call with b.mu held.
func (b *storeBacklog) failedLocked(err error, now time.Time) {
	b.writeErrors++
	b.lastErr = err
	if b.since.IsZero() {
		b.since = now
	}
}

// pendingLocked is the number of records waiting; call with b.mu held.
func (b *storeBacklog) pendingLocked() int {
	n := len(b.features) + b.nTransitions + len(b.compactions)
	if b.heartbeat {
		n++
	}
	return n
}

// caughtUpLocked ends a failing spell once nothing waits, and reports
// whether it did; call with b.mu held.
func (b *storeBacklog) caughtUpLocked() bool {
	if b.since.IsZero() || b.pendingLocked() > 0 {
		return false
	}
	b.since = time.Time{}
	return true
}

// StoreHealth is how the engine's writes to its store are going.
type StoreHealth struct {
	// WriteErrors counts the writes that failed since the engine opened.
	WriteErrors uint64
	// LastError is the latest failure, nil if none.
	LastError error
	// Since is when the store fell behind memory; zero while it keeps up.
	Since time.Time
	// Pending is the number of records (features rewritten whole,
	// transitions, compactions, the heartbeat) waiting to be written.
	Pending int
}

// Failing reports whether the store is behind memory.
func (h StoreHealth) Failing() bool { return !h.Since.IsZero() }

// StoreHealth reports how the engine's writes to its store are going.
func (e *Engine) StoreHealth() StoreHealth {
	b := &e.backlog
	b.mu.Lock()
	defer b.mu.Unlock()
	return StoreHealth{WriteErrors: b.writeErrors, LastError: b.lastErr, Since: b.since, Pending: b.pendingLocked()}
}

// writeFailed notes that a write concerning the features keys (and the
// transition tw of keys[0], if not nil) did not reach the store.
func (e *Engine) writeFailed(err error, keys []string, tw *transitionWrite) {
	b := &e.backlog
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failedLocked(err, e.clock.Now())
	if b.features == nil {
		b.features, b.transitions = map[string]bool{}, map[string][]transitionWrite{}
	}
	for _, key := range keys {
		b.features[key] = true
	}
	if tw != nil && len(keys) > 0 {
		if b.nTransitions >= maxUnsavedTransitions {
			b.dropped++
			e.log.Error("sla store: too many transitions waiting, one is lost", "file", e.file, "lost", b.dropped)
			return
		}
		b.transitions[keys[0]] = append(b.transitions[keys[0]], *tw)
		b.nTransitions++
	}
}

// beatFailed notes a heartbeat that was not written: the features it
// carried and its compaction wait for the next.
func (e *Engine) beatFailed(err error, keys []string, c *store.Compaction) {
	if c != nil {
		for key := range c.Counters {
			keys = append(keys, key) // the compaction's copy of them is stale by the retry
		}
	}
	e.writeFailed(err, keys, nil)
	b := &e.backlog
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heartbeat = true
	if c != nil {
		b.compactions = append(b.compactions, c)
	}
}

// beatSaved notes a heartbeat written.
func (e *Engine) beatSaved() {
	b := &e.backlog
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heartbeat = false
	if since := b.since; b.caughtUpLocked() {
		e.log.Info("sla store caught up: history is saved again", "file", e.file, "behind_for", e.clock.Now().Sub(since))
	}
}

// retryUnsaved writes again what failed to reach the store: the missed
// compactions, then each feature in the backlog whole, one transaction each,
// stopping at the first failure. Call with beatMu held (so that no
// Configure or heartbeat writes an older snapshot meanwhile), never writeMu.
func (e *Engine) retryUnsaved() {
	b := &e.backlog
	b.mu.Lock()
	compactions := slices.Clone(b.compactions)
	keys := make([]string, 0, len(b.features)+len(b.transitions))
	for key := range b.features {
		keys = append(keys, key)
	}
	for key := range b.transitions {
		if !b.features[key] {
			keys = append(keys, key)
		}
	}
	b.mu.Unlock()
	slices.Sort(keys)
	for _, c := range compactions {
		if err := e.retryWrite(&store.Batch{Compactions: []store.Compaction{*c}}); err != nil {
			e.retryFailed(err)
			return
		}
		b.mu.Lock()
		b.compactions = slices.DeleteFunc(b.compactions, func(x *store.Compaction) bool { return x == c })
		b.mu.Unlock()
	}
	for _, key := range keys {
		if err := e.rewriteFeature(key); err != nil {
			e.retryFailed(err)
			return
		}
	}
}

// retryWrite commits b as the evaluation path does.
func (e *Engine) retryWrite(b *store.Batch) error {
	e.writeMu.RLock()
	defer e.writeMu.RUnlock()
	if e.closed.Load() {
		return errClosed
	}
	return e.store.Write(b)
}

func (e *Engine) retryFailed(err error) {
	b := &e.backlog
	b.mu.Lock()
	b.failedLocked(err, e.clock.Now())
	pending := b.pendingLocked()
	b.mu.Unlock()
	e.log.Error("sla store still failing; history kept in memory", "file", e.file, "pending", pending, "err", err)
}

// rewriteFeature writes feature key whole from memory, with its waiting
// transitions, holding the feature's lock until the write is on disk, as
// the evaluation path does: nothing newer can be overwritten.
func (e *Engine) rewriteFeature(key string) error {
	e.mu.RLock()
	f := e.features[key]
	e.mu.RUnlock()
	b := &e.backlog
	b.mu.Lock()
	transitions := b.transitions[key]
	delete(b.transitions, key)
	b.nTransitions -= len(transitions)
	b.mu.Unlock()
	var err error
	if f != nil { // else compacted away: nothing to keep
		f.mu.Lock()
		err = e.retryWrite(f.rewrite(transitions))
		f.mu.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.transitions[key] = append(transitions, b.transitions[key]...)
		b.nTransitions += len(transitions)
		return err
	}
	delete(b.features, key)
	return nil
}

// rewrite is a batch of everything the store keeps of the feature, with
// its waiting transitions; call with f.mu held.
func (f *feature) rewrite(transitions []transitionWrite) *store.Batch {
	b := &store.Batch{}
	putFeature(b, f.key, f.record())
	putMachine(b, f.key, f.machine, f.machineSince)
	putCounters(b, f.key, f.counters)
	for _, o := range f.outages {
		putOutage(b, f.key, o)
	}
	for _, list := range []struct {
		kind      store.IntervalKind
		intervals []interval
	}{{store.IntervalDegraded, f.degraded}, {store.IntervalPresence, f.presence}} {
		for _, iv := range list.intervals {
			putInterval(b, list.kind, f.key, iv)
		}
	}
	maint := store.MaintenanceRewrite{Key: f.key}
	for _, iv := range f.maint {
		maint.Windows = append(maint.Windows, iv.record())
	}
	b.Maintenance = append(b.Maintenance, maint)
	for _, t := range transitions {
		b.Transitions = append(b.Transitions, t.record(f.key))
	}
	return b
}

// errClosed is a retry that found the engine closed.
var errClosed = errors.New("engine closed")
