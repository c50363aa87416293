package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func testDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestGroupCommit: while one write is being committed, the others queue and
// then share one commit; each caller returns with its write on disk, and a
// failing write fails alone.
func TestGroupCommit(t *testing.T) {
	for _, failing := range []int{-1, 13} {
		t.Run(fmt.Sprintf("failing=%d", failing), func(t *testing.T) {
			db := testDB(t)
			g := &groupCommit{db: db}
			const writers = 64
			bad := errors.New("bad record")
			release := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, writers)
			write := func(i int) {
				key := fmt.Appendf(nil, "k%02d", i)
				errs[i] = g.write(func(tx *bbolt.Tx) error {
					if i == 0 {
						<-release // the first commit is slow: the rest queue behind it
					}
					if i == failing {
						return bad
					}
					return tx.Bucket([]byte("b")).Put(key, []byte("v"))
				})
				if errs[i] != nil {
					return
				}
				if err := db.View(func(tx *bbolt.Tx) error {
					if tx.Bucket([]byte("b")).Get(key) == nil {
						return fmt.Errorf("%s not there after its write returned", key)
					}
					return nil
				}); err != nil {
					t.Error(err)
				}
			}
			wg.Go(func() { write(0) })
			for !leading(g) {
				time.Sleep(time.Millisecond)
			}
			for i := 1; i < writers; i++ {
				wg.Go(func() { write(i) })
			}
			for deadline := time.Now().Add(10 * time.Second); pending(g) < writers-1; {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d writers queued after 10s", pending(g), writers-1)
				}
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()
			for i, err := range errs {
				if want := i == failing; (err != nil) != want || (want && !errors.Is(err, bad)) {
					t.Errorf("writer %d: err %v", i, err)
				}
			}
			want := writers
			if failing >= 0 {
				want--
			}
			if err := db.View(func(tx *bbolt.Tx) error {
				if n := tx.Bucket([]byte("b")).Stats().KeyN; n != want {
					return fmt.Errorf("%d keys, want %d", n, want)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			if g.commits != 2 {
				t.Errorf("%d commits for %d writers, want 2 (the first, then everyone queued behind it)", g.commits, writers)
			}
			if leading(g) || pending(g) != 0 {
				t.Errorf("left leading=%v with %d pending", leading(g), pending(g))
			}
		})
	}
}

func leading(g *groupCommit) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leading
}

func pending(g *groupCommit) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}
