package schedule

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/probes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// funcProber adapts a func to probes.Prober.
type funcProber struct {
	probe  func(ctx context.Context) *probes.Result
	closed atomic.Bool
}

func (f *funcProber) Probe(ctx context.Context) *probes.Result { return f.probe(ctx) }
func (f *funcProber) Close() error                             { f.closed.Store(true); return nil }

// collector gathers results per check.
type collector struct {
	mu      sync.Mutex
	results map[string][]*probes.Result
	notify  chan string
}

func newCollector() *collector {
	return &collector{results: map[string][]*probes.Result{}, notify: make(chan string, 1000)}
}

func (c *collector) onResult(id string) func(*probes.Result) {
	return func(r *probes.Result) {
		c.mu.Lock()
		c.results[id] = append(c.results[id], r)
		c.mu.Unlock()
		select {
		case c.notify <- id:
		default:
		}
	}
}

func (c *collector) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results[id])
}

// waitFor waits (bounded) until check id has n results.
func (c *collector) waitFor(t *testing.T, id string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for c.count(id) < n {
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("check %s: %d results after %s, want %d", id, c.count(id), limit, n)
		}
	}
}

func okProber() *funcProber {
	return &funcProber{probe: func(context.Context) *probes.Result { return &probes.Result{Success: true} }}
}

func TestOffsetIsStableAndSpread(t *testing.T) {
	interval := 10 * time.Second
	// The offset is a pure function of id and interval: pinned, so a change to the
	// hash (which would move every check's rhythm on upgrade) is a visible decision.
	if got := Offset("talk/send/api", interval, 0); got != 7606685121 {
		t.Fatalf("Offset(talk/send/api, 10s, 0) = %d, want 7606685121 (stable)", got)
	}
	if got := Offset("talk/send/api", interval, 5*time.Millisecond); got != 7605000000 {
		t.Fatalf("Offset(talk/send/api, 10s, 5ms) = %d, want 7605000000 (rounded down)", got)
	}
	// 10,000 checks over 10 s in 100 ms buckets: no bucket holds more than 3x its share.
	buckets := make([]int, 100)
	grid := 25 * time.Millisecond
	for i := range 10000 {
		id := "svc/feature/check-" + string(rune('a'+i%26)) + itoa(i)
		o := Offset(id, interval, 0)
		if o < 0 || o >= interval {
			t.Fatalf("offset %s out of [0, %s)", o, interval)
		}
		buckets[o/(100*time.Millisecond)]++
		if g := Offset(id, interval, grid); g%grid != 0 || g > o || o-g >= grid {
			t.Fatalf("%s: offset %s on a %s grid is %s, want the grid point at or below", id, o, grid, g)
		}
	}
	for i, n := range buckets {
		if n > 300 {
			t.Errorf("bucket %d holds %d of 10,000 starts, want about 100", i, n)
		}
	}
}

func TestGridGrowsAsTheRateFalls(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		rate float64
		want time.Duration
	}{
		{0, 25 * ms}, {3.3, 25 * ms}, {103.3, 25 * ms}, {320, 25 * ms}, // 1,000 checks at 10 s: 2.6 a point
		{321, 10 * ms}, {800, 10 * ms},
		{801, 5 * ms}, {1003.3, 5 * ms}, {1600, 5 * ms}, // 10,000 checks at 10 s: 5 a point
		{1601, 2 * ms}, {4000, 2 * ms},
		{4001, ms}, {8000, ms}, {1e6, ms},
	} {
		if got := Grid(c.rate); got != c.want {
			t.Errorf("Grid(%g) = %s, want %s", c.rate, got, c.want)
		}
	}
	specs := []Spec{{Interval: 10 * time.Second}, {Interval: time.Second}, {Interval: 100 * time.Millisecond}}
	if got := Rate(specs); got < 11.0999 || got > 11.1001 {
		t.Errorf("Rate = %g, want 11.1 (0.1 + 1 + 10)", got)
	}
}

// TestApplyMovesKeptChecksOntoANewGrid: a reload that moves the rate across
// a step keeps a kept check (same prober, counted Kept) but moves its next
// slot to its point on the new grid, so that it starts with the checks of
// that point. A reload right after a run must not run it again at the run's
// own slot moved a few milliseconds later.
func TestApplyMovesKeptChecksOntoANewGrid(t *testing.T) {
	synctest.Test(t, applyMovesKeptChecksOntoANewGrid)
}

func applyMovesKeptChecksOntoANewGrid(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	const interval = time.Second
	coarse, fine := 25*time.Millisecond, 10*time.Millisecond
	// A check whose point on the fine grid is at least 10 ms after its
	// point on the coarse one.
	kept := ""
	for i := 0; kept == ""; i++ {
		if id := "s/f/kept-" + itoa(i); Offset(id, interval, fine)-Offset(id, interval, coarse) >= 10*time.Millisecond {
			kept = id
		}
	}
	ran := make(chan time.Time, 10)
	spec := func(id string) Spec {
		sp := Spec{ID: id, Interval: interval, Timeout: 100 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: func(*probes.Result) {}}
		if id == kept {
			sp.OnResult = func(r *probes.Result) { ran <- r.Start }
		}
		return sp
	}
	next := func() (time.Time, time.Duration) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return time.Unix(0, s.entries[kept].next), s.grid
	}
	if _, err := s.Apply([]Spec{spec(kept)}); err != nil {
		t.Fatal(err)
	}
	slot, grid := next()
	if off := slot.Sub(slot.Truncate(interval)); grid != coarse || off != Offset(kept, interval, coarse) {
		t.Fatalf("one check: grid %s, next slot at offset %s; want %s and %s", grid, off, coarse, Offset(kept, interval, coarse))
	}
	specs := []Spec{spec(kept)}
	for i := range 400 { // 401 runs a second: the fine grid
		specs = append(specs, spec("s/f/other-"+itoa(i)))
	}
	select {
	case <-ran: // the reload comes right after a run
	case <-time.After(3 * time.Second):
		t.Fatal("the kept check did not run")
	}
	ch, err := s.Apply(specs)
	if err != nil || ch.Kept != 1 || ch.Added != 400 {
		t.Fatalf("Apply = %+v, %v; want 1 kept, 400 added", ch, err)
	}
	moved, grid := next()
	if off := moved.Sub(moved.Truncate(interval)); grid != fine || off != Offset(kept, interval, fine) {
		t.Fatalf("401 checks: grid %s, next slot at offset %s; want %s and %s", grid, off, fine, Offset(kept, interval, fine))
	}
	// The slot after the run, moved to its new point: not the run's own.
	if d := moved.Sub(slot.Add(interval)); d < 0 || d >= coarse {
		t.Fatalf("next slot %s after the reload, want the one after the run at %s moved by less than %s",
			moved.Format(time.StampMicro), slot.Format(time.StampMicro), coarse)
	}
	select {
	case at := <-ran:
		if at.Before(moved) {
			t.Fatalf("the kept check ran again at %s, before its moved slot %s", at.Format(time.StampMicro), moved.Format(time.StampMicro))
		}
	case <-time.After(1500 * time.Millisecond):
		t.Fatal("the kept check did not run on its new slot")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; i < len(s.queue); i++ {
		if s.queue.Less(i, (i-1)/2) {
			t.Fatalf("queue is no longer a heap at %d after the move", i)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestFirstStartIsOnTheSlotGrid(t *testing.T) {
	interval := 10 * time.Second
	now := time.Date(2026, 11, 25, 1, 0, 3, 0, time.UTC)
	grid := 10 * time.Millisecond
	got := firstStart("a/b/c", interval, grid, now)
	if !got.After(now) || got.Sub(now) > interval {
		t.Fatalf("first start %s not within (now, now+interval]", got)
	}
	if off := got.Sub(got.Truncate(interval)); off != Offset("a/b/c", interval, grid) || off%grid != 0 {
		t.Fatalf("first start offset %s, want %s", off, Offset("a/b/c", interval, grid))
	}
}

// TestFirstStartAlreadyPassed: on a busy machine the first slot can pass
// between computing it and queueing it on the wheel. The check must still be
// scheduled, on its own phase, rather than refused (CI once failed on this).
func TestFirstStartAlreadyPassed(t *testing.T) { synctest.Test(t, firstStartAlreadyPassed) }

func firstStartAlreadyPassed(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	interval := 100 * time.Millisecond
	s.now = func() time.Time { return time.Now().Add(-3 * interval) } // first slot long gone
	c := newCollector()
	ch, err := s.Apply([]Spec{{ID: "s/f/late", Interval: interval, Timeout: 50 * time.Millisecond, Fingerprint: "1",
		Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult("late")}})
	if err != nil || ch.Added != 1 {
		t.Fatalf("Apply = %+v, %v; want the check added", ch, err)
	}
	c.waitFor(t, "late", 3, 3*time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	s.mu.Lock()
	want := Offset("s/f/late", interval, s.grid)
	s.mu.Unlock()
	for _, r := range c.results["late"] {
		phase := r.Start.Sub(r.Start.Truncate(interval))
		if phase != want {
			t.Errorf("run at %s: phase %s, want %s", r.Start.Format(time.StampMicro), phase, want)
		}
	}
}

func TestRunsOnIntervalWithTimeoutAndLateness(t *testing.T) {
	synctest.Test(t, runsOnIntervalWithTimeoutAndLateness)
}

func runsOnIntervalWithTimeoutAndLateness(t *testing.T) {
	lateness := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lateness", Buckets: []float64{0.001, 0.01, 0.1}})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight"})
	s, err := New(Options{Lateness: lateness, InFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	c := newCollector()
	var unmarked atomic.Int32 // runs whose context was not a run's (probes.RunContext)
	hang := &funcProber{probe: func(ctx context.Context) *probes.Result {
		if !probes.CanceledOnlyByDeadline(ctx) {
			unmarked.Add(1)
		}
		<-ctx.Done() // a target that never answers
		return &probes.Result{Err: ctx.Err()}
	}}
	specs := []Spec{
		{ID: "s/f/ok", Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult("ok")},
		{ID: "s/f/hang", Interval: 200 * time.Millisecond, Timeout: 80 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return hang, nil }, OnResult: c.onResult("hang")},
	}
	applied := time.Now()
	ch, err := s.Apply(specs)
	if err != nil || ch.Added != 2 {
		t.Fatalf("Apply = %+v, %v; want 2 added", ch, err)
	}
	// Run two seconds and a bit (off the slot grid), then stop: Stop waits
	// for the runs in flight, so every slot until then has its result.
	const span = 2*time.Second + 10*time.Millisecond
	time.Sleep(span)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	grid := Grid(Rate(specs))
	c.mu.Lock()
	defer c.mu.Unlock()
	// Every slot of the two seconds ran, on its slot: the hanging check
	// delayed nothing.
	for _, sp := range specs {
		id := sp.ID[len("s/f/"):]
		first := firstStart(sp.ID, sp.Interval, grid, applied)
		want := int((applied.Add(span).Sub(first))/sp.Interval) + 1
		if got := len(c.results[id]); got != want {
			t.Errorf("%s ran %d times in 2 s at %s, want %d", id, got, sp.Interval, want)
		}
		for k, r := range c.results[id] {
			if slot := first.Add(time.Duration(k) * sp.Interval); !r.Start.Equal(slot) {
				t.Errorf("%s run %d started at %s, want its slot %s", id, k, r.Start.Format(time.StampMilli), slot.Format(time.StampMilli))
			}
		}
	}
	if n := unmarked.Load(); n != 0 {
		t.Errorf("%d runs got a context not marked canceled only by its deadline", n)
	}
	for _, r := range c.results["hang"] {
		if !r.TimedOut || r.Success || r.Duration != 80*time.Millisecond {
			t.Errorf("hanging run: TimedOut=%v Success=%v after %s, want a timeout after 80ms", r.TimedOut, r.Success, r.Duration)
		}
	}
	// Lateness: one observation a run, each 0 (the bubble's clock stands
	// still while the wheel dispatches).
	m := &dto.Metric{}
	if err := lateness.Write(m); err != nil {
		t.Fatal(err)
	}
	runs := uint64(len(c.results["ok"]) + len(c.results["hang"]))
	if h := m.GetHistogram(); h.GetSampleCount() != runs || h.GetSampleSum() != 0 {
		t.Errorf("lateness: %d observations summing to %gs, want %d of 0s", h.GetSampleCount(), h.GetSampleSum(), runs)
	}
	if v := testutil.ToFloat64(inFlight); v != 0 {
		t.Errorf("in flight after the runs: %g, want 0", v)
	}
}

func TestSingletonRunsNeverOverlap(t *testing.T) { synctest.Test(t, singletonRunsNeverOverlap) }

func singletonRunsNeverOverlap(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	var running, maxRunning atomic.Int32
	c := newCollector()
	slow := &funcProber{probe: func(ctx context.Context) *probes.Result {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		<-ctx.Done() // every run lasts its whole timeout: 2.4 intervals
		running.Add(-1)
		return &probes.Result{Err: errors.New("slow")}
	}}
	const interval, timeout = 50 * time.Millisecond, 120 * time.Millisecond
	if _, err := s.Apply([]Spec{{ID: "s/f/slow", Interval: interval, Timeout: timeout, Fingerprint: "1",
		Build: func() (probes.Prober, error) { return slow, nil }, OnResult: c.onResult("slow")}}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "slow", 4, 3*time.Second)
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("%d runs of one check overlapped, want 1 at a time", m)
	}
	// A run covers its slot and the next two, which are skipped: runs start
	// on every third slot.
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, r := range c.results["slow"][1:4] {
		if gap := r.Start.Sub(c.results["slow"][k].Start); gap != 3*interval {
			t.Errorf("run %d started %s after the one before, want %s (two slots skipped)", k+1, gap, 3*interval)
		}
	}
}

func TestApplyKeepsUnchangedReplacesChangedRemovesMissing(t *testing.T) {
	synctest.Test(t, applyKeepsUnchangedReplacesChangedRemovesMissing)
}

func applyKeepsUnchangedReplacesChangedRemovesMissing(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	c := newCollector()
	builds := map[string]int{}
	var mu sync.Mutex
	probers := map[string]*funcProber{}
	spec := func(id, fp string) Spec {
		return Spec{ID: id, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Fingerprint: fp,
			Build: func() (probes.Prober, error) {
				mu.Lock()
				defer mu.Unlock()
				builds[id]++
				p := okProber()
				probers[id+fp] = p
				return p, nil
			}, OnResult: c.onResult(id)}
	}
	if _, err := s.Apply([]Spec{spec("a", "1"), spec("b", "1"), spec("c", "1")}); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Apply([]Spec{spec("a", "1"), spec("b", "2")})
	if err != nil {
		t.Fatal(err)
	}
	if ch != (Changes{Replaced: 1, Removed: 1, Kept: 1}) {
		t.Fatalf("changes = %+v, want 1 replaced, 1 removed, 1 kept", ch)
	}
	mu.Lock()
	if builds["a"] != 1 || builds["b"] != 2 || builds["c"] != 1 {
		t.Errorf("builds = %v, want a once, b twice, c once", builds)
	}
	mu.Unlock()
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
	c.waitFor(t, "b", 2, 3*time.Second)
	synctest.Wait() // the close happens after any in-flight run
	if !probers["c1"].closed.Load() || !probers["b1"].closed.Load() {
		t.Error("removed and replaced probers were not closed")
	}
	if probers["a1"].closed.Load() {
		t.Error("kept prober was closed")
	}
}

func TestStopWaitsForRunsInFlight(t *testing.T) { synctest.Test(t, stopWaitsForRunsInFlight) }

func stopWaitsForRunsInFlight(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var finished atomic.Bool
	var once sync.Once
	p := &funcProber{probe: func(ctx context.Context) *probes.Result {
		once.Do(func() { close(started) })
		select {
		case <-time.After(150 * time.Millisecond):
		case <-ctx.Done():
		}
		finished.Store(true)
		return &probes.Result{Success: true}
	}}
	if _, err := s.Apply([]Spec{{ID: "x", Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, Fingerprint: "1",
		Build: func() (probes.Prober, error) { return p, nil }, OnResult: func(*probes.Result) {}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(3 * time.Second):
		t.Fatal("run did not start")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Stop returned before the run in flight finished")
	}
	if !p.closed.Load() {
		t.Fatal("Stop did not close the prober")
	}
}

func TestRunOnceRecoversPanicsAndFillsResult(t *testing.T) {
	tests := []struct {
		name    string
		probe   func(ctx context.Context) *probes.Result
		wantErr string
	}{
		{"panic", func(context.Context) *probes.Result { panic("boom") }, "probe panicked: boom"},
		{"nil result", func(context.Context) *probes.Result { return nil }, "probe returned no result"},
		{"fail without error", func(context.Context) *probes.Result { return &probes.Result{} }, "probe failed without an error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RunOnce(context.Background(), &funcProber{probe: tt.probe})
			if r.Success || r.Err == nil || r.Err.Error() != tt.wantErr || r.Start.IsZero() {
				t.Fatalf("result %+v, want failure %q with a start time", r, tt.wantErr)
			}
		})
	}
}
