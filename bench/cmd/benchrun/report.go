package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/expo"
	"github.com/vigil-monitoring/vigil/bench/internal/stats"
	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

// fmtSum prints a summary as "median [min–max]" with format f per number.
func fmtSum(s stats.Summary, f string) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ["+f+"–"+f+"]", s.Median, s.Min, s.Max)
}

func collect[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func ms(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x*1000)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// ratioVerdict judges a ratio goal on the median, saying so when some
// repetitions fell on the other side.
func ratioVerdict(s stats.Summary, goal float64) string {
	switch {
	case s.N == 0:
		return "n/a"
	case s.Median <= goal && s.Max <= goal:
		return "met"
	case s.Median <= goal:
		return "met by the median, not by every repetition"
	case s.Min <= goal:
		return "**missed** by the median (met by some repetitions)"
	}
	return "**missed**"
}

func kib(b float64) string { return fmt.Sprintf("%.1f", b/1024) }

// pooled concatenates one sample slice of every repetition.
func pooled[T, E any](xs []T, f func(T) []E) []E {
	var out []E
	for _, x := range xs {
		out = append(out, f(x)...)
	}
	return out
}

// sumBuckets adds histograms with the same bounds.
func sumBuckets(hs [][]expo.Bucket) []expo.Bucket {
	var out []expo.Bucket
	for _, h := range hs {
		if out == nil {
			out = slices.Clone(h)
			continue
		}
		if len(h) != len(out) {
			continue
		}
		for i := range h {
			out[i].Count += h[i].Count
		}
	}
	return out
}

func renderResults(r *results) string {
	var b strings.Builder
	p := r.Plan
	mode := "full"
	if p.Quick {
		mode = "quick (BENCH_QUICK=1): one repetition, short windows; a smoke run, not the figures of record"
	}
	fmt.Fprintf(&b, "# Benchmark results\n\nWritten by `bench/cmd/benchrun` (see `bench/README.md` for the method).\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| command | `%s` |\n", r.Command)
	fmt.Fprintf(&b, "| date | %s (took %s) |\n", r.Started.Format(time.RFC3339), r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "| mode | %s; %d repetition(s) |\n", mode, p.Reps)
	m := r.Machine
	fmt.Fprintf(&b, "| machine | %d CPUs, %s, %s RAM, Linux %s |\n", m.CPUs, m.CPUModel, m.MemTotal, m.Kernel)
	fmt.Fprintf(&b, "| load average | %s at start, %s at end (the machine is shared: other load inflates every figure alike) |\n", m.LoadStart, r.LoadAfter)
	fmt.Fprintf(&b, "| stalls at idle | a thread that only reads the clock for %v, before the load: %d gaps over %v, the longest %.1f ms (the machine stopping it; no prober's error can be smaller) |\n",
		stallWindow, m.Stalls.Count, stallMin, float64(m.Stalls.Longest)/1e6)
	fmt.Fprintf(&b, "| software | %s; %s; harness %s |\n", m.Vigil, m.Blackbox, m.GoVersion)
	if t := r.Targets; t.Listeners > 0 {
		kind := "net/http"
		if t.Raw {
			kind = "a canned response, then close (`target -raw`)"
		}
		fmt.Fprintf(&b, "| HTTP target | %s; %d listeners (127.0.0.2-9, %d ports each) in %d process(es), at most %.0f new connections/s on one address/port pair at the plan's highest rate (%.0f/s); the 50 ms target on 127.0.0.10 in a process of its own |\n",
			kind, t.Listeners, t.Listeners/httpHosts, t.Processes, t.PairRate, t.MaxRate)
	}
	fmt.Fprintf(&b, "| windows | HTTP %v per run (floor %v), checks every %v, blackbox warm-up %v; DNS %v; fidelity checks: %d at %v |\n\n",
		p.Window, p.FloorWindow, p.Interval, p.Warmup, p.DNSWindow, p.Fidelity, p.FidelityInterval)
	b.WriteString("Figures are `median [min–max]` over the repetitions; ratios are taken within each repetition (the three programs measured back to back, order rotated) and then summarised.\n\n")

	ns := slices.Sorted(func(yield func(int) bool) {
		for n := range r.HTTP {
			if !yield(n) {
				return
			}
		}
	})
	writeGoals(&b, r, ns)
	if len(ns) > 0 {
		writeThroughput(&b, r, ns)
	}
	if len(ns) > 0 || len(r.DNS) > 0 {
		writeScheduling(&b, r, ns)
	}
	if len(ns) > 0 || len(r.Idle) > 0 {
		writeFidelity(&b, r, ns)
	}
	writeDNS(&b, r)
	writeConnect(&b, r)
	if len(ns) > 0 {
		writeExposition(&b, r, ns)
	}
	writeSizing(&b, r)
	writeGoBench(&b, r)
	return b.String()
}

func writeGoals(b *strings.Builder, r *results, ns []int) {
	b.WriteString("## Goals (issue 7)\n\n| goal | measured | |\n|---|---|---|\n")
	for _, n := range ns {
		reps := r.HTTP[n]
		vb := stats.Summarize(collect(reps, func(x httpRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Blackbox.CPUPer1000) }))
		vf := stats.Summarize(collect(reps, func(x httpRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Floor.CPUPer1000) }))
		fmt.Fprintf(b, "| CPU per HTTP probe <= 0.3x blackbox_exporter (n=%d) | %s | %s |\n", n, fmtSum(vb, "%.2fx"), ratioVerdict(vb, 0.3))
		fmt.Fprintf(b, "| CPU per HTTP probe <= 1.2x the floor (n=%d) | %s | %s |\n", n, fmtSum(vf, "%.2fx"), ratioVerdict(vf, 1.2))
	}
	if len(r.DNS) > 0 {
		db := stats.Summarize(collect(r.DNS, func(x dnsRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Blackbox.CPUPer1000) }))
		fmt.Fprintf(b, "| CPU per DNS probe <= 0.3x blackbox_exporter | %s | %s |\n", fmtSum(db, "%.2fx"), ratioVerdict(db, 0.3))
	}
	if len(ns) == 0 {
		b.WriteString("\n")
		return
	}
	top := ns[len(ns)-1]
	reps := r.HTTP[top]
	var firstMissed, firstPlanned, spanMissed int64
	for _, x := range reps {
		firstMissed += x.Vigil.FirstMissed
		firstPlanned += x.Vigil.FirstPlanned
		spanMissed += x.Vigil.SpanMissed
	}
	fmt.Fprintf(b, "| %d checks at %v: every planned run executed from the first interval | first interval: %d of %d runs missed; steady window: %d missed | %s |\n",
		top, r.Plan.Interval, firstMissed, firstPlanned, spanMissed, verdict(firstMissed == 0 && spanMissed == 0))
	late := pooled(reps, func(x httpRep) []float64 { return x.Vigil.LatenessExact })
	p99 := stats.Quantile(late, 0.99)
	h := sumBuckets(collect2(reps, func(x httpRep) []expo.Bucket { return x.Vigil.LatenessHist }))
	var over, total float64
	if len(h) > 0 {
		over, total = expo.CountAbove(0.010, h), h[len(h)-1].Count
	}
	fmt.Fprintf(b, "| lateness p99 < 10 ms (n=%d) | every run in the windows (histogram): %.2f%% over 10 ms, p99 ~%s ms; last run of each check (exact): p99 %s ms | %s |\n",
		top, 100*ratio(over, total), ms(expo.Quantile(0.99, h)), ms(p99), verdict(total > 0 && over <= total/100 && p99 < 0.010))
	perCheck := stats.Summarize(collect(reps, func(x httpRep) float64 { return float64(x.Vigil.RSS) / float64(x.Vigil.Checks) }))
	fmt.Fprintf(b, "| RSS < 10 KiB per check with SLA state (n=%d, one feature per check) | %s KiB | %s |\n", top,
		fmtSum(stats.Summary{N: perCheck.N, Median: perCheck.Median / 1024, Min: perCheck.Min / 1024, Max: perCheck.Max / 1024}, "%.1f"), verdict(perCheck.Max < 10*1024))
	fid := pooled(reps, func(x httpRep) []float64 { return x.Vigil.FidelityErrors })
	fp99 := stats.Quantile(fid, 0.99)
	fmt.Fprintf(b, "| fidelity error p99 < 2 ms under load (n=%d) | %s ms (%d runs) | %s |\n", top, ms(fp99), len(fid), verdict(fp99 < 0.002))
	var metricsTimes []float64
	for _, x := range reps {
		for _, e := range x.Vigil.Exposition {
			if strings.HasPrefix(e.Name, "/metrics text") {
				metricsTimes = append(metricsTimes, e.Seconds...)
			}
		}
	}
	mt := stats.Summarize(metricsTimes)
	fmt.Fprintf(b, "| /metrics at %d checks in < 100 ms | %s ms | %s |\n\n", top,
		fmtSum(stats.Summary{N: mt.N, Median: mt.Median * 1000, Min: mt.Min * 1000, Max: mt.Max * 1000}, "%.0f"), verdict(mt.N > 0 && mt.Max < 0.1))
}

// executed is the share of the runs planned between two scrapes that ran:
// exact per check from vigil_check_runs_total, whenever the scrapes' snapshots
// were taken inside them.
func executed(x *vigilResult) float64 {
	return ratio(float64(x.SpanPlanned-x.SpanMissed), float64(x.SpanPlanned))
}

func writeThroughput(b *strings.Builder, r *results, ns []int) {
	b.WriteString("## 1-2. HTTP throughput and cost\n\n")
	b.WriteString("CPU is user+system from `/proc/<pid>/stat` over the steady window, per 1,000 probe runs (Vigil: runs planned in the window less runs missed; blackbox_exporter: `/probe` answers received; floor: loop iterations). Vigil's window starts once the garbage of the scrape before it has settled, so exposition costs are not counted as probe costs (they are in section 6). Executed / planned for Vigil is per check from `vigil_check_runs_total`; for the others, answers over the requests due at the driven rate. Memory is VmRSS at the end of the window (after one scrape).\n\n")
	b.WriteString("The targets' CPU is that of every target process (`/proc/<pid>/stat`) over the same window, per 1,000 of the prober's runs; machine idle is the share of both CPUs' time left idle then (`/proc/stat`): near 0, the machine was saturated and lateness and failures are not the prober's alone. TIME_WAIT is the machine's TCP sockets in that state at the window's end (`/proc/net/sockstat`; the kernel keeps at most `net.ipv4.tcp_max_tw_buckets`).\n\n")
	b.WriteString("| checks | program | planned/s | CPU s per 1,000 probes | executed / planned | failed | RSS MiB | RSS per check KiB | targets' CPU s per 1,000 | machine idle % | TIME_WAIT |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		reps := r.HTTP[n]
		v := func(f func(*vigilResult) float64) stats.Summary {
			return stats.Summarize(collect(reps, func(x httpRep) float64 { return f(x.Vigil) }))
		}
		fmt.Fprintf(b, "| %d | Vigil | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, reps[0].Vigil.Rate,
			fmtSum(v(func(x *vigilResult) float64 { return x.CPUPer1000 }), "%.3f"),
			fmtSum(v(executed), "%.4f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.SpanFailed) }), "%.0f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.RSS) / float64(x.Checks) / 1024 }), "%.2f"),
			fmtSum(v(func(x *vigilResult) float64 { return x.TargetCPUPer1000 }), "%.3f"),
			fmtSum(v(func(x *vigilResult) float64 { return 100 * x.Around.IdleShare }), "%.0f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.Around.TimeWait) }), "%.0f"))
		for _, peer := range []struct {
			name string
			get  func(httpRep) *peerResult
		}{{"blackbox_exporter", func(x httpRep) *peerResult { return x.Blackbox }}, {"floor (bare loop)", func(x httpRep) *peerResult { return x.Floor }}} {
			g := func(f func(*peerResult) float64) stats.Summary {
				return stats.Summarize(collect(reps, func(x httpRep) float64 { return f(peer.get(x)) }))
			}
			fmt.Fprintf(b, "| %d | %s | %.1f | %s | %s | %s | %s | | %s | %s | %s |\n", n, peer.name, peer.get(reps[0]).Rate,
				fmtSum(g(func(x *peerResult) float64 { return x.CPUPer1000 }), "%.3f"),
				fmtSum(g(func(x *peerResult) float64 { return ratio(float64(x.Completed), float64(x.Planned)) }), "%.3f"),
				fmtSum(g(func(x *peerResult) float64 { return float64(x.Failed + x.Errors + x.Skipped) }), "%.0f"),
				fmtSum(g(func(x *peerResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"),
				fmtSum(g(func(x *peerResult) float64 { return x.TargetCPUPer1000 }), "%.3f"),
				fmtSum(g(func(x *peerResult) float64 { return 100 * x.Around.IdleShare }), "%.0f"),
				fmtSum(g(func(x *peerResult) float64 { return float64(x.Around.TimeWait) }), "%.0f"))
		}
	}
	var profiles []string
	for _, n := range ns {
		profiles = append(profiles, fmt.Sprintf("%s at %d checks", profileName(r.HTTP[n][0].Vigil.Profile), n))
	}
	fmt.Fprintf(b, "\nVigil's metrics profile: %s.\n", strings.Join(profiles, ", "))
	b.WriteString("\n| checks | Vigil / blackbox_exporter | Vigil / floor | blackbox_exporter / floor |\n|---|---|---|---|\n")
	for _, n := range ns {
		reps := r.HTTP[n]
		rs := func(f func(httpRep) float64) string { return fmtSum(stats.Summarize(collect(reps, f)), "%.2f") }
		fmt.Fprintf(b, "| %d | %s | %s | %s |\n", n,
			rs(func(x httpRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Blackbox.CPUPer1000) }),
			rs(func(x httpRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Floor.CPUPer1000) }),
			rs(func(x httpRep) float64 { return ratio(x.Blackbox.CPUPer1000, x.Floor.CPUPer1000) }))
	}
	if len(ns) >= 2 {
		lo, hi := r.HTTP[ns[0]], r.HTTP[ns[len(ns)-1]]
		rssLo := stats.Summarize(collect(lo, func(x httpRep) float64 { return float64(x.Vigil.RSS) })).Median
		rssHi := stats.Summarize(collect(hi, func(x httpRep) float64 { return float64(x.Vigil.RSS) })).Median
		dn := float64(hi[0].Vigil.Checks - lo[0].Vigil.Checks)
		fmt.Fprintf(b, "\nMarginal memory per check (median RSS at %d checks minus at %d, over the checks added): %s KiB.\n", ns[len(ns)-1], ns[0], kib((rssHi-rssLo)/dn))
	}
	var startups []string
	for _, n := range ns {
		startups = append(startups, fmt.Sprintf("%s s at %d checks", fmtSum(stats.Summarize(collect(r.HTTP[n], func(x httpRep) float64 { return x.Vigil.StartupSeconds })), "%.2f"), n))
	}
	fmt.Fprintf(b, "\nStartup (process start to ready): %s.\n", strings.Join(startups, ", "))
	b.WriteString("\nVigil's Go runtime at the end of the window (from its own `go_*` series; median over repetitions):\n\n")
	b.WriteString("| checks | heap in use MiB | stacks MiB | goroutines | heap+stacks per check KiB | RSS / (heap+stacks) | RSS anon / file MiB | GC cycles in window |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		reps := r.HTTP[n]
		med := func(f func(*vigilResult) float64) float64 {
			return stats.Summarize(collect(reps, func(x httpRep) float64 { return f(x.Vigil) })).Median
		}
		heap := med(func(v *vigilResult) float64 { return v.Runtime.HeapInuse })
		stack := med(func(v *vigilResult) float64 { return v.Runtime.StackInuse })
		fmt.Fprintf(b, "| %d | %.1f | %.1f | %.0f | %.1f | %.2f | %.1f / %.1f | %.0f |\n", n, heap/(1<<20), stack/(1<<20),
			med(func(v *vigilResult) float64 { return v.Runtime.Goroutines }),
			(heap+stack)/float64(reps[0].Vigil.Checks)/1024,
			med(func(v *vigilResult) float64 { return ratio(float64(v.RSS), v.Runtime.HeapInuse+v.Runtime.StackInuse) }),
			med(func(v *vigilResult) float64 { return float64(v.RSSAnon) / (1 << 20) }),
			med(func(v *vigilResult) float64 { return float64(v.RSSFile) / (1 << 20) }),
			med(func(v *vigilResult) float64 { return v.GCCycles }))
	}
	var notes []string
	for _, n := range ns {
		for i, x := range r.HTTP[n] {
			for _, f := range x.Vigil.Failures {
				notes = append(notes, fmt.Sprintf("n=%d rep %d Vigil: %s", n, i+1, f))
			}
			notes = append(notes, listenNotes(fmt.Sprintf("n=%d rep %d Vigil", n, i+1), x.Vigil.Around)...)
			notes = append(notes, listenNotes(fmt.Sprintf("n=%d rep %d blackbox_exporter", n, i+1), x.Blackbox.Around)...)
			notes = append(notes, listenNotes(fmt.Sprintf("n=%d rep %d floor", n, i+1), x.Floor.Around)...)
			for name, pr := range map[string]*peerResult{"blackbox_exporter": x.Blackbox, "floor": x.Floor} {
				if pr.FirstError != "" {
					notes = append(notes, fmt.Sprintf("n=%d rep %d %s: %d failed, %d errors, %d skipped; first: %s", n, i+1, name, pr.Failed, pr.Errors, pr.Skipped, pr.FirstError))
				}
			}
		}
	}
	writeNotes(b, notes)
	b.WriteString("\n")
}

func writeNotes(b *strings.Builder, notes []string) {
	if len(notes) == 0 {
		return
	}
	slices.Sort(notes)
	b.WriteString("\nFailures seen:\n\n")
	for _, n := range notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
}

func writeScheduling(b *strings.Builder, r *results, ns []int) {
	b.WriteString("## 3. Scheduling precision\n\n")
	b.WriteString("Missed runs are counted per check from `vigil_check_runs_total`: runs due (by the agent's own slot formula) between ready and the first scrape one interval later, and between the scrapes around the window, that had not run. Exact lateness: each check's last run start (`vigil_check_last_run_timestamp_seconds`) minus its slot, read at the scrape ending the window (steady state; every check once) and at the first scrape (each check's first run, during startup). Histogram: `vigil_schedule_lateness_seconds` over the window, quantiles interpolated as `histogram_quantile` does (buckets 0.1, 0.5, 1, 2.5, 5, 10, 25 ms, ...); the max is known only from the exact samples.\n\n")
	b.WriteString("| workload | first interval: missed / planned | window: missed / planned | steady p50 ms | steady p99 ms | steady max ms | samples | histogram p50 ms | histogram p99 ms | runs > 10 ms (histogram) | first runs p99 ms | first runs max ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, vs []*vigilResult) {
		var fm, fp, sm, sp int64
		var late, first []float64
		var hs [][]expo.Bucket
		for _, v := range vs {
			fm += v.FirstMissed
			fp += v.FirstPlanned
			sm += v.SpanMissed
			sp += v.SpanPlanned
			late = append(late, v.LatenessExact...)
			first = append(first, v.LatenessFirst...)
			hs = append(hs, v.LatenessHist)
		}
		h := sumBuckets(hs)
		over := expo.CountAbove(0.010, h)
		total := 0.0
		if len(h) > 0 {
			total = h[len(h)-1].Count
		}
		fmt.Fprintf(b, "| %s | %d / %d | %d / %d | %s | %s | %s | %d | %s | %s | %.0f of %.0f | %s | %s |\n", name, fm, fp, sm, sp,
			ms(stats.Quantile(late, 0.5)), ms(stats.Quantile(late, 0.99)), ms(stats.Max(late)), len(late),
			ms(expo.Quantile(0.5, h)), ms(expo.Quantile(0.99, h)), over, total,
			ms(stats.Quantile(first, 0.99)), ms(stats.Max(first)))
	}
	for _, n := range ns {
		row(fmt.Sprintf("HTTP, %d checks at %v", n, r.Plan.Interval), collect2(r.HTTP[n], func(x httpRep) *vigilResult { return x.Vigil }))
	}
	if len(r.DNS) > 0 {
		row(fmt.Sprintf("DNS, %d checks at %v", r.Plan.DNSChecks, r.Plan.DNSInterval), collect2(r.DNS, func(x dnsRep) *vigilResult { return x.Vigil }))
	}
	b.WriteString("\n")
}

func collect2[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func writeFidelity(b *strings.Builder, r *results, ns []int) {
	b.WriteString("## 4. Measurement fidelity\n\n")
	fmt.Fprintf(b, "A target that answers exactly 50 ms after it read the request (in a target process of its own, 127.0.0.10, so that the bulk target's thousand requests a second do not delay it; it sleeps on a timer until 1.5 ms before the answer is due and watches the clock from there, since Go's timers fire up to a millisecond late). Error = measured duration - 50 ms. Vigil: each run's exact duration from `vigil_check_duration_seconds_sum` between two scrapes that saw one run. blackbox_exporter: `probe_duration_seconds`. Idle: only the %d fidelity checks, every %v. Under load: the same checks (every %v) inside the full HTTP load. The error includes the real connection setup and the target's own scheduling delay, the same for both. A bare client (the floor loop, in its own process, 10 requests/s) asks the same target during each measurement: its error is the machine's and the target's share, the rest is the prober's.\n\n",
		r.Plan.Fidelity, r.Plan.IdleInterval, r.Plan.FidelityInterval)
	b.WriteString("| program | condition | samples | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n")
	row := func(prog, cond string, xs []float64) {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s |\n", prog, cond, len(xs), ms(stats.Quantile(xs, 0.5)), ms(stats.Quantile(xs, 0.99)), ms(stats.Max(xs)))
	}
	const bare = "bare client alongside"
	row("Vigil", "idle", pooled(r.Idle, func(x idleRep) []float64 { return x.Vigil.FidelityErrors }))
	row(bare, "Vigil idle", pooled(r.Idle, func(x idleRep) []float64 { return x.Vigil.BareFidelityErrors }))
	for _, n := range ns {
		row("Vigil", fmt.Sprintf("load, %d checks", n), pooled(r.HTTP[n], func(x httpRep) []float64 { return x.Vigil.FidelityErrors }))
		row(bare, fmt.Sprintf("Vigil, %d checks", n), pooled(r.HTTP[n], func(x httpRep) []float64 { return x.Vigil.BareFidelityErrors }))
	}
	row("blackbox_exporter", "idle", pooled(r.Idle, func(x idleRep) []float64 { return x.Blackbox.FidelityErrors }))
	row(bare, "blackbox_exporter idle", pooled(r.Idle, func(x idleRep) []float64 { return x.Blackbox.BareFidelityErrors }))
	for _, n := range ns {
		row("blackbox_exporter", fmt.Sprintf("load, %d targets", n), pooled(r.HTTP[n], func(x httpRep) []float64 { return x.Blackbox.FidelityErrors }))
		row(bare, fmt.Sprintf("blackbox_exporter, %d targets", n), pooled(r.HTTP[n], func(x httpRep) []float64 { return x.Blackbox.BareFidelityErrors }))
	}
	b.WriteString("\n")
	writeFidelityPhases(b, r, ns)
}

// writeFidelityPhases says where Vigil's fidelity error lies, from the phases
// of the same runs: connect, processing beyond the 50 ms, and "other" (before
// connecting and between connecting and sending the request).
func writeFidelityPhases(b *strings.Builder, r *results, ns []int) {
	b.WriteString("Where Vigil's error lies: the same runs' phases (`vigil_check_phase_duration_seconds`), p50 / p99 in ms; \"processing - 50 ms\" is the target's share and the network's, with the first byte's time from the kernel.\n\n")
	b.WriteString("| condition | connect | processing - 50 ms | transfer | other |\n|---|---|---|---|---|\n")
	row := func(cond string, phases []map[string]float64) {
		if len(phases) == 0 {
			return
		}
		fmt.Fprintf(b, "| %s |", cond)
		for _, name := range []string{"connect", "processing", "transfer", "other"} {
			xs := make([]float64, len(phases))
			for i, p := range phases {
				xs[i] = p[name]
				if name == "processing" {
					xs[i] -= target.SlowDelay.Seconds()
				}
			}
			fmt.Fprintf(b, " %s / %s |", ms(stats.Quantile(xs, 0.5)), ms(stats.Quantile(xs, 0.99)))
		}
		b.WriteString("\n")
	}
	row("idle", pooled(r.Idle, func(x idleRep) []map[string]float64 { return x.Vigil.FidelityPhases }))
	for _, n := range ns {
		row(fmt.Sprintf("load, %d checks", n), pooled(r.HTTP[n], func(x httpRep) []map[string]float64 { return x.Vigil.FidelityPhases }))
	}
	b.WriteString("\n")
}

func writeDNS(b *strings.Builder, r *results) {
	if len(r.DNS) == 0 {
		return
	}
	p := r.Plan
	fmt.Fprintf(b, "## 5. DNS\n\n%d A queries every %v over UDP to a miekg/dns server in its own process (bench/cmd/dnstarget, %d listeners).\n\n", p.DNSChecks, p.DNSInterval, 8)
	b.WriteString("| program | CPU s per 1,000 queries | executed / planned | failed | RSS MiB |\n|---|---|---|---|---|\n")
	v := func(f func(*vigilResult) float64) stats.Summary {
		return stats.Summarize(collect(r.DNS, func(x dnsRep) float64 { return f(x.Vigil) }))
	}
	fmt.Fprintf(b, "| Vigil | %s | %s | %s | %s |\n",
		fmtSum(v(func(x *vigilResult) float64 { return x.CPUPer1000 }), "%.3f"),
		fmtSum(v(executed), "%.4f"),
		fmtSum(v(func(x *vigilResult) float64 { return float64(x.SpanFailed) }), "%.0f"),
		fmtSum(v(func(x *vigilResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"))
	for _, peer := range []struct {
		name string
		get  func(dnsRep) *peerResult
	}{{"blackbox_exporter", func(x dnsRep) *peerResult { return x.Blackbox }}, {"floor (bare UDP exchange)", func(x dnsRep) *peerResult { return x.Floor }}} {
		g := func(f func(*peerResult) float64) stats.Summary {
			return stats.Summarize(collect(r.DNS, func(x dnsRep) float64 { return f(peer.get(x)) }))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", peer.name,
			fmtSum(g(func(x *peerResult) float64 { return x.CPUPer1000 }), "%.3f"),
			fmtSum(g(func(x *peerResult) float64 { return ratio(float64(x.Completed), float64(x.Planned)) }), "%.3f"),
			fmtSum(g(func(x *peerResult) float64 { return float64(x.Failed + x.Errors + x.Skipped) }), "%.0f"),
			fmtSum(g(func(x *peerResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"))
	}
	rs := func(f func(dnsRep) float64) string { return fmtSum(stats.Summarize(collect(r.DNS, f)), "%.2f") }
	fmt.Fprintf(b, "\nRatios: Vigil / blackbox_exporter %s; Vigil / floor %s.\n",
		rs(func(x dnsRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Blackbox.CPUPer1000) }),
		rs(func(x dnsRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Floor.CPUPer1000) }))
	var notes []string
	for i, x := range r.DNS {
		for _, f := range x.Vigil.Failures {
			notes = append(notes, fmt.Sprintf("rep %d Vigil: %s", i+1, f))
		}
		for name, pr := range map[string]*peerResult{"blackbox_exporter": x.Blackbox, "floor": x.Floor} {
			if pr.FirstError != "" {
				notes = append(notes, fmt.Sprintf("rep %d %s: %d failed, %d errors, %d skipped; first: %s", i+1, name, pr.Failed, pr.Errors, pr.Skipped, pr.FirstError))
			}
		}
	}
	writeNotes(b, notes)
	b.WriteString("\n")
}

func writeExposition(b *strings.Builder, r *results, ns []int) {
	b.WriteString("## 6. Exposition\n\nTimed from the request to the last byte over loopback, right after the steady window (probes still running); CPU is the agent's during the request, probes included.\n\n")
	b.WriteString("| checks | endpoint | time ms | bytes | agent CPU ms |\n|---|---|---|---|---|\n")
	for _, n := range ns {
		byName := map[string]*exposition{}
		var names []string
		for _, x := range r.HTTP[n] {
			for _, e := range x.Vigil.Exposition {
				agg := byName[e.Name]
				if agg == nil {
					agg = &exposition{Name: e.Name}
					byName[e.Name] = agg
					names = append(names, e.Name)
				}
				agg.Seconds = append(agg.Seconds, e.Seconds...)
				agg.CPUSeconds = append(agg.CPUSeconds, e.CPUSeconds...)
				agg.Bytes = e.Bytes
			}
		}
		for _, name := range names {
			e := byName[name]
			t, c := stats.Summarize(e.Seconds), stats.Summarize(e.CPUSeconds)
			scale := func(s stats.Summary) stats.Summary {
				return stats.Summary{N: s.N, Median: s.Median * 1000, Min: s.Min * 1000, Max: s.Max * 1000}
			}
			fmt.Fprintf(b, "| %d | %s | %s | %d | %s |\n", n, name, fmtSum(scale(t), "%.0f"), e.Bytes, fmtSum(scale(c), "%.0f"))
		}
	}
	b.WriteString("\n")
}

func writeGoBench(b *strings.Builder, r *results) {
	if r.GoBench == "" {
		return
	}
	b.WriteString("## Go benchmarks (issue 2)\n\nThe probes' own benchmarks and the harness's in-process ones, run by `bench/run.sh` before the comparison (the commands are in the output's header lines):\n\n```\n")
	b.WriteString(strings.TrimSpace(r.GoBench))
	b.WriteString("\n```\n")
}

// profileName names a run's metrics profile, "" being the agent's default.
func profileName(p string) string {
	if p == "" {
		return "standard (the agent's default; none set)"
	}
	return p
}

// marginalCost is what a check added between two sizes costs, from the
// medians of the runs at each.
type marginalCost struct {
	From, To int
	// Per added check: bytes of RSS, of anonymous RSS, of heap and stacks in
	// use (the agent's go_* series).
	RSS, RSSAnon, Heap, Stacks float64
	// Cores is the agent's CPU (seconds per second) per added check;
	// CPUPer1000 its CPU seconds per 1,000 added runs.
	Cores, CPUPer1000 float64
}

// marginal is the cost of the checks added between the runs at lo and at hi.
func marginal(lo, hi []*vigilResult) marginalCost {
	med := func(xs []*vigilResult, f func(*vigilResult) float64) float64 {
		return stats.Summarize(collect(xs, f)).Median
	}
	m := marginalCost{From: lo[0].Checks, To: hi[0].Checks}
	dn := float64(m.To - m.From)
	per := func(f func(*vigilResult) float64) float64 { return (med(hi, f) - med(lo, f)) / dn }
	m.RSS = per(func(v *vigilResult) float64 { return float64(v.RSS) })
	m.RSSAnon = per(func(v *vigilResult) float64 { return float64(v.RSSAnon) })
	m.Heap = per(func(v *vigilResult) float64 { return v.Runtime.HeapInuse })
	m.Stacks = per(func(v *vigilResult) float64 { return v.Runtime.StackInuse })
	m.Cores = per(cores)
	if dr := hi[0].Rate - lo[0].Rate; dr > 0 {
		m.CPUPer1000 = (med(hi, cores) - med(lo, cores)) / dr * 1000
	}
	return m
}

// cores is the agent's CPU over its window in seconds per second.
func cores(v *vigilResult) float64 { return ratio(v.CPUSeconds, v.WindowSeconds) }

// writeSizing renders the sizing part: Vigil alone at each size, and the
// marginal cost of a check between the smallest and the largest.
func writeSizing(b *strings.Builder, r *results) {
	if len(r.Sizing) == 0 {
		return
	}
	ns := slices.Sorted(maps.Keys(r.Sizing))
	p := r.Plan
	fmt.Fprintf(b, "## 8. Marginal cost of a check (sizing, issue 22)\n\nVigil alone (no peer running), N HTTP checks every %v, one check per feature, no fidelity checks, %v steady window per run, measured as in section 1. Agent CPU in cores is its CPU seconds over the window's seconds; heap and stacks are its `go_*` series at the scrape ending the window.\n\n", p.Interval, p.SizingWindow)
	b.WriteString("| checks | profile | startup s | planned/s | agent CPU cores | CPU s per 1,000 probes | executed / planned | failed | RSS MiB | RSS anon MiB | heap in use MiB | stacks MiB | goroutines | lateness p99 ms (exact) | targets' CPU cores | machine idle % | TIME_WAIT |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		vs := r.Sizing[n]
		v := func(f func(*vigilResult) float64) stats.Summary { return stats.Summarize(collect(vs, f)) }
		mib := func(f func(*vigilResult) float64) string {
			return fmtSum(v(func(x *vigilResult) float64 { return f(x) / (1 << 20) }), "%.1f")
		}
		late := pooled(vs, func(x *vigilResult) []float64 { return x.LatenessExact })
		fmt.Fprintf(b, "| %d | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, profileName(vs[0].Profile),
			fmtSum(v(func(x *vigilResult) float64 { return x.StartupSeconds }), "%.2f"), vs[0].Rate,
			fmtSum(v(cores), "%.3f"),
			fmtSum(v(func(x *vigilResult) float64 { return x.CPUPer1000 }), "%.3f"),
			fmtSum(v(executed), "%.4f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.SpanFailed) }), "%.0f"),
			mib(func(x *vigilResult) float64 { return float64(x.RSS) }),
			mib(func(x *vigilResult) float64 { return float64(x.RSSAnon) }),
			mib(func(x *vigilResult) float64 { return x.Runtime.HeapInuse }),
			mib(func(x *vigilResult) float64 { return x.Runtime.StackInuse }),
			fmtSum(v(func(x *vigilResult) float64 { return x.Runtime.Goroutines }), "%.0f"),
			ms(stats.Quantile(late, 0.99)),
			fmtSum(v(func(x *vigilResult) float64 { return ratio(x.Around.TargetCPUSeconds, x.WindowSeconds) }), "%.3f"),
			fmtSum(v(func(x *vigilResult) float64 { return 100 * x.Around.IdleShare }), "%.0f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.Around.TimeWait) }), "%.0f"))
	}
	if len(ns) >= 2 {
		m := marginal(r.Sizing[ns[0]], r.Sizing[ns[len(ns)-1]])
		fmt.Fprintf(b, "\nPer check added between %d and %d (medians): RSS %s KiB (anonymous %s KiB), heap in use %s KiB, stacks %s KiB; CPU %.3f ms per second at one run every %v, %.3f s per 1,000 added runs. **Per 1,000 checks at %v: %.3f cores and %.1f MiB RSS.**\n",
			m.From, m.To, kib(m.RSS), kib(m.RSSAnon), kib(m.Heap), kib(m.Stacks), m.Cores*1000, p.Interval, m.CPUPer1000,
			p.Interval, m.Cores*1000, m.RSS*1000/(1<<20))
	}
	if len(ns) >= 3 { // is the cost linear? each step's own
		var steps []string
		for i := 1; i < len(ns); i++ {
			m := marginal(r.Sizing[ns[i-1]], r.Sizing[ns[i]])
			steps = append(steps, fmt.Sprintf("%d to %d: %.3f cores and %.1f MiB", m.From, m.To, m.Cores*1000, m.RSS*1000/(1<<20)))
		}
		fmt.Fprintf(b, "\nPer 1,000 checks, step by step: %s.\n", strings.Join(steps, "; "))
	}
	var notes []string
	for _, n := range ns {
		for i, x := range r.Sizing[n] {
			for _, f := range x.Failures {
				notes = append(notes, fmt.Sprintf("n=%d rep %d Vigil: %s", n, i+1, f))
			}
			notes = append(notes, listenNotes(fmt.Sprintf("n=%d rep %d Vigil", n, i+1), x.Around)...)
		}
	}
	writeNotes(b, notes)
	b.WriteString("\n")
}

// listenNotes says when the kernel dropped connections at a listener in a
// window (a target that did not keep up: the failures are not the
// prober's) or kept no TIME_WAIT socket for some.
func listenNotes(who string, a aroundWindow) []string {
	var out []string
	if a.ListenDrops > 0 {
		out = append(out, fmt.Sprintf("%s: listeners dropped %d connections in the window (TcpExt ListenDrops): the targets did not keep up", who, a.ListenDrops))
	}
	if a.TimeWaitOverflow > 0 {
		out = append(out, fmt.Sprintf("%s: %d closes got no TIME_WAIT socket, the kernel's table full (TcpExt TCPTimeWaitOverflow; harmless on loopback)", who, a.TimeWaitOverflow))
	}
	return out
}
