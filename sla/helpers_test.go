package sla

import (
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/sla/store"
	"github.com/vigil-monitoring/vigil/sla/store/boltstore"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is the start of every scripted timeline: a Sunday at midnight UTC.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// openTest opens an engine on dir with the fake clock; it is closed when the
// test ends.
func openTest(t testing.TB, dir string, clock Clock) *Engine {
	t.Helper()
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// testSpec is a feature talk/<feature> with the given checks, thresholds 1,
// objective 99.9% over 30d. Its checks have no interval, so they are never
// stale (tests feed results at whatever times they need); staleSpec gives
// them one.
func testSpec(feature string, checks ...string) FeatureSpec {
	s := FeatureSpec{
		Service: "talk", Feature: feature, Title: "Feature " + feature, ServiceTitle: "KakaoTalk",
		Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: 1,
	}
	for _, c := range checks {
		s.Checks = append(s.Checks, CheckSpec{Name: c, Kind: "http"})
	}
	return s
}

// staleSpec is testSpec with each check every 10s with a 5s timeout: stale
// after 25s without a run.
func staleSpec(s FeatureSpec) FeatureSpec {
	for i := range s.Checks {
		s.Checks[i].Interval, s.Checks[i].Timeout = 10*time.Second, 5*time.Second
	}
	return s
}

func mustConfigure(t testing.TB, e *Engine, specs ...FeatureSpec) {
	t.Helper()
	if err := e.Configure(specs); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// status returns the status of talk/feature.
func status(t testing.TB, e *Engine, feature string) FeatureStatus {
	t.Helper()
	for _, s := range e.Features() {
		if s.Service == "talk" && s.Feature == feature {
			return s
		}
	}
	t.Fatalf("feature talk/%s not in Features()", feature)
	return FeatureStatus{}
}

// span of an outage in seconds after t0; end -1 while open.
type outageSpan struct{ start, end float64 }

func spans(outages []Outage) []outageSpan {
	out := make([]outageSpan, 0, len(outages))
	for i := len(outages) - 1; i >= 0; i-- { // oldest first
		o := outages[i]
		s := outageSpan{start: o.Start.Sub(t0).Seconds(), end: -1}
		if o.End != nil {
			s.end = o.End.Sub(t0).Seconds()
		}
		out = append(out, s)
	}
	return out
}

// boltOf is the bbolt store under an engine opened with Open.
func boltOf(e *Engine) *boltstore.Store { return e.store.(*boltstore.Store) }

// memTest starts an engine on a MemoryStore with the fake clock, for tests
// that do not test persistence; it is closed when the test ends.
func memTest(t testing.TB, clock Clock) *Engine {
	t.Helper()
	e, err := New(store.NewMemory(), Options{Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatalf("New(memory): %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
