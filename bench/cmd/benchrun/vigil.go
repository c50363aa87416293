package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/expo"
	"github.com/vigil-monitoring/vigil/bench/internal/procstat"
	"github.com/vigil-monitoring/vigil/bench/internal/target"
	"github.com/vigil-monitoring/vigil/bench/internal/workload"
)

// settleMargin is how long before a scrape a slot must be for its run to be
// required to have finished by then: generous next to the lateness goal
// (10 ms) and the runs themselves (under 1 ms, 50 ms for fidelity checks).
const settleMargin = 200 * time.Millisecond

// vigilResult is one measured run of the agent.
type vigilResult struct {
	Checks int
	// Profile is the metrics profile the config set, "" for none (the
	// agent's default, standard).
	Profile        string
	Rate           float64 // planned runs per second
	StartupSeconds float64 // process start to /-/ready

	// FirstPlanned runs were due between ready and the first scrape (one
	// interval later); FirstMissed of them had not run.
	FirstPlanned, FirstMissed int64

	// The steady window: CPU between two /proc readings, the runs planned in
	// it, and the runs missing between the scrapes around it.
	WindowSeconds, CPUSeconds float64
	WindowPlanned             int64
	SpanPlanned, SpanDone     int64 // runs due (settled) and runs done between the two scrapes
	SpanPlannedFull           int64 // runs due between the two scrape requests
	SpanMissed, SpanFailed    int64
	CPUPer1000                float64 // CPU seconds per 1,000 runs
	// Around is the target processes' CPU and the machine's idle share over
	// the same window; TargetCPUPer1000 the targets' CPU per 1,000 runs.
	Around           aroundWindow
	TargetCPUPer1000 float64

	RSS, HWM         int64
	RSSAnon, RSSFile int64
	Threads          int
	// Runtime is the agent's Go runtime at the scrape ending the window;
	// GCCycles counts the collections between the two scrapes.
	Runtime  runtimeStats
	GCCycles float64

	// LatenessExact are start-minus-slot of the last run of every check
	// before the scrape that ends the window (steady state), LatenessFirst
	// the same at the first scrape (each check's first runs), in seconds;
	// LatenessHist is Vigil's own histogram over the window.
	LatenessExact []float64
	LatenessFirst []float64
	LatenessHist  []expo.Bucket
	// FidelityErrors are measured durations of the 50 ms checks minus 50 ms;
	// BareFidelityErrors the bare client's in the same window.
	FidelityErrors     []float64
	BareFidelityErrors []float64
	// FidelityPhases are the phases of each run in FidelityErrors, in the
	// same order, with "other" the time outside them (before connecting,
	// between connecting and sending the request): where an error arose.
	FidelityPhases []map[string]float64

	Exposition []exposition
	Failures   []string
}

// exposition is the cost of rendering one endpoint.
type exposition struct {
	Name       string
	Seconds    []float64
	CPUSeconds []float64
	Bytes      int
}

// vigilRun configures a measured run of the agent.
type vigilRun struct {
	name   string
	load   *workload.Workload
	window time.Duration
	// firstWait is how long after ready the first scrape comes: one interval
	// and a little.
	firstWait time.Duration
	// expoRepeats is how many times each exposition is timed after the window.
	expoRepeats int
	// profile is the metrics profile to set in the config ("": none).
	profile string
}

// withProfile sets the agent's default metrics profile in a generated
// config ("": leaves it unset, the agent's default).
func withProfile(cfg, profile string) (string, error) {
	if profile == "" {
		return cfg, nil
	}
	const agent = "\nagent:\n"
	if !strings.Contains(cfg, agent) {
		return "", fmt.Errorf("generated config has no agent block to set metrics.profile in")
	}
	return strings.Replace(cfg, agent, agent+"  metrics: {profile: "+profile+"}\n", 1), nil
}

// startVigil writes the workload's config and starts the agent on it.
func (h *harness) startVigil(ctx context.Context, name string, w *workload.Workload, profile string) (*proc, string, time.Duration, error) {
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", 0, err
	}
	text, err := withProfile(workload.VigilConfig(w), profile)
	if err != nil {
		return nil, "", 0, err
	}
	cfg := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, "", 0, err
	}
	storage := filepath.Join(dir, "data")
	_ = os.RemoveAll(storage)
	addr, err := freePort()
	if err != nil {
		return nil, "", 0, err
	}
	started := time.Now()
	p, err := start(name, dir, h.vigilBin, "--config.file="+cfg, "--web.listen-address="+addr,
		"--storage.path="+storage, "--log.level=warn")
	if err != nil {
		return nil, "", 0, err
	}
	base := "http://" + addr
	ready, err := waitReady(ctx, base+"/-/ready", 2*time.Minute, p)
	if err != nil {
		_ = p.stop(30 * time.Second)
		return nil, "", 0, err
	}
	return p, base, ready.Sub(started), nil
}

// runVigil measures one agent run: startup, the first interval, a steady
// window, then the exposition.
func (h *harness) runVigil(ctx context.Context, r vigilRun) (res *vigilResult, err error) {
	p, base, startup, err := h.startVigil(ctx, r.name, r.load, r.profile)
	if err != nil {
		return nil, err
	}
	ready := time.Now()
	defer func() {
		if serr := p.stop(time.Minute); serr != nil && err == nil {
			err = serr
		}
		_ = os.RemoveAll(filepath.Join(h.work, r.name, "data")) // the SLA store, up to tens of MB
	}()
	res = &vigilResult{Checks: len(r.load.Checks), Profile: r.profile, Rate: r.load.Rate(), StartupSeconds: startup.Seconds()}

	if err := sleepUntil(ctx, ready.Add(r.firstWait)); err != nil {
		return nil, err
	}
	s1, err := scrapeVigil(ctx, base)
	if err != nil {
		return nil, err
	}
	for _, c := range r.load.Checks {
		due := workload.Planned(c, ready, s1.Start.Add(-settleMargin))
		res.FirstPlanned += due
		if st := s1.Checks[c.ID]; st == nil {
			res.FirstMissed += due
		} else if miss := due - int64(st.Runs); miss > 0 {
			res.FirstMissed += miss
		}
	}

	// The scrape leaves garbage (hundreds of MB at 10,000 checks) whose
	// collection is the exposition's cost, not the probes': let it settle.
	if err := sleepUntil(ctx, s1.End.Add(max(time.Second, s1.End.Sub(s1.Start)))); err != nil {
		return nil, err
	}
	aroundA, err := h.readAround()
	if err != nil {
		return nil, err
	}
	a, err := procstat.Read(p.pid())
	if err != nil {
		return nil, err
	}
	var bare *bareClient
	if hasFidelity(r.load) {
		if bare, err = h.startBareClient(r.name, r.window); err != nil {
			return nil, err
		}
	}
	if err := sleepUntil(ctx, a.At.Add(r.window)); err != nil {
		return nil, err
	}
	b, err := procstat.Read(p.pid())
	if err != nil {
		return nil, err
	}
	aroundB, err := h.readAround()
	if err != nil {
		return nil, err
	}
	res.Around = around(aroundA, aroundB)
	s2, err := scrapeVigil(ctx, base)
	if err != nil {
		return nil, err
	}
	res.WindowSeconds = b.At.Sub(a.At).Seconds()
	res.CPUSeconds = (b.CPU - a.CPU).Seconds()
	res.RSS, res.HWM, res.Threads = b.RSS, b.HWM, b.Threads
	res.RSSAnon, res.RSSFile = b.RSSAnon, b.RSSFile
	res.Runtime, res.GCCycles = s2.Runtime, s2.Runtime.GCCycles-s1.Runtime.GCCycles

	for _, c := range r.load.Checks {
		res.WindowPlanned += workload.Planned(c, a.At, b.At)
		st1, st2 := s1.Checks[c.ID], s2.Checks[c.ID]
		if st1 != nil && st1.HasLast && st1.LastRun > 0 {
			res.LatenessFirst = append(res.LatenessFirst, workload.Lateness(c, unixTime(st1.LastRun)).Seconds())
		}
		// A check that did not run since the first scrape (a slow fidelity
		// check) has no steady sample.
		if st1 != nil && st2 != nil && st2.HasLast && st2.LastRun > st1.LastRun {
			res.LatenessExact = append(res.LatenessExact, workload.Lateness(c, unixTime(st2.LastRun)).Seconds())
		}
		due := workload.Planned(c, s1.End, s2.Start.Add(-settleMargin))
		res.SpanPlanned += due
		res.SpanPlannedFull += workload.Planned(c, s1.Start, s2.Start) // each snapshot comes a like time after its request
		if st1 == nil || st2 == nil {
			res.SpanMissed += due
			continue
		}
		done := int64(st2.Runs - st1.Runs)
		res.SpanDone += done
		res.SpanFailed += int64(st2.Failed - st1.Failed)
		if due > done {
			res.SpanMissed += due - done
		}
		if c.Fidelity && st2.DurCount-st1.DurCount == 1 {
			res.FidelityErrors = append(res.FidelityErrors, st2.DurSum-st1.DurSum-target.SlowDelay.Seconds())
			res.FidelityPhases = append(res.FidelityPhases, phasesOf(st2.Phases, st2.DurSum-st1.DurSum))
		}
	}
	if res.LatenessHist, err = expo.Sub(s2.Lateness, s1.Lateness); err != nil {
		res.Failures = append(res.Failures, "lateness histogram: "+err.Error())
	}
	// Runs in the CPU window: those planned in it, less any that did not run
	// (none, when the agent keeps up; then this count is exact).
	runs := res.WindowPlanned - res.SpanMissed
	res.CPUPer1000 = perThousand(res.CPUSeconds, runs)
	res.TargetCPUPer1000 = perThousand(res.Around.TargetCPUSeconds, runs)
	if res.SpanFailed > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("%d runs failed in the window (see the target and agent logs)", res.SpanFailed))
	}
	if bare != nil {
		if res.BareFidelityErrors, err = bare.errors(ctx); err != nil {
			return nil, err
		}
	}
	if r.expoRepeats > 0 {
		if err := h.measureExposition(ctx, p, base, r.expoRepeats, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// promAccept is what Prometheus 2.x sends by default: OpenMetrics preferred.
const promAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// pagedFrom is the check count from which the harness times a page of
// /api/v1/features (the first 1,000) rather than the whole list: at 50,000
// the whole list is 40 MB of JSON and took 37 s on a loaded machine, load
// on the cores the probes share and not a goal (the pages are).
const pagedFrom = 20000

// measureExposition times /metrics in the classic text format and as a
// Prometheus scrape would fetch it (OpenMetrics, gzip), and /api/v1/features.
func (h *harness) measureExposition(ctx context.Context, p *proc, base string, repeats int, res *vigilResult) error {
	features := struct{ name, path string }{"/api/v1/features", "/api/v1/features"}
	if res.Checks >= pagedFrom {
		features.name, features.path = "/api/v1/features?limit=1000 (first page)", "/api/v1/features?limit=1000"
	}
	variants := []struct {
		name, path string
		header     map[string]string
		repeats    int
	}{
		{"/metrics text 0.0.4", "/metrics", map[string]string{"Accept": textFormat}, repeats},
		{"/metrics OpenMetrics gzip (Prometheus scrape)", "/metrics", map[string]string{"Accept": promAccept, "Accept-Encoding": "gzip"}, repeats},
		{features.name, features.path, nil, 1},
	}
	for _, v := range variants {
		e := exposition{Name: v.name}
		for range v.repeats {
			before, err := procstat.Read(p.pid())
			if err != nil {
				return err
			}
			f, err := get(ctx, base+v.path, v.header, false)
			if err != nil {
				return err
			}
			after, err := procstat.Read(p.pid())
			if err != nil {
				return err
			}
			e.Seconds = append(e.Seconds, f.Seconds())
			e.CPUSeconds = append(e.CPUSeconds, (after.CPU - before.CPU).Seconds())
			e.Bytes = f.Bytes
		}
		res.Exposition = append(res.Exposition, e)
	}
	return nil
}

// runVigilIdle measures the fidelity checks alone: the agent scraped once per
// interval, each check's duration taken from its histogram sum between two
// scrapes that saw exactly one run.
func (h *harness) runVigilIdle(ctx context.Context, name string, w *workload.Workload, periods int) (res *vigilResult, err error) {
	p, base, startup, err := h.startVigil(ctx, name, w, "")
	if err != nil {
		return nil, err
	}
	ready := time.Now()
	defer func() {
		if serr := p.stop(time.Minute); serr != nil && err == nil {
			err = serr
		}
		_ = os.RemoveAll(filepath.Join(h.work, name, "data"))
	}()
	res = &vigilResult{Checks: len(w.Checks), Rate: w.Rate(), StartupSeconds: startup.Seconds()}
	interval := w.Checks[0].Interval
	if err := sleepUntil(ctx, ready.Add(interval+interval/4)); err != nil {
		return nil, err
	}
	prev, err := scrapeVigil(ctx, base)
	if err != nil {
		return nil, err
	}
	bare, err := h.startBareClient(name, time.Duration(periods)*interval)
	if err != nil {
		return nil, err
	}
	for k := 1; k <= periods; k++ {
		if err := sleepUntil(ctx, prev.Start.Add(interval)); err != nil {
			return nil, err
		}
		s, err := scrapeVigil(ctx, base)
		if err != nil {
			return nil, err
		}
		for _, c := range w.Checks {
			st1, st2 := prev.Checks[c.ID], s.Checks[c.ID]
			if st1 != nil && st2 != nil && st2.DurCount-st1.DurCount == 1 {
				res.FidelityErrors = append(res.FidelityErrors, st2.DurSum-st1.DurSum-target.SlowDelay.Seconds())
				res.FidelityPhases = append(res.FidelityPhases, phasesOf(st2.Phases, st2.DurSum-st1.DurSum))
				res.LatenessExact = append(res.LatenessExact, workload.Lateness(c, unixTime(st2.LastRun)).Seconds())
			}
		}
		prev = s
	}
	if res.BareFidelityErrors, err = bare.errors(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// phasesOf copies a run's phases and adds "other", the part of its duration
// outside them.
func phasesOf(phases map[string]float64, duration float64) map[string]float64 {
	out := make(map[string]float64, len(phases)+1)
	other := duration
	for name, d := range phases {
		out[name] = d
		other -= d
	}
	out["other"] = other
	return out
}
