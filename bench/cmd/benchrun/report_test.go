package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/bench/internal/expo"
	"github.com/vigil-monitoring/vigil/bench/internal/stats"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFmtSum(t *testing.T) {
	tests := []struct {
		s    stats.Summary
		want string
	}{
		{stats.Summary{}, "n/a"},
		{stats.Summary{N: 1, Median: 0.25, Min: 0.25, Max: 0.25}, "0.25"},
		{stats.Summary{N: 3, Median: 0.25, Min: 0.2, Max: 0.31}, "0.25 [0.20–0.31]"},
	}
	for _, tt := range tests {
		if got := fmtSum(tt.s, "%.2f"); got != tt.want {
			t.Errorf("fmtSum(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestRenderResults renders a made-up run: every section, the goals' verdicts
// and the ratios taken per repetition.
func TestRenderResults(t *testing.T) {
	hist := []expo.Bucket{{UpperBound: 0.001, Count: 90}, {UpperBound: 0.01, Count: 99}, {UpperBound: 0.025, Count: 100}, {UpperBound: math.Inf(1), Count: 100}}
	vigil := func(cpu float64) *vigilResult {
		return &vigilResult{Checks: 10100, Rate: 1003.3, CPUPer1000: cpu, FirstPlanned: 10000, SpanPlanned: 20000,
			RSS: 50 << 20, LatenessExact: []float64{0.0005, 0.002, 0.004}, LatenessFirst: []float64{0.03}, LatenessHist: hist,
			FidelityErrors: []float64{0.0005, 0.0008, 0.0011},
			FidelityPhases: []map[string]float64{
				{"connect": 0.0001, "processing": 0.0502, "transfer": 0, "other": 0.0002},
				{"connect": 0.0001, "processing": 0.0505, "transfer": 0, "other": 0.0002},
				{"connect": 0.0003, "processing": 0.0506, "transfer": 0, "other": 0.0002},
			},
			Exposition: []exposition{{Name: "/metrics text 0.0.4", Seconds: []float64{0.08}, CPUSeconds: []float64{0.09}, Bytes: 1 << 20}}}
	}
	peer := func(cpu float64) *peerResult {
		return &peerResult{Rate: 1003.3, CPUPer1000: cpu, Planned: 20000, Completed: 20000, FidelityErrors: []float64{0.001},
			TargetCPUPer1000: 0.12, Around: aroundWindow{IdleShare: 0.31}}
	}
	r := &results{
		Plan:    quickPlan(),
		Started: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC),
		Command: "BENCH_QUICK=1 bench/run.sh",
		HTTP: map[int][]httpRep{10000: {
			{Vigil: vigil(0.20), Blackbox: peer(0.80), Floor: peer(0.19)},
			{Vigil: vigil(0.22), Blackbox: peer(0.70), Floor: peer(0.20)},
		}},
		Idle: []idleRep{{Vigil: vigil(0), Blackbox: peer(0)}},
		DNS:  []dnsRep{{Vigil: vigil(0.1), Blackbox: peer(0.5), Floor: peer(0.08)}},
		Connect: map[string][]connectRep{
			"tcp":  {{Vigil: vigil(0.1), Blackbox: peer(0.5)}, {Vigil: vigil(0.1), Blackbox: peer(0.4)}, {Vigil: vigil(0.2), Blackbox: peer(0.5)}},
			"icmp": {{Vigil: vigil(0.05), Blackbox: peer(0.25)}},
		},
		GoBench: "BenchmarkProbe-2 1000 200000 ns/op",
		Targets: targetLayout{Processes: 1, Listeners: 32, MaxRate: 1003.3, PairRate: 1003.3 / 32},
	}
	out := renderResults(r)
	for _, want := range []string{
		"`BENCH_QUICK=1 bench/run.sh`",
		"| CPU per HTTP probe <= 0.3x blackbox_exporter (n=10000) | 0.28x [0.25x–0.31x] | met by the median, not by every repetition |",
		"| CPU per HTTP probe <= 1.2x the floor (n=10000) | 1.08x [1.05x–1.10x] | met |",
		"| CPU per DNS probe <= 0.3x blackbox_exporter | 0.20x | met |",
		"first interval: 0 of 20000 runs missed; steady window: 0 missed | met |",
		"| fidelity error p99 < 2 ms under load (n=10000) | 1.100 ms (6 runs) | met |",
		"| /metrics at 10000 checks in < 100 ms | 80 ms | met |",
		"every run in the windows (histogram): 1.00% over 10 ms, p99 ~10.000 ms; last run of each check (exact): p99 4.000 ms | met |",
		"| HTTP, 10000 checks at 10s | 0 / 20000 | 0 / 40000 | 2.000 | 4.000 | 4.000 | 6 | 0.556 | 10.000 | 2 of 200 |",
		"| 30.000 | 30.000 |",
		"| 10000 | Vigil | 1003.3 | 0.210 [0.200–0.220] | 1.0000 |",
		"| 10000 | 0.28 [0.25–0.31] | 1.08 [1.05–1.10] | 3.86 [3.50–4.21] |",
		// The targets' CPU and the machine's idle share beside each prober.
		"| 10000 | blackbox_exporter | 1003.3 | 0.750 [0.700–0.800] | 1.000 | 0 | 0.0 | | 0.120 | 31 | 0 |",
		"Vigil's metrics profile: standard (the agent's default; none set) at 10000 checks.",
		"| HTTP target | net/http; 32 listeners (127.0.0.2-9, 4 ports each) in 1 process(es), at most 31 new connections/s on one address/port pair at the plan's highest rate (1003/s);",
		"BenchmarkProbe-2 1000 200000 ns/op",
		// Issue 18: ratios per repetition, 0.2x, 0.25x and 0.4x.
		"| CPU per TCP connect <= 0.3x blackbox_exporter | 0.25x [0.20x–0.40x] | met by the median, not by every repetition |",
		"| CPU per ICMP echo <= 0.3x blackbox_exporter | 0.20x | met |",
		"| TCP connect | blackbox_exporter | 0.500 [0.400–0.500] | 1.000 | 0 | 0.0 |",
		// Six runs pooled from two repetitions: connect p50 0.1 ms, p99 0.3.
		"| load, 10000 checks | 0.100 / 0.300 | 0.500 / 0.600 | 0.000 / 0.000 | 0.200 / 0.200 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("results lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestCountStalls counts the gaps of a clock that jumps three times.
func TestCountStalls(t *testing.T) {
	at := time.Unix(1000, 0)
	reads := 0
	clock := func() time.Time {
		reads++
		switch reads {
		case 100:
			at = at.Add(2 * time.Millisecond)
		case 200:
			at = at.Add(5 * time.Millisecond)
		case 300:
			at = at.Add(stallMin) // not over stallMin: no stall
		default:
			at = at.Add(10 * time.Microsecond)
		}
		return at
	}
	got := countStalls(20*time.Millisecond, clock)
	if got.Count != 2 || got.Longest != 5*time.Millisecond {
		t.Errorf("countStalls = %+v, want 2 gaps, the longest 5ms", got)
	}
}

// TestRenderSizing renders the sizing part of a made-up run: each size's
// row, and the marginal cost of a check between them from the medians.
func TestRenderSizing(t *testing.T) {
	run := func(n int, cpu float64, rss int64, heap float64) *vigilResult {
		return &vigilResult{Checks: n, Profile: "basic", StartupSeconds: 2.5, Rate: float64(n) / 10, WindowSeconds: 10, CPUSeconds: cpu,
			CPUPer1000: cpu / float64(n) * 10 * 1000 / 10, WindowPlanned: int64(n), SpanPlanned: int64(n),
			RSS: rss, RSSAnon: rss - 20<<20, Runtime: runtimeStats{HeapInuse: heap, StackInuse: 1 << 20, Goroutines: 40},
			LatenessExact: []float64{0.001, 0.002}, Around: aroundWindow{TargetCPUSeconds: 2, IdleShare: 0.5, ListenDrops: int64(n / 10000)}}
	}
	r := &results{Plan: quickPlan(), Sizing: map[int][]*vigilResult{
		// Medians: 100 MiB and 1.5 s at 10,000; 420 MiB and 5.5 s at 50,000.
		10000: {run(10000, 1.5, 100<<20, 50<<20), run(10000, 1.4, 90<<20, 48<<20), run(10000, 1.6, 110<<20, 52<<20)},
		50000: {run(50000, 5.5, 420<<20, 250<<20)},
		30000: {run(30000, 3.5, 260<<20, 150<<20)},
	}}
	m := marginal(r.Sizing[10000], r.Sizing[50000])
	// 320 MiB over 40,000 checks: 8.192 KiB each; 0.4 cores: 0.01 ms/s each.
	if m.From != 10000 || m.To != 50000 || math.Abs(m.RSS-320*(1<<20)/40000.0) > 1e-6 ||
		math.Abs(m.Heap-200*(1<<20)/40000.0) > 1e-6 || math.Abs(m.Cores-0.4/40000) > 1e-12 || math.Abs(m.CPUPer1000-0.1) > 1e-9 {
		t.Errorf("marginal = %+v", m)
	}
	out := renderResults(r)
	if strings.Contains(out, "## 1-2.") || strings.Contains(out, "## 6.") {
		t.Error("a sizing-only run renders the HTTP comparison's sections")
	}
	for _, want := range []string{
		"## 8. Marginal cost of a check (sizing, issue 22)",
		"| 10000 | basic | 2.50 | 1000.0 | 0.150 [0.140–0.160] | 0.150 [0.140–0.160] | 1.0000 | 0 | 100.0 [90.0–110.0] | 80.0 [70.0–90.0] | 50.0 [48.0–52.0] | 1.0 | 40 | 2.000 | 0.200 | 50 | 0 |",
		"| 50000 | basic | 2.50 | 5000.0 | 0.550 | 0.110 |",
		"- n=50000 rep 1 Vigil: listeners dropped 5 connections in the window (TcpExt ListenDrops): the targets did not keep up",
		"- n=10000 rep 3 Vigil: listeners dropped 1 connections in the window",
		"Per 1,000 checks, step by step: 10000 to 30000: 0.010 cores and 8.0 MiB; 30000 to 50000: 0.010 cores and 8.0 MiB.",
		"Per check added between 10000 and 50000 (medians): RSS 8.2 KiB (anonymous 8.2 KiB), heap in use 5.1 KiB, stacks 0.0 KiB; CPU 0.010 ms per second at one run every 10s, 0.100 s per 1,000 added runs. **Per 1,000 checks at 10s: 0.010 cores and 8.0 MiB RSS.**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("results lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
