package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
)

// BenchmarkRender renders the exposition of n one-check HTTP features (each
// check run once, its SLA state real) in each metrics profile, with no probe
// running, so that the process's CPU per op is the render's alone: on a
// shared machine wall time is inflated by others' load, CPU time much less.
// It also pushes the same exposition to a loopback target that reads and
// drops it, the way push works now (streamed) and the way it worked before
// (VictoriaMetrics/metrics' PushMetricsExt, which buffers it), and reports the
// peak heap in use during each op (sampled every millisecond) above the heap
// in use after a GC before it; and it serves /api/v1/features whole and
// as a page of 1,000. On a shared machine the fastest op's wall
// time (fastest-ms) is the best estimate of the render's; cpu-ms/op is the
// whole process's and includes the garbage collector's work on the heap.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		for _, profile := range []export.Profile{export.ProfileBasic, export.ProfileStandard, export.ProfileFull} {
			b.Run(fmt.Sprintf("checks=%d/profile=%s", n, profile), func(b *testing.B) { benchRender(b, n, profile) })
		}
	}
}

// renderBackend serves the benchmark's exposition and engine to web.
type renderBackend struct {
	e      *expo.Exposition
	engine *sla.Engine
}

func (r renderBackend) Exposition() *expo.Exposition { return r.e }
func (r renderBackend) Engine() *sla.Engine          { return r.engine }
func (r renderBackend) Ready() bool                  { return true }
func (r renderBackend) Reload() error                { return nil }

func benchRender(b *testing.B, n int, profile export.Profile) {
	engine, specs, reg, m, s := renderLandscape(b, n, profile)
	result := &probes.Result{Start: time.Now(), Duration: 300 * time.Microsecond, Success: true,
		Phases: []probes.Phase{{Name: "resolve"}, {Name: "connect", Duration: 80 * time.Microsecond}, {Name: "tls"},
			{Name: "processing", Duration: 60 * time.Microsecond}, {Name: "transfer", Duration: 5 * time.Microsecond}},
		HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1", ContentLength: 56}}
	for _, spec := range specs {
		c := m.Check(spec.Service, spec.Feature, "http", "http")
		c.SetSchedule(10*time.Second, 5*time.Second)
		c.SetProfile(profile)
		c.Observe(result)
		engine.Observe(spec.Service, spec.Feature, "http", sla.Observation{Start: result.Start, Duration: result.Duration, Success: true})
	}
	e := expo.New(reg, nil, m, s)
	// The first scrape of a configuration renders every feature's label pairs
	// (and copies the specs): a cost once per configuration, not per scrape,
	// which would otherwise be the first op's and set text's peak and
	// allocation figures.
	if err := e.Write(io.Discard, false); err != nil {
		b.Fatal(err)
	}

	var received atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got, _ := io.Copy(io.Discard, r.Body)
		received.Store(got)
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	pusher, err := export.NewPusher(target.URL+"/api/v1/import/prometheus", `instance="bench"`, e, prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}

	for _, v := range []struct {
		name string
		op   func() (int64, error)
	}{
		{"text", func() (int64, error) {
			var c countBytes
			err := e.Write(&c, false)
			return int64(c), err
		}},
		{"text-gzip", func() (int64, error) {
			var c countBytes
			err := e.WriteGzip(&c, false)
			return int64(c), err
		}},
		{"push", func() (int64, error) {
			err := pusher.Push(b.Context())
			return received.Load(), err
		}},
		{"push-before", func() (int64, error) { // the old way, for comparison
			err := vm.PushMetricsExt(b.Context(), target.URL+"/api/v1/import/prometheus",
				func(w io.Writer) { _ = e.Write(w, false) }, &vm.PushOptions{ExtraLabels: `instance="bench"`})
			return received.Load(), err
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var bytes int64
			var peakAbove, cpu uint64
			var ms0, ms1 runtime.MemStats
			var allocated uint64
			fastest := time.Duration(math.MaxInt64)
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := heapInUse()
				var peak uint64
				stop := samplePeak(&peak)
				runtime.ReadMemStats(&ms0)
				cpu0 := processCPU(b)
				b.StartTimer()
				start := time.Now()
				got, err := v.op()
				took := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fastest = min(fastest, took)
				cpu += uint64(processCPU(b) - cpu0)
				runtime.ReadMemStats(&ms1)
				allocated += ms1.TotalAlloc - ms0.TotalAlloc
				stop()
				peakAbove = max(peakAbove, peak-min(peak, base))
				bytes = got
				b.StartTimer()
			}
			ops := float64(b.N)
			b.ReportMetric(float64(bytes), "bytes/op")
			b.ReportMetric(float64(bytes)/float64(n), "bytes/check")
			b.ReportMetric(float64(cpu)/ops/1e6, "cpu-ms/op")
			b.ReportMetric(float64(fastest.Microseconds())/1e3, "fastest-ms")
			b.ReportMetric(float64(allocated)/ops/1e6, "alloc-MB/op")
			b.ReportMetric(float64(peakAbove)/1e6, "peak-above-MB")
		})
	}
	// /api/v1/features, whole and a page from the middle.
	handler := web.New(renderBackend{e, engine}, web.Options{}).Handler()
	for _, v := range []struct{ name, path string }{
		{"features-all", "/api/v1/features"},
		{"features-page-1000", fmt.Sprintf("/api/v1/features?limit=1000&after=%s/%s", specs[n/2].Service, specs[n/2].Feature)},
	} {
		b.Run(v.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, v.path, nil)
			fastest := time.Duration(math.MaxInt64)
			var bytes int
			for b.Loop() {
				rec := httptest.NewRecorder()
				start := time.Now()
				handler.ServeHTTP(rec, req)
				fastest = min(fastest, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", v.path, rec.Code)
				}
				bytes = rec.Body.Len()
			}
			b.ReportMetric(float64(bytes), "bytes/op")
			b.ReportMetric(float64(fastest.Microseconds())/1e3, "fastest-ms")
		})
	}
	{
		// Series per feature, from the text.
		var buf bytes.Buffer
		if err := e.Write(&buf, false); err != nil {
			b.Fatal(err)
		}
		lines := 0
		for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
			if len(l) > 0 && l[0] != '#' && bytes.Contains(l, []byte(`service="`)) {
				lines++
			}
		}
		b.Logf("%d checks, profile %s: %.1f series per one-check feature", n, profile, float64(lines)/float64(n))
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// samplePeak records the highest heap in use into peak every millisecond
// until the returned func is called.
func samplePeak(peak *uint64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapInUse(); h > *peak {
				*peak = h
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// renderLandscape is what the render benchmarks scrape: n one-check HTTP
// features (100 a service) configured in a fresh engine, in profile, with the
// per-check and SLA metrics on a new registry; the engine is closed when the
// benchmark ends. The caller records the runs. The engine's heartbeat is left
// to the caller (ScheduledHeartbeat), which does not beat: at 50,000 features
// a beat (catching up the checks gone stale and persisting every feature)
// costs more CPU than a render, and one landing inside an op made the
// process's CPU per op and the op's wall time swing by half.
func renderLandscape(b *testing.B, n int, profile export.Profile) (*sla.Engine, []sla.FeatureSpec, *prometheus.Registry, *export.Metrics, *export.SLAMetrics) {
	b.Helper()
	engine, err := sla.Open(sla.Options{Path: b.TempDir(), Region: "bench", ScheduledHeartbeat: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = engine.Close() })
	specs := make([]sla.FeatureSpec, n)
	profiles := export.FeatureProfiles{}
	for i := range specs {
		specs[i] = sla.FeatureSpec{Service: fmt.Sprintf("svc%03d", i/100), Feature: fmt.Sprintf("f%05d", i), Objective: 0.999,
			Window: 30 * 24 * time.Hour, FailureThreshold: 2, RecoveryThreshold: 3,
			Checks: []sla.CheckSpec{{Name: "http", Kind: "http", Interval: 10 * time.Second, Timeout: 5 * time.Second}}}
		profiles[[2]string{specs[i].Service, specs[i].Feature}] = profile
	}
	if err := engine.Configure(specs); err != nil {
		b.Fatal(err)
	}
	labels := prometheus.Labels{"region": "bench"}
	reg := prometheus.NewRegistry()
	m := export.NewMetrics(reg, labels)
	s := export.NewSLAMetrics(engine, labels, nil)
	s.SetProfiles(profiles)
	return engine, specs, reg, m, s
}
