package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
	"github.com/vigil-monitoring/vigil/internal/agent"
)

// BenchmarkAgentStartup is the agent from agent.New to Ready on n HTTP checks
// (one feature each, a fresh store), against addresses nothing listens on:
// what startup allocates and how long it takes, not the probes. Reports the
// bytes allocated from New to ready (startup-alloc-MB); the heap in use and
// stacks after a GC right then (steady-heap-MB); the garbage, what was
// allocated and is not live after that GC (startup-garbage-MB); the issue's
// goal, garbage over the steady heap (garbage/heap, under 2), and
// allocation over the steady heap (alloc/heap, as sessions before reported
// it); the time to ready; and the process's CPU time from New to ready
// (cpu-s-to-ready: the garbage collector's included; on a shared machine
// steadier than the wall time). With -memprofile the allocations are
// startup's (one op is one start).
func BenchmarkAgentStartup(b *testing.B) {
	addrs := []string{"127.0.0.2:9", "127.0.0.3:9"}
	for _, n := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			// A long interval: the first runs fall after the measurement.
			text := workload.VigilConfig(workload.HTTP(n, time.Hour, 0, 0, addrs, nil))
			var alloc, heap, garbage uint64
			var took, cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				cfg := writeConfig(b, dir, text)
				base, _ := memInUse()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				b.StartTimer()
				start, cpu0 := time.Now(), processCPU(b)
				a, err := agent.New(agent.Options{ConfigFile: cfg, StoragePath: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				for !a.Ready() {
					runtime.Gosched()
				}
				took += time.Since(start)
				cpu += processCPU(b) - cpu0
				b.StopTimer()
				runtime.ReadMemStats(&ms1)
				alloc += ms1.TotalAlloc - ms0.TotalAlloc
				inUse, _ := memInUse()
				heap += inUse - base
				var ms2 runtime.MemStats
				runtime.ReadMemStats(&ms2) // after memInUse's GC: the live heap
				garbage += ms1.TotalAlloc - ms0.TotalAlloc - (ms2.HeapAlloc - ms0.HeapAlloc)
				if err := a.Shutdown(context.Background()); err != nil {
					b.Errorf("shutdown: %v", err)
				}
				b.StartTimer()
			}
			runs := float64(b.N)
			b.ReportMetric(float64(alloc)/runs/1e6, "startup-alloc-MB")
			b.ReportMetric(float64(heap)/runs/1e6, "steady-heap-MB")
			b.ReportMetric(float64(garbage)/runs/1e6, "startup-garbage-MB")
			b.ReportMetric(float64(garbage)/float64(heap), "garbage/heap")
			b.ReportMetric(float64(alloc)/float64(heap), "alloc/heap")
			b.ReportMetric(took.Seconds()/runs, "s-to-ready")
			b.ReportMetric(cpu.Seconds()/runs, "cpu-s-to-ready")
		})
	}
}
