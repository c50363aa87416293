package bench

import (
	"os"
	"runtime/metrics"
	"runtime/trace"
	"testing"
)

// traceEnv names the file for a runtime/trace of the measurement window
// alone: which goroutine held the Ps while a run waited to be dispatched.
const traceEnv = "VIGIL_BENCH_TRACE"

// startWindowTrace starts the window's execution trace if asked; the
// returned func stops it.
func startWindowTrace(b *testing.B) func() {
	path := os.Getenv(traceEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("%s: %v", traceEnv, err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		b.Fatalf("%s: %v", traceEnv, err)
	}
	return func() {
		trace.Stop()
		f.Close()
	}
}

// schedMetrics are the runtime's own histograms the window reports: how long
// goroutines waited runnable before they ran, and how long the world was
// stopped for the garbage collector.
var schedMetrics = []string{"/sched/latencies:seconds", "/sched/pauses/total/gc:seconds"}

func readSchedLatencies() []metrics.Sample {
	s := make([]metrics.Sample, len(schedMetrics))
	for i, name := range schedMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return s
}

// reportSchedLatencies reports the 99th percentile and the largest of each
// histogram over the window (its counts since before).
func reportSchedLatencies(b *testing.B, before []metrics.Sample) {
	after := readSchedLatencies()
	for i, unit := range []string{"runnable", "gc-pause"} {
		h0, h1 := before[i].Value.Float64Histogram(), after[i].Value.Float64Histogram()
		p99, max := windowQuantiles(h0.Counts, h1.Counts, h1.Buckets)
		b.ReportMetric(p99*1e3, unit+"-p99-ms")
		b.ReportMetric(max*1e3, unit+"-max-ms")
	}
}

// windowQuantiles is the p99 and the largest of the difference of two
// readings of a runtime histogram, each as its bucket's upper bound.
func windowQuantiles(c0, c1 []uint64, bounds []float64) (p99, max float64) {
	var total uint64
	for i := range c1 {
		total += c1[i] - c0[i]
	}
	if total == 0 {
		return 0, 0
	}
	var seen uint64
	p99 = -1
	for i := range c1 {
		n := c1[i] - c0[i]
		seen += n
		if p99 < 0 && seen*100 >= total*99 {
			p99 = bounds[i+1]
		}
		if n > 0 {
			max = bounds[i+1]
		}
	}
	return p99, max
}
