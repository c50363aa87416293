package sla

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkObserve is the hot path in steady state: a passing result on an
// up feature with three checks.
func BenchmarkObserve(b *testing.B) {
	clock := newFakeClock(t0)
	e := openTest(b, b.TempDir(), clock)
	mustConfigure(b, e, staleSpec(testSpec("f", "a", "b", "c"))) // with staleness, as the agent configures checks
	refs := []*CheckRef{e.Check("talk", "f", "a"), e.Check("talk", "f", "b"), e.Check("talk", "f", "c")}
	for i, r := range refs {
		r.Observe(Observation{Start: at(float64(i)), Duration: time.Millisecond, Success: true})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		refs[i%3].Observe(Observation{Start: t0.Add(time.Duration(i) * time.Millisecond), Duration: time.Millisecond, Success: true})
	}
	if st := status(b, e, "f").State; st != StateUp {
		b.Fatalf("state %s, want up", st)
	}
}

// buildHistory configures n features and gives each a few outages (and
// a degraded spell) over 30 days, ending open at t0+30d.
func buildHistory(b *testing.B, dir string, n int) {
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Region: "bench", Clock: clock, noSync: true})
	if err != nil {
		b.Fatal(err)
	}
	specs := make([]FeatureSpec, n)
	for i := range specs {
		s := testSpec(fmt.Sprintf("feature-%05d", i), "a", "b")
		s.Service = fmt.Sprintf("service-%03d", i%500)
		s.Labels = map[string]string{"datacenter": []string{"pangyo", "gasan", "ansan"}[i%3], "team": fmt.Sprintf("t%d", i%40)}
		s.Require = Require{Mode: RequireAny}
		s.Maintenance = []Maintenance{{Cron: "0 4 * * SUN", Location: time.UTC, Duration: 30 * time.Minute}}
		specs[i] = s
	}
	if err := e.Configure(specs); err != nil {
		b.Fatal(err)
	}
	type event struct {
		at  time.Duration
		f   int
		ok  bool
		chk string
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var events []event
	for f := range n {
		for k := range 3 { // three outages per feature, in its own 10-day third of the month
			start := time.Duration(k)*10*24*time.Hour + time.Duration(rng.IntN(9*24*3600))*time.Second
			events = append(events, event{start, f, false, "a"}, event{start + time.Second, f, false, "b"},
				event{start + time.Duration(60+rng.IntN(3600))*time.Second, f, true, "a"})
		}
	}
	sortEvents := func(a, b event) int { return int(a.at - b.at) }
	slices.SortFunc(events, sortEvents)
	for _, ev := range events {
		when := t0.Add(ev.at)
		clock.Set(when)
		e.Observe(specs[ev.f].Service, specs[ev.f].Feature, ev.chk, Observation{Start: when, Success: ev.ok, Error: "boom"})
	}
	clock.Set(t0.Add(30 * 24 * time.Hour))
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
}

func heapInuseMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// BenchmarkFigures10k computes the figures of 10,000 features with 30 days
// of history, as a scrape does (internal/export renders them).
func BenchmarkFigures10k(b *testing.B) {
	dir := b.TempDir()
	buildHistory(b, dir, 10_000)
	base := heapInuseMB()
	clock := newFakeClock(t0.Add(30 * 24 * time.Hour))
	e := openTest(b, dir, clock)
	heap := heapInuseMB() - base
	b.ReportAllocs()
	rows, _, gen := e.Figures(nil, 0)
	for b.Loop() {
		rows, _, _ = e.Figures(rows[:0], gen)
	}
	b.ReportMetric(float64(len(rows)), "features")
	b.ReportMetric(heap, "MB-heap-inuse")
}

// BenchmarkOpen10k opens a store holding 10,000 features' 30 days of history.
func BenchmarkOpen10k(b *testing.B) {
	dir := b.TempDir()
	buildHistory(b, dir, 10_000)
	clock := newFakeClock(t0.Add(30 * 24 * time.Hour))
	base := heapInuseMB()
	b.ReportAllocs()
	var heap float64
	for b.Loop() {
		e, err := Open(Options{Path: dir, Clock: clock, noSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		heap = heapInuseMB() - base
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(heap, "MB-heap-inuse")
}

// BenchmarkFirstResults is an agent's first interval: 10,000 features, each
// leaving "unknown" on its first result (a transition to write, with fsync,
// as the agent does), results arriving from 8 goroutines at once, as runs
// end on the scheduler's workers. One op is the whole first interval.
func BenchmarkFirstResults(b *testing.B) {
	const features, workers = 10000, 8
	specs := make([]FeatureSpec, features)
	for i := range specs {
		specs[i] = testSpec(fmt.Sprintf("f%05d", i), "a")
	}
	for b.Loop() {
		b.StopTimer()
		clock := newFakeClock(t0)
		e, err := Open(Options{Path: b.TempDir(), Region: "bench", Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		mustConfigure(b, e, specs...)
		refs := make([]*CheckRef, features)
		for i := range refs {
			refs[i] = e.Check("talk", specs[i].Feature, "a")
		}
		b.StartTimer()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < features; i += workers {
					refs[i].Observe(Observation{Start: t0, Success: true})
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if got := status(b, e, "f09999").State; got != StateUp {
			b.Fatalf("state %s after the first result, want up", got)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFootprint10k is the live heap an agent holds for 10,000 features
// of one HTTP check each, as internal/agent configures them, after two
// results per check and one scrape: the engine's part of the agent's memory
// per feature. One op is the whole setup; run it with -benchtime=1x.
func BenchmarkFootprint10k(b *testing.B) {
	const n = 10_000
	services, features := make([]string, n), make([]string, n)
	for i := range n {
		services[i], features[i] = fmt.Sprintf("svc%03d", i/100), fmt.Sprintf("f%05d", i)
	}
	var perFeature float64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		clock := newFakeClock(t0)
		base := heapAlloc()
		b.StartTimer()
		e, err := Open(Options{Path: dir, Region: "bench", Clock: clock, noSync: true})
		if err != nil {
			b.Fatal(err)
		}
		specs := make([]FeatureSpec, n)
		for i := range specs {
			// As agent.FeatureSpecs builds them from a config with defaults.
			specs[i] = FeatureSpec{Service: services[i], Feature: features[i], Labels: map[string]string{},
				Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 2, RecoveryThreshold: 3,
				Checks: []CheckSpec{{Name: "http", Kind: "http", Interval: 10 * time.Second, Timeout: 5 * time.Second}}}
		}
		mustConfigure(b, e, specs...)
		specs = nil
		refs := make([]*CheckRef, n)
		for i := range refs {
			refs[i] = e.Check(services[i], features[i], "http")
		}
		for k := range 2 {
			when := t0.Add(time.Duration(k) * 10 * time.Second)
			clock.Set(when)
			for _, r := range refs {
				r.Observe(Observation{Start: when, Duration: 300 * time.Microsecond, Success: true})
			}
		}
		_, _, _ = e.Figures(nil, 0) // as the first scrape
		b.StopTimer()
		perFeature = float64(heapAlloc()-base) / n
		runtime.KeepAlive(refs)
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(perFeature, "B-live/feature")
}

// heapAlloc is the live heap after a GC: one GC, as a heap profile shows
// it, so that what a sync.Pool holds still counts.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
