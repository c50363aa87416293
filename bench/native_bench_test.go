package bench

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
)

// BenchmarkNativeHistograms renders the exposition of n one-check HTTP
// features (set up as BenchmarkRender's, but each check with 20 runs of 20 ms
// to 800 ms, so that its native histogram has the buckets a real one has) in
// text 0.0.4, OpenMetrics and delimited protobuf with native histograms,
// plain and gzipped, in the basic and standard profiles. It reports bytes and
// series per scrape (in protobuf as Prometheus with native histograms stores
// them: a histogram with a native part is one series, its classic buckets
// not kept), the process's CPU per render, the fastest render and the bytes
// allocated.
//
// At 50,000 checks, basic only: the issue's /metrics goal is for basic there.
func BenchmarkNativeHistograms(b *testing.B) {
	for _, profile := range []export.Profile{export.ProfileBasic, export.ProfileStandard} {
		b.Run(fmt.Sprintf("checks=10000/profile=%s", profile), func(b *testing.B) { benchNative(b, 10000, profile) })
	}
	b.Run("checks=50000/profile=basic", func(b *testing.B) { benchNative(b, 50000, export.ProfileBasic) })
}

func benchNative(b *testing.B, n int, profile export.Profile) {
	engine, specs, reg, m, s := renderLandscape(b, n, profile)
	start := time.Now()
	for i, spec := range specs {
		c := m.Check(spec.Service, spec.Feature, "http", "http")
		c.SetSchedule(10*time.Second, 5*time.Second)
		c.SetProfile(profile)
		for run := range 20 {
			// 20 ms to 800 ms, log-uniformly, a different order per check.
			f := float64((run*7+i)%20) / 19
			d := time.Duration(math.Exp(math.Log(20e6) + f*(math.Log(800e6)-math.Log(20e6))))
			result := &probes.Result{Start: start.Add(time.Duration(run) * 10 * time.Second), Duration: d, Success: true,
				Phases: []probes.Phase{{Name: "resolve"}, {Name: "connect", Duration: d / 4}, {Name: "tls"},
					{Name: "processing", Duration: d / 2}, {Name: "transfer", Duration: d / 8}},
				HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1", ContentLength: 56}}
			c.Observe(result)
		}
		engine.Observe(spec.Service, spec.Feature, "http", sla.Observation{Start: start, Duration: time.Millisecond, Success: true})
	}
	e := expo.New(reg, nil, m, s)
	for _, v := range []struct {
		name  string
		write func(out *countBytes) error
	}{
		{"text", func(out *countBytes) error { return e.Write(out, false) }},
		{"text-gzip", func(out *countBytes) error { return e.WriteGzip(out, false) }},
		{"openmetrics-gzip", func(out *countBytes) error { return e.WriteGzip(out, true) }},
		{"protobuf", func(out *countBytes) error { return e.WriteProto(out) }},
		{"protobuf-gzip", func(out *countBytes) error { return e.WriteProtoGzip(out) }},
	} {
		b.Run(v.name, func(b *testing.B) { measureRender(b, v.write) })
	}
	// The other way to write protobuf: build client_model's messages and let
	// protobuf-go marshal them. Timed is the marshalling alone, of the
	// families built beforehand (from the text, so without native parts): a
	// floor for that way. Built for this op alone, as 600,000 messages on
	// the heap make every GC dearer. Not at 50,000: that many messages take
	// gigabytes.
	b.Run("protobuf-dto-marshal-only", func(b *testing.B) {
		if n > 10000 {
			b.Skip("only at 10,000 checks")
		}
		gathered, err := e.Gather()
		if err != nil {
			b.Fatal(err)
		}
		measureRender(b, func(out *countBytes) error {
			for _, mf := range gathered {
				if _, err := protodelim.MarshalTo(out, mf); err != nil {
					return err
				}
			}
			return nil
		})
	})

	// Series per scrape: sample lines of the text; metrics of the protobuf
	// (a native histogram one series), and what a histogram with both adds
	// where Prometheus keeps the classic buckets too.
	var text, pb bytes.Buffer
	if err := e.Write(&text, false); err != nil {
		b.Fatal(err)
	}
	if err := e.WriteProto(&pb); err != nil {
		b.Fatal(err)
	}
	textSeries := 0
	for line := range strings.Lines(text.String()) {
		if !strings.HasPrefix(line, "#") {
			textSeries++
		}
	}
	protoSeries, classic := 0, 0
	dec := expfmt.NewDecoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		for _, metric := range mf.Metric {
			protoSeries++
			if h := metric.Histogram; h != nil && len(h.Bucket) > 0 {
				classic += len(h.Bucket) + 3 // and +Inf, _sum, _count
			}
		}
	}
	b.Logf("%d checks, profile %s: series per scrape: text %d (%.1f a feature); protobuf with native histograms %d (%.1f), %d more with the classic buckets kept too",
		n, profile, textSeries, float64(textSeries)/float64(n), protoSeries, float64(protoSeries)/float64(n), classic)
}

// measureRender runs write as b's op and reports the bytes written, the
// process's CPU per op, the fastest op and the bytes allocated per op (with a
// GC before each op, outside the timer).
func measureRender(b *testing.B, write func(out *countBytes) error) {
	var bytes int64
	var cpu time.Duration
	var allocated uint64
	var ms0, ms1 runtime.MemStats
	fastest := time.Duration(math.MaxInt64)
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		cpu0 := processCPU(b)
		b.StartTimer()
		began := time.Now()
		var out countBytes
		if err := write(&out); err != nil {
			b.Fatal(err)
		}
		took := time.Since(began)
		b.StopTimer()
		fastest = min(fastest, took)
		cpu += processCPU(b) - cpu0
		runtime.ReadMemStats(&ms1)
		allocated += ms1.TotalAlloc - ms0.TotalAlloc
		bytes = int64(out)
		b.StartTimer()
	}
	ops := float64(b.N)
	b.ReportMetric(float64(bytes), "bytes/op")
	b.ReportMetric(float64(cpu.Microseconds())/ops/1e3, "cpu-ms/op")
	b.ReportMetric(float64(fastest.Microseconds())/1e3, "fastest-ms")
	b.ReportMetric(float64(allocated)/ops/1e6, "alloc-MB/op")
}
