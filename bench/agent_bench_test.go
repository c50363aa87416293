package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
	"github.com/vigil-monitoring/vigil/internal/agent"
	"github.com/vigil-monitoring/vigil/internal/schedule"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/httpprobe"
)

// These benchmarks hold a workload for a window of b.N planned runs (at the
// workload's rate: -benchtime=20000x is 20 s at 1,000 runs/s) and report the
// CPU of this process per run (cpu-ns/op), so that -cpuprofile shows the
// agent's steady work. Memory per check is heap plus goroutine stacks after a
// GC, over the empty process's. VIGIL_BENCH_CPUPROFILE=file profiles the
// window alone; VIGIL_BENCH_HEAPPROFILE=file writes the live heap at the end
// of the window (the -memprofile of `go test` is written after the agent has
// stopped, so it shows allocations only).

// heapProfileEnv names the file for the live-heap profile; cpuProfileEnv the
// file for a CPU profile of the measurement window alone (go test's
// -cpuprofile also covers the config load and the first interval, whose
// feature transitions are written to the store).
const (
	heapProfileEnv  = "VIGIL_BENCH_HEAPPROFILE"
	cpuProfileEnv   = "VIGIL_BENCH_CPUPROFILE"
	allocProfileEnv = "VIGIL_BENCH_ALLOCPROFILE"
)

// writeAllocProfile writes the heap profile (its alloc_ counts are totals
// since the process started) to the file allocProfileEnv names plus suffix,
// if set: the window's allocations alone are the profile at its end less the
// one at its start (go tool pprof -sample_index=alloc_space -diff_base
// F.start F.end; set -test.memprofilerate for finer samples).
func writeAllocProfile(b *testing.B, suffix string) {
	path := os.Getenv(allocProfileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		b.Fatalf("%s: %v", allocProfileEnv, err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatalf("write alloc profile: %v", err)
	}
}

// gcCPU is the CPU the garbage collector has used so far (its background
// and assist work, and pauses), as the runtime estimates it.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// startWindowProfile starts the window's CPU profile if asked; the returned
// func stops it.
func startWindowProfile(b *testing.B) func() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("%s: %v", cpuProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("%s: %v (not with go test -cpuprofile)", cpuProfileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memInUse is heap and stack in use after a full GC.
func memInUse() (bytes uint64, goroutines int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, runtime.NumGoroutine()
}

// wait blocks for d or until the benchmark's deadline-free context ends; a
// fixed measurement window, not a wait for a result.
func wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

func writeHeapProfile(b *testing.B) {
	path := os.Getenv(heapProfileEnv)
	if path == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("%s: %v", heapProfileEnv, err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatalf("write heap profile: %v", err)
	}
}

// BenchmarkAgentHTTP is the whole agent (config, scheduler, HTTP probes,
// metrics, SLA engine and its store) on n HTTP checks every 10 s, each alone
// in its feature, against targets in a child process. One op is one planned
// run; the window starts after two intervals (warmUp), once every feature has left
// "unknown". 50,000 is issue 22's scale (5,000 runs a second; run the test
// binary with GOGC=35, as cmd/vigil sets it, to see its collector's share).
func BenchmarkAgentHTTP(b *testing.B) {
	addrs := startTargets(b)
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			benchAgent(b, workload.HTTP(n, 10*time.Second, 0, 0, addrs, nil), addrs[0])
		})
	}
}

// warmUp is how long an agent runs before its window: two intervals and a
// second, so that every feature has had its first result and left
// "unknown" (a store write each) before the window. After one interval,
// at 50,000 checks, the window still held the first results of features
// whose checks started late, one transition written per run.
func warmUp(w *workload.Workload) time.Duration {
	return 2*w.Checks[0].Interval + time.Second
}

func benchAgent(b *testing.B, w *workload.Workload, counter string) {
	benchAgentConfig(b, w, counter, workload.VigilConfig(w))
}

// benchAgentConfig is benchAgent on the config text given (the workload's,
// possibly with more blocks).
func benchAgentConfig(b *testing.B, w *workload.Workload, counter, text string) {
	dir := b.TempDir()
	cfg := writeConfig(b, dir, text)
	base, baseG := memInUse()
	a, err := agent.New(agent.Options{ConfigFile: cfg, StoragePath: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := a.Shutdown(context.Background()); err != nil {
			b.Errorf("shutdown: %v", err)
		}
	}()
	wait(warmUp(w))

	window := time.Duration(float64(b.N) / w.Rate() * float64(time.Second))
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	writeAllocProfile(b, ".start")
	served0, cpu0, gc0 := served(b, counter), processCPU(b), gcCPU()
	stopProfile := startWindowProfile(b)
	stopTrace := startWindowTrace(b)
	sched0 := readSchedLatencies()
	b.ResetTimer()
	wait(window)
	b.StopTimer()
	stopTrace()
	stopProfile()
	reportSchedLatencies(b, sched0)
	cpu, gc, runs := processCPU(b)-cpu0, gcCPU()-gc0, served(b, counter)-served0
	writeAllocProfile(b, ".end")
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if runs == 0 {
		if float64(b.N) < w.Rate() {
			return // the framework's b.N=1 probe: a window too short to hold a run
		}
		b.Fatal("no probe runs in the window")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(runs), "cpu-ns/run")
	b.ReportMetric(float64(gc.Nanoseconds())/float64(runs), "gc-cpu-ns/run")
	b.ReportMetric(float64(runs)/float64(b.N), "runs/op")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(runs), "alloc-B/run")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(runs), "allocs/run")
	b.ReportMetric(float64(ms1.NumGC-ms0.NumGC), "GCs")
	inUse, goroutines := memInUse()
	b.ReportMetric(float64(inUse-base)/float64(len(w.Checks)), "heap+stack-B/check")
	b.ReportMetric(float64(goroutines-baseG)/float64(len(w.Checks)), "goroutines/check")
	writeHeapProfile(b)
}

// noopProber passes at once: the scheduler's own cost.
type noopProber struct{}

func (noopProber) Probe(context.Context) *probes.Result {
	return &probes.Result{Start: time.Now(), Success: true}
}

// latencies records lateness observations.
type latencies struct {
	mu sync.Mutex
	xs []float64
}

func (l *latencies) Observe(v float64) {
	l.mu.Lock()
	l.xs = append(l.xs, v)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.xs) == 0 {
		return
	}
	s := slices.Clone(l.xs)
	slices.Sort(s)
	b.ReportMetric(s[len(s)*99/100]*1e3, "late-p99-ms")
	b.ReportMetric(s[len(s)-1]*1e3, "late-max-ms")
}

// schedules are the loads the scheduler benchmarks hold: Vigil's goal (10,000
// checks at 10 s) and ten times its rate.
var schedules = []struct {
	jobs     int
	interval time.Duration
}{{10000, 10 * time.Second}, {10000, time.Second}, {50000, 10 * time.Second}}

// BenchmarkSchedule is internal/schedule (gocron/v2 underneath) running
// probers that do nothing: the cost of scheduling one run.
func BenchmarkSchedule(b *testing.B) {
	for _, sc := range schedules {
		b.Run(fmt.Sprintf("jobs=%d/interval=%v", sc.jobs, sc.interval), func(b *testing.B) {
			late := &latencies{}
			base, baseG := memInUse()
			s, err := schedule.New(schedule.Options{Lateness: late})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := s.Stop(context.Background()); err != nil {
					b.Errorf("stop: %v", err)
				}
			}()
			var runs atomic.Int64
			specs := make([]schedule.Spec, sc.jobs)
			for i := range specs {
				specs[i] = schedule.Spec{ID: fmt.Sprintf("s/f%05d/c", i), Interval: sc.interval, Timeout: sc.interval / 2,
					Fingerprint: "noop", Build: func() (probes.Prober, error) { return noopProber{}, nil },
					OnResult: func(*probes.Result) { runs.Add(1) }}
			}
			if _, err := s.Apply(specs); err != nil {
				b.Fatal(err)
			}
			measureRuns(b, &runs, float64(sc.jobs)/sc.interval.Seconds())
			inUse, goroutines := memInUse()
			b.ReportMetric(float64(inUse-base)/float64(sc.jobs), "heap+stack-B/job")
			b.ReportMetric(float64(goroutines-baseG)/float64(sc.jobs), "goroutines/job")
			late.report(b)
		})
	}
}

// measureRuns holds the window of b.N runs at rate and reports CPU per run.
func measureRuns(b *testing.B, runs *atomic.Int64, rate float64) {
	b.Helper()
	window := time.Duration(float64(b.N) / rate * float64(time.Second))
	runs0, cpu0 := runs.Load(), processCPU(b)
	b.ResetTimer()
	wait(window)
	b.StopTimer()
	cpu, n := processCPU(b)-cpu0, runs.Load()-runs0
	if n == 0 {
		if float64(b.N) < rate {
			return // the framework's b.N=1 probe: a window too short to hold a run
		}
		b.Fatal("no runs in the window")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/run")
	b.ReportMetric(float64(n)/float64(b.N), "runs/op")
}

// BenchmarkGocron is gocron/v2 alone with the job options Vigil uses
// (duration job, start time spread over the interval), with and without
// singleton mode: does the library itself limit the scale?
func BenchmarkGocron(b *testing.B) {
	for _, sc := range schedules {
		for _, singleton := range []bool{true, false} {
			name := fmt.Sprintf("jobs=%d/interval=%v/singleton=%v", sc.jobs, sc.interval, singleton)
			b.Run(name, func(b *testing.B) {
				late := &latencies{}
				base, baseG := memInUse()
				cron, err := gocron.NewScheduler()
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := cron.Shutdown(); err != nil {
						b.Errorf("shutdown: %v", err)
					}
				}()
				cron.Start()
				var runs atomic.Int64
				now := time.Now()
				for i := range sc.jobs {
					first := now.Add(sc.interval * time.Duration(i+1) / time.Duration(sc.jobs))
					iv := sc.interval
					task := func() {
						start := time.Now()
						late.Observe(float64(start.Sub(first)%iv) / 1e9)
						runs.Add(1)
					}
					opts := []gocron.JobOption{gocron.WithStartAt(gocron.WithStartDateTimePast(first))}
					if singleton {
						opts = append(opts, gocron.WithSingletonMode(gocron.LimitModeReschedule))
					}
					if _, err := cron.NewJob(gocron.DurationJob(sc.interval), gocron.NewTask(task), opts...); err != nil {
						b.Fatal(err)
					}
				}
				measureRuns(b, &runs, float64(sc.jobs)/sc.interval.Seconds())
				inUse, goroutines := memInUse()
				b.ReportMetric(float64(inUse-base)/float64(sc.jobs), "heap+stack-B/job")
				b.ReportMetric(float64(goroutines-baseG)/float64(sc.jobs), "goroutines/job")
				late.report(b)
			})
		}
	}
}

// BenchmarkTimerFloor is the floor of scheduling in Go: one runtime timer
// per job, re-armed for the job's next slot each time it fires (the task runs
// on the timer's own goroutine). What gocron costs above this is the price of
// its channels and goroutine hand-offs.
func BenchmarkTimerFloor(b *testing.B) {
	for _, sc := range schedules {
		b.Run(fmt.Sprintf("jobs=%d/interval=%v", sc.jobs, sc.interval), func(b *testing.B) {
			late := &latencies{}
			base, baseG := memInUse()
			var runs atomic.Int64
			timers := make([]*time.Timer, sc.jobs)
			var mu sync.Mutex // guards timers and stopped
			stopped := false
			now := time.Now()
			for i := range sc.jobs {
				next := now.Add(sc.interval * time.Duration(i+1) / time.Duration(sc.jobs))
				fire := func() {
					late.Observe(time.Since(next).Seconds())
					runs.Add(1)
					next = next.Add(sc.interval)
					mu.Lock()
					if !stopped {
						timers[i].Reset(time.Until(next))
					}
					mu.Unlock()
				}
				mu.Lock()
				timers[i] = time.AfterFunc(time.Until(next), fire)
				mu.Unlock()
			}
			defer func() {
				mu.Lock()
				stopped = true
				for _, t := range timers {
					t.Stop()
				}
				mu.Unlock()
			}()
			measureRuns(b, &runs, float64(sc.jobs)/sc.interval.Seconds())
			inUse, goroutines := memInUse()
			b.ReportMetric(float64(inUse-base)/float64(sc.jobs), "heap+stack-B/job")
			b.ReportMetric(float64(goroutines-baseG)/float64(sc.jobs), "goroutines/job")
			late.report(b)
		})
	}
}

// BenchmarkGocronBatched is gocron/v2 with one job per 10 ms slot of the
// interval instead of one per check: each job starts the runs of the checks
// whose offset falls in its slot, each on its own goroutine. It prices the
// alternative of batching checks by (interval, slot): gocron's per-fire
// hand-offs are paid once per slot, not once per run.
func BenchmarkGocronBatched(b *testing.B) {
	const slot = 10 * time.Millisecond
	for _, sc := range schedules {
		b.Run(fmt.Sprintf("checks=%d/interval=%v/slot=%v", sc.jobs, sc.interval, slot), func(b *testing.B) {
			late := &latencies{}
			base, baseG := memInUse()
			cron, err := gocron.NewScheduler()
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := cron.Shutdown(); err != nil {
					b.Errorf("shutdown: %v", err)
				}
			}()
			cron.Start()
			var runs atomic.Int64
			slots := int(sc.interval / slot)
			perSlot := make([]int, slots)
			for i := range sc.jobs {
				perSlot[i*slots/sc.jobs]++
			}
			now := time.Now().Truncate(slot)
			for s, n := range perSlot {
				if n == 0 {
					continue
				}
				first := now.Add(slot * time.Duration(s+1))
				iv := sc.interval
				task := func() {
					started := time.Now()
					late.Observe(float64(started.Sub(first)%iv) / 1e9)
					for range n {
						go runs.Add(1) // each check's run on its own goroutine, as a probe would
					}
				}
				if _, err := cron.NewJob(gocron.DurationJob(sc.interval), gocron.NewTask(task),
					gocron.WithStartAt(gocron.WithStartDateTimePast(first)), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
					b.Fatal(err)
				}
			}
			measureRuns(b, &runs, float64(sc.jobs)/sc.interval.Seconds())
			inUse, goroutines := memInUse()
			b.ReportMetric(float64(inUse-base)/float64(sc.jobs), "heap+stack-B/check")
			b.ReportMetric(float64(goroutines-baseG)/float64(sc.jobs), "goroutines/check")
			late.report(b)
		})
	}
}

// BenchmarkHTTPChecks is internal/schedule running real HTTP probes
// (probes/httpprobe, plain http, a fresh connection per run) against the
// target child, without the agent's metrics and SLA engine: the CPU the
// scheduler and the prober spend per run, next to a bare dial, write, read,
// close loop at the same rate in this process (floor). One op is one planned
// run: -benchtime 2000x is a 20 s window at 1,000 checks every 10 s. The
// window starts after one interval, once every check has run.
// VIGIL_BENCH_CPUPROFILE profiles the window alone.
func BenchmarkHTTPChecks(b *testing.B) {
	addrs := startTargets(b)
	for _, sc := range []struct {
		checks   int
		interval time.Duration
	}{{1000, 10 * time.Second}, {1000, time.Second}, {10000, 10 * time.Second}} {
		rate := float64(sc.checks) / sc.interval.Seconds()
		b.Run(fmt.Sprintf("checks=%d/interval=%v", sc.checks, sc.interval), func(b *testing.B) {
			if float64(b.N) < rate {
				return // the framework's b.N=1 probe: skip the warm-up interval
			}
			benchScheduleHTTP(b, workload.HTTP(sc.checks, sc.interval, 0, 0, addrs, nil))
		})
	}
	for _, rate := range []float64{100, 1000} {
		b.Run(fmt.Sprintf("floor/rate=%v", rate), func(b *testing.B) {
			if float64(b.N) < rate {
				return
			}
			benchFloorHTTP(b, addrs, rate)
		})
	}
}

func benchScheduleHTTP(b *testing.B, w *workload.Workload) {
	late := &latencies{}
	base, baseG := memInUse()
	s, err := schedule.New(schedule.Options{Lateness: late})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := s.Stop(context.Background()); err != nil {
			b.Errorf("stop: %v", err)
		}
	}()
	var runs, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	specs := make([]schedule.Spec, len(w.Checks))
	for i, c := range w.Checks {
		specs[i] = schedule.Spec{ID: c.ID, Interval: c.Interval, Timeout: w.Timeout, Fingerprint: c.Target,
			Build: func() (probes.Prober, error) {
				return httpprobe.New(&httpprobe.Config{URL: c.Target}, probes.Options{CheckID: c.ID})
			},
			OnResult: func(r *probes.Result) {
				runs.Add(1)
				if !r.Success {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &r.Err)
				}
			}}
	}
	if _, err := s.Apply(specs); err != nil {
		b.Fatal(err)
	}
	wait(w.Checks[0].Interval + time.Second)

	late.mu.Lock()
	late.xs = late.xs[:0] // the window's lateness only
	late.mu.Unlock()
	window := time.Duration(float64(b.N) / w.Rate() * float64(time.Second))
	runs0, cpu0 := runs.Load(), processCPU(b)
	stopProfile := startWindowProfile(b)
	b.ResetTimer()
	wait(window)
	b.StopTimer()
	stopProfile()
	cpu, n := processCPU(b)-cpu0, runs.Load()-runs0
	if n == 0 {
		b.Fatal("no runs in the window")
	}
	if err := firstErr.Load(); err != nil {
		b.Fatalf("%d of %d runs failed, first: %v", failed.Load(), runs.Load(), *err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/run")
	b.ReportMetric(float64(n)/float64(b.N), "runs/op")
	inUse, goroutines := memInUse()
	b.ReportMetric(float64(inUse-base)/float64(len(w.Checks)), "heap+stack-B/check")
	b.ReportMetric(float64(goroutines-baseG), "goroutines")
	late.report(b)
}

// benchFloorHTTP is the floor of an HTTP probe in this process, as
// bench/cmd/floor does it: paced at rate over addrs, each probe dials, writes
// one request, reads to EOF and closes; no parsing, no timing.
func benchFloorHTTP(b *testing.B, addrs []string, rate float64) {
	requests := make([][]byte, len(addrs))
	for i, a := range addrs {
		requests[i] = []byte("GET / HTTP/1.1\r\nHost: " + a + "\r\nConnection: close\r\n\r\n")
	}
	buf := make([]byte, 4096)
	probe := func(i int) error {
		conn, err := net.DialTimeout("tcp", addrs[i], 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(requests[i]); err != nil {
			return err
		}
		for {
			if _, err := conn.Read(buf); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	cpu0 := processCPU(b)
	stopProfile := startWindowProfile(b)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d) // paced: the floor idles between probes as an agent does
		}
		if err := probe(i % len(addrs)); err != nil {
			b.Fatalf("floor probe %d: %v", i, err)
		}
	}
	b.StopTimer()
	stopProfile()
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/run")
}

// stackProber passes at once after using depth KiB of stack, as a probe run
// (resolver, dialer, net/http, TLS) does: the cost of growing a goroutine's
// stack for each run, without the syscalls that make a real run's figures
// noisy.
type stackProber struct{ depth int }

func (p stackProber) Probe(context.Context) *probes.Result {
	useStack(p.depth)
	return &probes.Result{Start: time.Now(), Success: true}
}

// useStack recurses through kib frames of 1 KiB each.
//
//go:noinline
func useStack(kib int) byte {
	var frame [1024]byte
	frame[kib%len(frame)] = byte(kib)
	if kib <= 1 {
		return frame[0]
	}
	return useStack(kib-1) + frame[kib%len(frame)]
}

// BenchmarkStackGrowth is BenchmarkSchedule with probers that use 16 or
// 32 KiB of stack per run: what a run pays for the stack it needs on the
// goroutine it is given (a fresh, small one per gocron task, or a worker's
// already grown one).
func BenchmarkStackGrowth(b *testing.B) {
	const jobs, interval = 10000, time.Second
	for _, kib := range []int{16, 32} {
		b.Run(fmt.Sprintf("jobs=%d/interval=%v/stack=%dKiB", jobs, interval, kib), func(b *testing.B) {
			s, err := schedule.New(schedule.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := s.Stop(context.Background()); err != nil {
					b.Errorf("stop: %v", err)
				}
			}()
			var runs atomic.Int64
			specs := make([]schedule.Spec, jobs)
			for i := range specs {
				specs[i] = schedule.Spec{ID: fmt.Sprintf("s/f%05d/c", i), Interval: interval, Timeout: interval / 2,
					Fingerprint: "stack", Build: func() (probes.Prober, error) { return stackProber{depth: kib}, nil },
					OnResult: func(*probes.Result) { runs.Add(1) }}
			}
			if _, err := s.Apply(specs); err != nil {
				b.Fatal(err)
			}
			measureRuns(b, &runs, float64(jobs)/interval.Seconds())
		})
	}
}
