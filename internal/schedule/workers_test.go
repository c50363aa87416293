package schedule

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/probes"
)

// goroutineID is the calling goroutine's number, from its stack header
// ("goroutine 42 [running]:").
func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return strings.Fields(string(buf[:n]))[1]
}

// TestRunsReuseAWorker: a check's runs go to the same long-lived goroutine
// (whose stack has already grown), and never run on the wheel's goroutine,
// which must stay free to dispatch the next slot on time.
func TestRunsReuseAWorker(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	var mu sync.Mutex
	seen := map[string]int{}
	wheel := map[string]bool{}
	s.lateness = observerFunc(func(float64) { // called on the wheel's goroutine
		mu.Lock()
		wheel[goroutineID()] = true
		mu.Unlock()
	})
	c := newCollector()
	p := &funcProber{probe: func(context.Context) *probes.Result {
		mu.Lock()
		seen[goroutineID()]++
		mu.Unlock()
		return &probes.Result{Success: true}
	}}
	if _, err := s.Apply([]Spec{{ID: "s/f/reuse", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Fingerprint: "1",
		Build: func() (probes.Prober, error) { return p, nil }, OnResult: c.onResult("reuse")}}); err != nil {
		t.Fatal(err)
	}
	const runs = 20
	c.waitFor(t, "reuse", runs, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(wheel) == 0 {
		t.Fatal("no lateness observed: the test cannot tell the wheel's goroutine")
	}
	for id := range seen {
		if wheel[id] {
			t.Fatalf("a run went on the wheel's goroutine %s", id)
		}
	}
	// One worker; a second only if a slot came before the worker was idle again.
	if len(seen) > 2 || s.workers.started.Load() > 2 {
		t.Fatalf("%d runs went to %d goroutines (%d workers started), want 1 or 2: %v",
			runs, len(seen), s.workers.started.Load(), seen)
	}
}

type observerFunc func(float64)

func (f observerFunc) Observe(v float64) { f(v) }

// TestConcurrencyIsNotCapped: 200 checks whose targets never answer each run
// on their slot and end at their own timeout, however many hang at once.
func TestConcurrencyIsNotCapped(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	const (
		checks   = 200
		interval = time.Second
		timeout  = 800 * time.Millisecond // about 160 runs hang at any moment
	)
	var hanging, maxHanging atomic.Int32
	hang := func(ctx context.Context) *probes.Result {
		n := hanging.Add(1)
		for {
			m := maxHanging.Load()
			if n <= m || maxHanging.CompareAndSwap(m, n) {
				break
			}
		}
		<-ctx.Done()
		hanging.Add(-1)
		return &probes.Result{Err: ctx.Err()}
	}
	c := newCollector()
	specs := make([]Spec, checks)
	for i := range specs {
		id := fmt.Sprintf("s/f/hang%03d", i)
		specs[i] = Spec{ID: id, Interval: interval, Timeout: timeout, Fingerprint: "1",
			Build:    func() (probes.Prober, error) { return &funcProber{probe: hang}, nil },
			OnResult: c.onResult(id)}
	}
	if _, err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	for _, spec := range specs {
		c.waitFor(t, spec.ID, 1, 5*time.Second)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	grid := Grid(Rate(specs))
	for _, spec := range specs {
		r := c.results[spec.ID][0]
		// The deadline is set just before RunOnce takes the start time: the
		// duration may fall short of the timeout by that moment.
		if !r.TimedOut || r.Duration < timeout-10*time.Millisecond || r.Duration > timeout+200*time.Millisecond {
			t.Errorf("%s: TimedOut=%v after %s, want a timeout at %s (+<200ms)", spec.ID, r.TimedOut, r.Duration, timeout)
		}
		phase := r.Start.Sub(r.Start.Truncate(interval))
		if late := (phase - Offset(spec.ID, interval, grid) + interval) % interval; late > 100*time.Millisecond {
			t.Errorf("%s started %s after its slot, want <100ms", spec.ID, late)
		}
	}
	if m := maxHanging.Load(); m < 100 || s.workers.started.Load() < int64(m) {
		t.Errorf("at most %d runs hung at once on %d workers, want about 160 on as many", m, s.workers.started.Load())
	}
}

// TestSurplusWorkersIdleOut: after a burst, a steady trickle of runs goes to
// the most recently idle worker, so the rest of the burst's workers stay idle
// and exit after the idle timeout (taken in turn, they would all stay).
func TestSurplusWorkersIdleOut(t *testing.T) { synctest.Test(t, surplusWorkersIdleOut) }

func surplusWorkersIdleOut(t *testing.T) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	exec := func(e *entry) {
		if e.spec.ID == "burst" {
			<-release
		}
		wg.Done()
	}
	p := newWorkers(exec)
	p.idleTimeout = 200 * time.Millisecond
	burst, steady := &entry{spec: entrySpec{ID: "burst"}}, &entry{spec: entrySpec{ID: "steady"}}
	const n = 20
	wg.Add(n)
	for range n {
		p.run(burst)
	}
	if got := p.live.Load(); got != n {
		t.Fatalf("%d runs at once on %d workers, want %d", n, got, n)
	}
	close(release)
	wg.Wait()
	// One run every 5 ms for 600 ms: handed out in turn, each of the 20
	// workers would get one every 100 ms, well within its idle timeout.
	for range 120 {
		wg.Add(1)
		p.run(steady)
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if got := p.live.Load(); got > 3 {
		t.Errorf("%d workers alive after 600 ms of one run at a time, want the surplus gone", got)
	}
	if got := p.started.Load(); got > n+3 {
		t.Errorf("%d workers started, want the burst's %d and few more", got, n)
	}
	select {
	case <-p.close():
	case <-time.After(5 * time.Second):
		t.Fatal("workers did not end within 5s of close")
	}
	if got := p.live.Load(); got != 0 {
		t.Fatalf("%d workers alive after close", got)
	}
}

// TestIdleWorkersExit: once no check is scheduled, every worker ends after
// its idle timeout.
func TestIdleWorkersExit(t *testing.T) { synctest.Test(t, idleWorkersExit) }

func idleWorkersExit(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	s.workers.idleTimeout = 50 * time.Millisecond
	c := newCollector()
	var specs []Spec
	for i := range 10 {
		id := fmt.Sprintf("s/f/c%d", i)
		specs = append(specs, Spec{ID: id, Interval: 30 * time.Millisecond, Timeout: 20 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult(id)})
	}
	if _, err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	for _, spec := range specs {
		c.waitFor(t, spec.ID, 3, 3*time.Second)
	}
	if _, err := s.Apply(nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the idle timeout
	synctest.Wait()
	if got := s.workers.live.Load(); got != 0 {
		t.Fatalf("%d workers alive an idle timeout after the last check was removed, want 0", got)
	}
}

// TestStopEndsWorkers: Stop ends the workers, which otherwise wait 30 s for
// more work, and every other goroutine the scheduler started.
func TestStopEndsWorkers(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	var specs []Spec
	for i := range 20 {
		id := fmt.Sprintf("s/f/c%d", i)
		specs = append(specs, Spec{ID: id, Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult(id)})
	}
	if _, err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	for _, spec := range specs {
		c.waitFor(t, spec.ID, 2, 3*time.Second)
	}
	if s.workers.live.Load() == 0 {
		t.Fatal("no worker alive before Stop")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.workers.live.Load(); got != 0 {
		t.Fatalf("%d workers alive after Stop", got)
	}
	goleak.VerifyNone(t, before)
}
