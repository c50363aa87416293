package boltstore

import (
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// groupCommit writes evaluations' changes to the store, one transaction and
// one fsync for all that arrive while the previous commit is on its way to
// disk. A lone write commits at once (bbolt's Batch would wait 10 ms for
// company, and with few writers at a time that made 10,000 first
// transitions three times slower); 10,000 features leaving "unknown" in an
// agent's first interval share far fewer commits than one each. Every caller
// returns once its write is on disk, as with Update.
type groupCommit struct {
	db *bbolt.DB
	// failWrites, when set (by tests), fails every transaction after its
	// writes ran, as a full disk fails a commit.
	failWrites atomic.Pointer[error]

	mu      sync.Mutex
	pending []*pendingWrite
	leading bool // a caller is committing; the others wait to be woken

	commits int // transactions committed, for tests; written by the leader only
	// arena holds the puts of the transaction under way (the leader's).
	arena arena
}

type pendingWrite struct {
	fn       func(*bbolt.Tx) error
	wake     chan struct{} // finished, or this caller leads the next commit
	finished bool
	err      error
}

// write commits fn (a Batch's apply) with whatever else is pending. The
// caller that finds no commit under way leads one; when it ends, the oldest
// waiter leads the next.
func (g *groupCommit) write(fn func(*bbolt.Tx) error) error {
	w := &pendingWrite{fn: fn, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.leading {
		g.mu.Unlock()
		<-w.wake
		if w.finished {
			return w.err
		}
		g.mu.Lock() // handed the lead; leading stays true
	}
	g.leading = true
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()

	g.commit(batch)

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].wake <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return w.err
}

// commit writes batch in one transaction. If it fails, one write may have
// taken the others with it: each is then tried alone, so it gets its own
// error. Batches only put records and delete old ones, so applying one twice
// is harmless.
func (g *groupCommit) commit(batch []*pendingWrite) {
	g.commits++
	err := g.update(func(tx *bbolt.Tx) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, w := range batch {
		w.err = err
		if err != nil && len(batch) > 1 {
			w.err = g.update(w.fn)
		}
		w.finished = true
		w.wake <- struct{}{}
	}
}

// update runs fn in one read-write transaction: every write to the store
// goes through it.
func (g *groupCommit) update(fn func(*bbolt.Tx) error) error {
	fail := g.failWrites.Load()
	return g.db.Update(func(tx *bbolt.Tx) error {
		g.arena.reset() // under bbolt's writer lock: no other transaction holds it
		if err := fn(tx); err != nil {
			return err
		}
		if fail != nil {
			return *fail
		}
		return nil
	})
}
