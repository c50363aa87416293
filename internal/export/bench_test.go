package export

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/probes"
)

// BenchmarkObserve is the hot path: one HTTP result with its five phases.
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "bench"})
	c := m.Check("svc", "f", "http", "http")
	r := httpResult(start, true)
	c.Observe(r)
	b.ReportAllocs()
	for b.Loop() {
		c.Observe(r)
	}
}

// BenchmarkObserveKind records each kind's golden results in turn (the tls
// kind's change TLS version and cipher every run).
func BenchmarkObserveKind(b *testing.B) {
	for _, kind := range []string{"http", "dns", "messaging", "tcp", "tls", "ssh", "grpc", "icmp"} {
		b.Run(kind, func(b *testing.B) {
			c := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "bench"}).Check("svc", "f", kind, kind)
			results := goldenCases[kind]
			for _, r := range results {
				c.Observe(r)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Observe(results[i%len(results)])
				i++
			}
		})
	}
}

// httpResult is a result as the HTTP probe makes it.
func httpResult(at time.Time, ok bool) *probes.Result {
	r := &probes.Result{Start: at, Duration: 300 * time.Microsecond, Success: ok,
		Phases: []probes.Phase{{Name: "resolve"}, {Name: "connect", Duration: 80 * time.Microsecond},
			{Name: "tls"}, {Name: "processing", Duration: 60 * time.Microsecond}, {Name: "transfer", Duration: 5 * time.Microsecond}},
		HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1", ContentLength: 56}}
	if !ok {
		r.Err = errors.New("connection refused")
	}
	return r
}

// BenchmarkFootprint10k is the live heap an agent holds for the series of
// 10,000 HTTP checks, as internal/agent binds them, after two results per
// check and one scrape in text. One op is the whole setup; run it with
// -benchtime=1x.
func BenchmarkFootprint10k(b *testing.B) {
	footprint10k(b, func() *expo.Writer { return expo.NewWriter(io.Discard, false) })
}

// BenchmarkFootprint10kProto is BenchmarkFootprint10k with a protobuf
// scrape: the label pairs are then encoded for protobuf too.
func BenchmarkFootprint10kProto(b *testing.B) {
	footprint10k(b, func() *expo.Writer { return expo.NewProtoWriter(io.Discard) })
}

func footprint10k(b *testing.B, newWriter func() *expo.Writer) {
	const n = 10_000
	services, features := make([]string, n), make([]string, n)
	for i := range n {
		services[i], features[i] = fmt.Sprintf("svc%03d", i/100), fmt.Sprintf("f%05d", i)
	}
	results := []*probes.Result{httpResult(start, true), httpResult(start.Add(10*time.Second), false)}
	var perCheck float64
	for b.Loop() {
		b.StopTimer()
		base := heapAlloc()
		b.StartTimer()
		m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "bench"})
		checks := make([]*CheckMetrics, n)
		for i := range checks {
			checks[i] = m.Check(services[i], features[i], "http", "http")
			checks[i].SetSchedule(10*time.Second, 5*time.Second)
		}
		for _, r := range results {
			for _, c := range checks {
				c.Observe(r)
			}
		}
		w := newWriter()
		m.WriteMetrics(w)
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		perCheck = float64(heapAlloc()-base) / n
		runtime.KeepAlive(m)
		runtime.KeepAlive(checks)
		b.StartTimer()
	}
	b.ReportMetric(perCheck, "B-live/check")
}

// heapAlloc is the live heap after a GC.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkWriteMetrics10k renders the series of 10,000 HTTP checks in the
// text format, as a scrape does.
func BenchmarkWriteMetrics10k(b *testing.B) {
	m := observed10k()
	w := expo.NewWriter(io.Discard, false)
	b.ReportAllocs()
	for b.Loop() {
		w.Reset(io.Discard, false)
		m.WriteMetrics(w)
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteMetrics10kProto renders the same series in the protobuf
// format, the duration histograms with their native buckets.
func BenchmarkWriteMetrics10kProto(b *testing.B) {
	m := observed10k()
	w := expo.NewProtoWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		w.ResetProto(io.Discard)
		m.WriteMetrics(w)
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// observed10k is the metrics of 10,000 HTTP checks, each with one passing run.
func observed10k() *Metrics {
	m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "bench"})
	r := httpResult(start, true)
	for i := range 10_000 {
		c := m.Check(fmt.Sprintf("svc%03d", i/100), fmt.Sprintf("f%05d", i), "http", "http")
		c.SetSchedule(10*time.Second, 5*time.Second)
		c.Observe(r)
	}
	return m
}
