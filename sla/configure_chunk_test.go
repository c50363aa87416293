package sla

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/vigil-monitoring/vigil/sla/store"
	"github.com/vigil-monitoring/vigil/sla/store/boltstore"
)

// cutStore passes writes to a real store and records how many features each
// carried. From write number cutAt (1-based; 0: never) on it fails them: a
// process that died then (dead), or a disk that failed that one write.
type cutStore struct {
	store.Store
	cutAt int
	dead  bool

	mu       sync.Mutex
	features []int // features per write that reached the store
	writes   int
}

var errCut = errors.New("store cut off")

func (s *cutStore) Write(b *store.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.cutAt > 0 && (s.writes == s.cutAt || s.dead && s.writes > s.cutAt) {
		return errCut
	}
	if err := s.Store.Write(b); err != nil {
		return err
	}
	s.features = append(s.features, len(b.Features))
	return nil
}

func chunkSpecs(n int) []FeatureSpec {
	specs := make([]FeatureSpec, n)
	for i := range specs {
		specs[i] = testSpec(fmt.Sprintf("f%02d", i), "a")
	}
	return specs
}

// openCut opens the bolt store in dir behind a cutStore, the engine writing
// Configure in chunks of 3 features.
func openCut(t *testing.T, dir string, clock Clock, cutAt int, dead bool) (*Engine, *cutStore) {
	t.Helper()
	bolt, err := boltstore.Open(filepath.Join(dir, storeFile), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := &cutStore{Store: bolt, cutAt: cutAt, dead: dead}
	e, err := New(cs, Options{Region: "kr-central-1", Clock: clock, ScheduledHeartbeat: true})
	if err != nil {
		t.Fatal(err)
	}
	e.configureChunk = 3
	return e, cs
}

// loadStore reads the whole store in dir, opened read-only.
func loadStore(t *testing.T, dir string) *store.History {
	t.Helper()
	bolt, err := boltstore.Open(filepath.Join(dir, storeFile), boltstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	h, err := bolt.Load()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// storedFeatures reads the store in dir: the configured features' names,
// and the start of each one's open presence span in seconds after t0.
func storedFeatures(t *testing.T, dir string) (names []string, presence map[string]float64) {
	t.Helper()
	h := loadStore(t, dir)
	presence = map[string]float64{}
	for key, rec := range h.Features {
		if !rec.Configured {
			continue
		}
		_, name := splitKey(key)
		names = append(names, name)
		spans := h.Intervals[store.IntervalPresence][key]
		if n := len(spans); n == 1 && spans[0].End == store.OpenEnd {
			presence[name] = timeOf(spans[0].Start).Sub(t0).Seconds()
		} else {
			t.Errorf("feature %s: presence %v, want one open span", name, spans)
		}
	}
	slices.Sort(names)
	return names, presence
}

// TestConfigureInChunks: Configure writes its features a chunk per
// transaction, each feature's records whole in one; a crash between chunks
// leaves features written or not at all, and the next start's Configure
// writes the rest and keeps those written; a chunk that fails to be written
// is written, with the chunks after it, at the next heartbeat.
func TestConfigureInChunks(t *testing.T) {
	specs := chunkSpecs(10)
	var all []string
	for _, s := range specs {
		all = append(all, s.Feature)
	}

	t.Run("chunks", func(t *testing.T) {
		dir := t.TempDir()
		e, cs := openCut(t, dir, newFakeClock(at(0)), 0, false)
		mustConfigure(t, e, specs...)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// Open's write, Configure's four, Close's heartbeat.
		if want := []int{0, 3, 3, 3, 1, 0}; !slices.Equal(cs.features, want) {
			t.Errorf("features per write %v, want %v", cs.features, want)
		}
		if names, _ := storedFeatures(t, dir); !slices.Equal(names, all) {
			t.Errorf("stored %v, want %v", names, all)
		}
	})

	// The chunks reuse one buffer for their specs' JSON: each record keeps
	// its own spec, whatever the chunks after it wrote there.
	t.Run("specs intact", func(t *testing.T) {
		dir := t.TempDir()
		e, _ := openCut(t, dir, newFakeClock(at(0)), 0, false)
		var varied []FeatureSpec
		for i := range 10 {
			checks := make([]string, 10-i) // the later chunks' specs are shorter
			for c := range checks {
				checks[c] = fmt.Sprintf("check-%d-%d", i, c)
			}
			varied = append(varied, testSpec(fmt.Sprintf("f%02d", i), checks...))
		}
		mustConfigure(t, e, varied...)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		h := loadStore(t, dir)
		for _, spec := range varied {
			rec, ok := h.Features[featureKey(spec.Service, spec.Feature)]
			if want := encodeSpec(spec); !ok || string(rec.Spec) != string(want) {
				t.Errorf("feature %s: stored spec\n%s\nwant\n%s", spec.Feature, rec.Spec, want)
			}
		}
	})

	t.Run("crash between chunks", func(t *testing.T) {
		dir := t.TempDir()
		clock := newFakeClock(at(0))
		e, cs := openCut(t, dir, clock, 3, true) // dies before Configure's second chunk
		if err := e.Configure(specs); !errors.Is(err, errCut) {
			t.Fatalf("Configure: %v, want the cut", err)
		}
		_ = e.Close() // dead: the heartbeat and the clean mark are lost
		if want := []int{0, 3}; !slices.Equal(cs.features, want) {
			t.Fatalf("features per write %v, want %v", cs.features, want)
		}
		names, _ := storedFeatures(t, dir)
		if want := all[:3]; !slices.Equal(names, want) {
			t.Fatalf("after the crash the store has %v, want %v", names, want)
		}

		clock.Set(at(100))
		e, cs = openCut(t, dir, clock, 0, false)
		if got := len(e.Features()); got != 3 {
			t.Errorf("reopened: %d features, want the 3 written", got)
		}
		mustConfigure(t, e, specs...)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// Only the 7 missing are written: the 3 are as configured.
		if want := []int{0, 3, 3, 1, 0}; !slices.Equal(cs.features, want) {
			t.Errorf("second start: features per write %v, want %v", cs.features, want)
		}
		names, presence := storedFeatures(t, dir)
		if !slices.Equal(names, all) {
			t.Fatalf("stored %v, want %v", names, all)
		}
		for i, name := range all {
			want := 100.0
			if i < 3 {
				want = 0 // configured before the crash, and kept
			}
			if presence[name] != want {
				t.Errorf("%s: present from %gs, want %gs", name, presence[name], want)
			}
		}
	})

	t.Run("failed chunk", func(t *testing.T) {
		dir := t.TempDir()
		clock := newFakeClock(at(0))
		e, cs := openCut(t, dir, clock, 3, false) // the disk fails Configure's second chunk only
		if err := e.Configure(specs); !errors.Is(err, errCut) {
			t.Fatalf("Configure: %v, want the cut", err)
		}
		if h := e.StoreHealth(); h.Pending != 7 {
			t.Errorf("pending %d features, want the 7 of the failed chunk and after", h.Pending)
		}
		clock.Add(maxHeartbeat)
		if err := e.Heartbeat(); err != nil {
			t.Fatal(err)
		}
		if h := e.StoreHealth(); h.Failing() || h.Pending != 0 {
			t.Errorf("after the heartbeat: %+v, want healthy", h)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// Open's write, the first chunk; at the heartbeat each of the 7
		// rewritten whole, then the heartbeat itself; Close's.
		if want := []int{0, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0}; !slices.Equal(cs.features, want) {
			t.Errorf("features per write %v, want %v", cs.features, want)
		}
		names, presence := storedFeatures(t, dir)
		if !slices.Equal(names, all) {
			t.Fatalf("stored %v, want %v", names, all)
		}
		for _, name := range all {
			if presence[name] != 0 {
				t.Errorf("%s: present from %gs, want 0s (when configured)", name, presence[name])
			}
		}
	})
}
