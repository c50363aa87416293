package agent

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/web"
)

// The soak test (issue 14) runs the whole agent in real time against ~500
// loopback checks at 1 s, hostile targets among them, and asserts that
// goroutines and memory stay flat and that runs start on time. It is
// wall-clock by nature, so it runs only when asked for:
//
//	go test -run Soak -timeout 30m -count=1 -v ./internal/agent/
//
// VIGIL_SOAK_DURATION (a Go duration, default 10m) bounds the run.
const (
	soakServices         = 12 // normal HTTP checks: 12 services × 10 features × 4 checks
	soakFeatures         = 10
	soakChecksPerFeature = 4
	soakHTTPServers      = 4
	soakDNSFeatures      = 2 // × 4 DNS checks against a miekg/dns server
	soakHostilePerTarget = 2
	soakSampleEvery      = 5 * time.Second
	soakScrapeEvery      = 15 * time.Second // as Prometheus's default scrape interval
	soakFlatRatio        = 1.10             // goroutines, RSS and live heap may end at most 10% above the baseline
	soakGoroutineSlack   = 10               // plus this many goroutines, for tiny numbers
	soakMaxLatenessP99   = 10 * time.Millisecond
	soakMinRunsRatio     = 0.95
	// soakLiveHeapSlack: a GC that marks while the endless-header checks
	// are reading holds up to their 1 MiB max_response_header_bytes each.
	soakLiveHeapSlack = 4 << 20
	// soakMinWarmUp is the scheduler's worker idle timeout (30 s) and more:
	// runs that pile up behind a stall at start-up each start a worker, and
	// the surplus leaves 30 s later; a baseline taken before that would hide
	// growth behind the surplus leaving.
	soakMinWarmUp = 40 * time.Second
)

// hostileKind is a target built to hurt the prober, and how its checks must fail.
type hostileKind struct {
	feature string
	result  string // the vigil_check_runs_total result label every run must have
	err     string // the last error must contain this
}

var hostileKinds = []hostileKind{
	{feature: "endless-header-line", result: "failure", err: "max_response_header_bytes"},
	{feature: "endless-header-lines", result: "failure", err: "max_response_header_bytes"},
	{feature: "silent", result: "timeout", err: "timed out waiting for the response"},
	{feature: "slow-bytes", result: "timeout", err: "timed out reading the response headers"},
	{feature: "reset", result: "failure", err: "connection reset by peer"},
	{feature: "dns-silent", result: "timeout", err: "i/o timeout"},
}

// soakDuration skips the test unless -run names it, and returns how long to run.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	run := flag.Lookup("test.run")
	if run == nil || !strings.Contains(run.Value.String(), "Soak") {
		t.Skip("soak test runs only when asked for: go test -run Soak -timeout 30m ./internal/agent/ (VIGIL_SOAK_DURATION=1m for a quick try)")
	}
	d := 10 * time.Minute
	if s := os.Getenv("VIGIL_SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < time.Minute {
			t.Fatalf("VIGIL_SOAK_DURATION=%q: want a Go duration of at least 1m (%v)", s, err)
		}
	}
	return d
}

// TestSoak: 500 checks at 1 s for VIGIL_SOAK_DURATION (10m) against loopback
// targets, hostile ones among them, with /metrics scraped every 15 s. After a
// warm-up (a tenth of the run, at least soakMinWarmUp), goroutines, RSS and the
// live heap stay within 10% of where they started, the p99 of schedule
// lateness is under 10 ms, every check runs in (nearly) every slot, and each
// hostile check fails the way it should.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	warmUp := max(duration/10, soakMinWarmUp)
	if _, set := os.LookupEnv("GOGC"); !set {
		// As cmd/vigil runs the agent (agentGCPercent in cmd/vigil/run.go).
		defer debug.SetGCPercent(debug.SetGCPercent(35))
	}
	tg := startSoakTargets(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, tg.config())
	a := startAgent(t, cfgFile)
	metricsURL := startSoakWeb(t, a) + "/metrics"
	start := time.Now()
	t.Logf("soak: %d checks (%d normal HTTP, %d DNS, %d hostile) at 1s for %s, warm-up %s, /metrics scraped every %s",
		tg.normal+tg.dnsChecks+tg.hostile, tg.normal, tg.dnsChecks, tg.hostile, duration, warmUp, soakScrapeEvery)

	ticker := time.NewTicker(soakSampleEvery)
	defer ticker.Stop()
	var samples []soakSample
	var base, last soakSnapshot
	var warmUpGoroutines []int
	for tick := 1; ; tick++ {
		now := <-ticker.C
		if now.Sub(start) < warmUp {
			warmUpGoroutines = append(warmUpGoroutines, runtime.NumGoroutine())
		} else {
			if samples == nil {
				base = snapshot(t, a, metricsURL)
			}
			samples = append(samples, sample(t, a))
			if now.Sub(start) >= duration {
				break
			}
		}
		// After sampling: a sample taken just after a scrape would see its
		// buffers live.
		if tick%int(soakScrapeEvery/soakSampleEvery) == 0 {
			scrape(t, metricsURL)
		}
	}
	last = snapshot(t, a, metricsURL)
	t.Logf("soak: goroutines every %s during the warm-up: %v (the scheduler starts a worker per run in flight; the surplus leaves after 30 s idle)", soakSampleEvery, warmUpGoroutines)
	checkSoak(t, a, tg, samples, base, last)
}

// startSoakWeb serves the agent's endpoints on 127.0.0.1, as the agent does,
// and returns the base URL.
func startSoakWeb(t *testing.T, a *Agent) string {
	t.Helper()
	srv := web.New(a, web.Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + srv.Addr()
}

// scrape GETs url as Prometheus would (gzip) and returns the body.
func scrape(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// soakSample is one reading of the process.
type soakSample struct {
	goroutines  int
	idleWorkers int // of goroutines, the scheduler's pool workers parked waiting for a run
	rssBytes    int64
	heapBytes   uint64 // heap in use
	liveBytes   uint64 // heap marked live by the last GC
	openFiles   int
	lateRuns    uint64 // runs so far that started more than soakMaxLatenessP99 late
}

func sample(t *testing.T, a *Agent) soakSample {
	t.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, _ := os.ReadDir("/proc/self/fd")
	var m dto.Metric
	if err := a.metrics.Lateness.Write(&m); err != nil {
		t.Fatalf("read vigil_schedule_lateness_seconds: %v", err)
	}
	late := m.GetHistogram().GetSampleCount()
	for _, b := range m.GetHistogram().GetBucket() {
		if b.GetUpperBound() == soakMaxLatenessP99.Seconds() {
			late -= b.GetCumulativeCount()
		}
	}
	return soakSample{goroutines: runtime.NumGoroutine(), idleWorkers: idleWorkers(), rssBytes: residentBytes(),
		heapBytes: ms.HeapInuse, liveBytes: liveHeapBytes(), openFiles: len(fds), lateRuns: late}
}

// idleWorkers counts the goroutines parked in the scheduler's worker loop
// (their first frame outside the runtime is (*workers).loop). The pool never
// caps concurrency: runs that pile up behind a stall each start a worker, and
// the surplus stays parked for the pool's 30 s idle timeout, so the total
// count has spikes that are not growth. Should the loop be renamed, this
// counts 0 and the goroutine rule gets stricter, not looser.
func idleWorkers() int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return 0
	}
	idle, count, first := 0, 0, false
	for line := range strings.SplitSeq(buf.String(), "\n") {
		if n, _, ok := strings.Cut(line, " @ "); ok {
			count, _ = strconv.Atoi(n)
			first = true
			continue
		}
		if first && strings.HasPrefix(line, "#") {
			first = false
			if fields := strings.Fields(line); len(fields) > 2 && strings.HasPrefix(fields[2], "github.com/vigil-monitoring/vigil/internal/schedule.(*workers).loop+") {
				idle += count
			}
		}
	}
	return idle
}

// liveHeapBytes is the heap the last GC marked live (runtime/metrics).
func liveHeapBytes() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return m[0].Value.Uint64()
}

// residentBytes reads VmRSS from /proc/self/status (-1 where there is none).
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// soakSnapshot is the agent's counters at one moment.
type soakSnapshot struct {
	at       time.Time
	cpu      time.Duration // user and system time of the process so far
	lateness *dto.Histogram
	runs     map[string]map[string]float64 // "service/feature/check" -> result -> runs
}

func snapshot(t *testing.T, a *Agent, metricsURL string) soakSnapshot {
	t.Helper()
	s := soakSnapshot{at: time.Now(), cpu: cpuTime(), runs: map[string]map[string]float64{}}
	var m dto.Metric
	if err := a.metrics.Lateness.Write(&m); err != nil {
		t.Fatalf("read vigil_schedule_lateness_seconds: %v", err)
	}
	s.lateness = m.GetHistogram()
	buf := bytes.NewReader(scrape(t, metricsURL))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(buf)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, series := range families["vigil_check_runs_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range series.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		id := l["service"] + "/" + l["feature"] + "/" + l["check"]
		if s.runs[id] == nil {
			s.runs[id] = map[string]float64{}
		}
		s.runs[id][l["result"]] = series.GetCounter().GetValue()
	}
	return s
}

// soakFigures are what a soak run measured after its warm-up.
type soakFigures struct {
	elapsed           float64 // seconds between the two snapshots
	gBase, gMax       float64 // goroutines but idle workers: first-quarter median, last-quarter max
	floorBase, floor  float64 // all goroutines: first-quarter and last-quarter minimum
	rBase, rEnd, rMax float64 // RSS bytes: first-quarter median, last-quarter median and max
	lBase, lMax       float64 // live heap bytes: first-quarter median, last-quarter max
	p50, p99          float64 // schedule lateness, seconds
	runs, planned     float64 // runs of the normal checks, executed and planned
	failed            float64 // runs of the normal checks that did not succeed
	cpuCoresAvg       float64 // CPU time of the process / wall time
	latenessHistogram string  // runs per lateness bucket
}

// checkSoak asserts the run's figures and logs them.
func checkSoak(t *testing.T, a *Agent, tg *soakTargets, samples []soakSample, base, last soakSnapshot) {
	t.Helper()
	if len(samples) < 4 {
		t.Fatalf("only %d samples after the warm-up: run longer", len(samples))
	}
	quarter := max(1, len(samples)/4)
	first, final := samples[:quarter], samples[len(samples)-quarter:]
	f := soakFigures{elapsed: last.at.Sub(base.at).Seconds()}
	f.gBase, f.gMax = median(first, busyGoroutines), maximum(final, busyGoroutines)
	f.floorBase, f.floor = minimum(first, goroutines), minimum(final, goroutines)
	f.rBase, f.rEnd, f.rMax = median(first, rss), median(final, rss), maximum(final, rss)
	f.lBase, f.lMax = median(first, liveHeap), maximum(final, liveHeap)
	f.p50 = histogramQuantile(0.5, base.lateness, last.lateness)
	f.p99 = histogramQuantile(0.99, base.lateness, last.lateness)
	f.latenessHistogram = bucketCounts(base.lateness, last.lateness)
	f.runs, f.failed = tg.sumRuns(base, last, "svc-", "dns")
	f.planned = float64(tg.normal+tg.dnsChecks) * f.elapsed
	f.cpuCoresAvg = (last.cpu - base.cpu).Seconds() / f.elapsed
	logFigures(t, f, samples, tg.normal+tg.dnsChecks)

	const mib = 1 << 20
	if limit := f.gBase*soakFlatRatio + soakGoroutineSlack; f.gMax > limit {
		t.Errorf("goroutines (idle pool workers aside) grew: last-quarter max %.0f > %.0f (first-quarter median %.0f + 10%% + %d)", f.gMax, limit, f.gBase, soakGoroutineSlack)
	}
	// A leak, idle workers included, raises the floor as well as the peaks.
	if limit := f.floorBase*soakFlatRatio + soakGoroutineSlack; f.floor > limit {
		t.Errorf("goroutines grew: last-quarter minimum %.0f > %.0f (first-quarter minimum %.0f + 10%% + %d)", f.floor, limit, f.floorBase, soakGoroutineSlack)
	}
	if limit := f.rBase * soakFlatRatio; f.rMax > limit {
		t.Errorf("RSS grew: last-quarter max %.1f MiB > %.1f MiB (first-quarter median %.1f MiB + 10%%)", f.rMax/mib, limit/mib, f.rBase/mib)
	}
	if limit := f.lBase*soakFlatRatio + soakLiveHeapSlack; f.lMax > limit {
		t.Errorf("live heap grew: last-quarter max %.1f MiB > %.1f MiB (first-quarter median %.1f MiB + 10%% + %d MiB)", f.lMax/mib, limit/mib, f.lBase/mib, soakLiveHeapSlack/mib)
	}
	if !(f.p99 < soakMaxLatenessP99.Seconds()) {
		t.Errorf("schedule lateness p99 %.3fms, want under %s (runs per bucket: %s)", f.p99*1e3, soakMaxLatenessP99, f.latenessHistogram)
	}
	if f.runs < f.planned*soakMinRunsRatio {
		t.Errorf("normal checks ran %.0f times of %.0f planned, want at least %.0f%%", f.runs, f.planned, 100*soakMinRunsRatio)
	}
	if f.failed > f.runs/100 {
		t.Errorf("%.0f of %.0f runs of the normal checks failed, want at most 1%%", f.failed, f.runs)
	}
	tg.checkHostile(t, a, base, last, f.elapsed)
}

func goroutines(s soakSample) float64     { return float64(s.goroutines) }
func busyGoroutines(s soakSample) float64 { return float64(s.goroutines - s.idleWorkers) }
func rss(s soakSample) float64            { return float64(s.rssBytes) }
func heapInUse(s soakSample) float64      { return float64(s.heapBytes) }
func liveHeap(s soakSample) float64       { return float64(s.liveBytes) }
func openFiles(s soakSample) float64      { return float64(s.openFiles) }

// logFigures prints the figures table that bench/RESULTS.md records.
func logFigures(t *testing.T, f soakFigures, samples []soakSample, normalChecks int) {
	t.Helper()
	const mib = 1 << 20
	first, final := samples[0], samples[len(samples)-1]
	t.Logf("soak figures over %.0fs after the warm-up (%d samples every %s):", f.elapsed, len(samples), soakSampleEvery)
	t.Logf("  goroutines   min %.0f  median %.0f  max %.0f  (first-quarter min %.0f, last-quarter min %.0f)",
		minimum(samples, goroutines), median(samples, goroutines), maximum(samples, goroutines), f.floorBase, f.floor)
	t.Logf("    but idle   min %.0f  median %.0f  max %.0f  (first-quarter median %.0f, last-quarter max %.0f)",
		minimum(samples, busyGoroutines), median(samples, busyGoroutines), maximum(samples, busyGoroutines), f.gBase, f.gMax)
	t.Logf("  RSS MiB      start %.1f  end %.1f  max %.1f  (first-quarter median %.1f, last-quarter median %.1f and max %.1f)",
		rss(first)/mib, rss(final)/mib, maximum(samples, rss)/mib, f.rBase/mib, f.rEnd/mib, f.rMax/mib)
	t.Logf("  heap MiB     in use: start %.1f  end %.1f  max %.1f;  live after GC: start %.1f  end %.1f  max %.1f  (first-quarter median %.1f, last-quarter max %.1f)",
		heapInUse(first)/mib, heapInUse(final)/mib, maximum(samples, heapInUse)/mib,
		liveHeap(first)/mib, liveHeap(final)/mib, maximum(samples, liveHeap)/mib, f.lBase/mib, f.lMax/mib)
	t.Logf("  open files   min %.0f  median %.0f  max %.0f", minimum(samples, openFiles), median(samples, openFiles), maximum(samples, openFiles))
	t.Logf("  lateness     p50 %.3fms  p99 %.3fms  runs per bucket: %s", f.p50*1e3, f.p99*1e3, f.latenessHistogram)
	t.Logf("  runs         executed %.0f  planned %.0f  (%.2f%%; %.0f of them failed) for %d normal HTTP and DNS checks",
		f.runs, f.planned, 100*f.runs/f.planned, f.failed, normalChecks)
	var series, memory, late strings.Builder
	for i, s := range samples {
		fmt.Fprintf(&series, " %d/%d", s.goroutines, s.idleWorkers)
		fmt.Fprintf(&memory, " %.1f/%.1f", rss(s)/mib, liveHeap(s)/mib)
		if i > 0 {
			fmt.Fprintf(&late, " %d", s.lateRuns-samples[i-1].lateRuns)
		}
	}
	t.Logf("  goroutines/idle workers per sample:%s", series.String())
	t.Logf("  RSS/live heap MiB per sample:%s", memory.String())
	t.Logf("  runs over %s late per %s:%s", soakMaxLatenessP99, soakSampleEvery, late.String())
	t.Logf("  CPU          %.2f cores on average (agent and loopback targets together; the machine has %d)", f.cpuCoresAvg, runtime.NumCPU())
}

// bucketCounts renders the observations between two readings of a histogram
// per bucket, e.g. "<=0.1ms:12 <=0.5ms:3400 ... +Inf:0".
func bucketCounts(before, after *dto.Histogram) string {
	var b strings.Builder
	prev := uint64(0)
	for i, bucket := range after.GetBucket() {
		cum := bucket.GetCumulativeCount() - before.GetBucket()[i].GetCumulativeCount()
		fmt.Fprintf(&b, "<=%gms:%d ", bucket.GetUpperBound()*1e3, cum-prev)
		prev = cum
	}
	fmt.Fprintf(&b, "+Inf:%d", (after.GetSampleCount()-before.GetSampleCount())-prev)
	return b.String()
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// checkHostile asserts that every hostile check ran in nearly every slot and
// always failed as its kind should, and logs what each did.
func (tg *soakTargets) checkHostile(t *testing.T, a *Agent, base, last soakSnapshot, elapsed float64) {
	t.Helper()
	lastErr := map[string]string{}
	for _, f := range a.Engine().Features() {
		for _, c := range f.Checks {
			lastErr[f.Service+"/"+f.Feature+"/"+c.Name] = c.Error
		}
	}
	for _, kind := range hostileKinds {
		for i := range soakHostilePerTarget {
			id := fmt.Sprintf("hostile/%s/c%d", kind.feature, i)
			total, want := 0.0, 0.0
			for result, v := range last.runs[id] {
				d := v - base.runs[id][result]
				total += d
				if result == kind.result {
					want += d
				}
			}
			t.Logf("  hostile %-30s runs %.0f (%s %.0f)  last error: %s", id, total, kind.result, want, lastErr[id])
			if total < elapsed*soakMinRunsRatio {
				t.Errorf("hostile check %s ran %.0f times in %.0fs at 1s, want at least %.0f%%", id, total, elapsed, 100*soakMinRunsRatio)
			}
			if want != total {
				t.Errorf("hostile check %s: %.0f of %.0f runs ended %q, want all", id, want, total, kind.result)
			}
			if !strings.Contains(lastErr[id], kind.err) {
				t.Errorf("hostile check %s: last error %q, want one containing %q", id, lastErr[id], kind.err)
			}
		}
	}
}

// sumRuns adds up the runs between two snapshots of the checks whose id starts
// with one of prefixes, and how many of them did not succeed.
func (tg *soakTargets) sumRuns(base, last soakSnapshot, prefixes ...string) (runs, failed float64) {
	for id, results := range last.runs {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(id, p) }) {
			continue
		}
		for result, v := range results {
			d := v - base.runs[id][result]
			runs += d
			if result != "success" {
				failed += d
			}
		}
	}
	return runs, failed
}

func values(samples []soakSample, of func(soakSample) float64) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = of(s)
	}
	slices.Sort(out)
	return out
}

func median(samples []soakSample, of func(soakSample) float64) float64 {
	v := values(samples, of)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func minimum(samples []soakSample, of func(soakSample) float64) float64 {
	return values(samples, of)[0]
}

func maximum(samples []soakSample, of func(soakSample) float64) float64 {
	v := values(samples, of)
	return v[len(v)-1]
}

// histogramQuantile is Prometheus's histogram_quantile over the observations
// made between two readings of one histogram: linear interpolation inside
// the bucket where the rank falls; the highest finite bound if it falls in +Inf.
func histogramQuantile(q float64, before, after *dto.Histogram) float64 {
	total := float64(after.GetSampleCount() - before.GetSampleCount())
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range after.GetBucket() {
		upper := b.GetUpperBound()
		cum := float64(b.GetCumulativeCount() - before.GetBucket()[i].GetCumulativeCount())
		if cum >= rank {
			return lower + (upper-lower)*(rank-below)/(cum-below)
		}
		lower, below = upper, cum
	}
	return lower // the rank is in the +Inf bucket
}

// soakTargets are the loopback servers the soak's checks probe.
type soakTargets struct {
	httpURLs  []string
	dnsAddr   string
	hostileAt map[string]string // feature -> address
	normal    int
	dnsChecks int
	hostile   int
}

func startSoakTargets(t *testing.T) *soakTargets {
	t.Helper()
	tg := &soakTargets{hostileAt: map[string]string{}}
	for range soakHTTPServers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, `{"status":"ok"}`)
		}))
		t.Cleanup(srv.Close)
		tg.httpURLs = append(tg.httpURLs, srv.URL)
	}
	tg.dnsAddr = startDNSAnswering(t)
	handlers := map[string]func(net.Conn, <-chan struct{}){
		"endless-header-line":  endlessHeaderLine,
		"endless-header-lines": endlessHeaderLines,
		"silent":               silent,
		"slow-bytes":           slowBytes,
		"reset":                resetAfterRequest,
	}
	for feature, handle := range handlers {
		tg.hostileAt[feature] = startRawServer(t, handle)
	}
	tg.hostileAt["dns-silent"] = startDNSSilent(t)
	return tg
}

// config writes the soak's vigil.yml: every check at 1 s with a 500 ms timeout.
func (tg *soakTargets) config() string {
	var b strings.Builder
	b.WriteString("agent: {region: kr-central-1}\ndefaults: {interval: 1s, timeout: 500ms}\nservices:\n")
	n := 0
	for s := range soakServices {
		fmt.Fprintf(&b, "  - name: svc-%02d\n    features:\n", s)
		for f := range soakFeatures {
			fmt.Fprintf(&b, "      - name: f%02d\n        checks:\n", f)
			for c := range soakChecksPerFeature {
				url := tg.httpURLs[n%len(tg.httpURLs)]
				fmt.Fprintf(&b, "          - {name: c%d, http: {url: \"%s/svc-%02d/f%02d/c%d\", valid_status_codes: [200]}}\n", c, url, s, f, c)
				n++
			}
		}
	}
	tg.normal = n
	b.WriteString("  - name: dns\n    features:\n")
	for f := range soakDNSFeatures {
		fmt.Fprintf(&b, "      - name: resolve-%d\n        checks:\n", f)
		for c := range soakChecksPerFeature {
			fmt.Fprintf(&b, "          - {name: c%d, dns: {server: %q, query_name: r%d-c%d.kakao.demo, query_type: A}}\n", c, tg.dnsAddr, f, c)
			tg.dnsChecks++
		}
	}
	b.WriteString("  - name: hostile\n    features:\n")
	for _, kind := range hostileKinds {
		fmt.Fprintf(&b, "      - name: %s\n        checks:\n", kind.feature)
		for c := range soakHostilePerTarget {
			addr := tg.hostileAt[kind.feature]
			if kind.feature == "dns-silent" {
				fmt.Fprintf(&b, "          - {name: c%d, dns: {server: %q, query_name: silent.kakao.demo, query_type: A}}\n", c, addr)
			} else {
				fmt.Fprintf(&b, "          - {name: c%d, http: {url: \"http://%s/%s/c%d\"}}\n", c, addr, kind.feature, c)
			}
			tg.hostile++
		}
	}
	return b.String()
}

// startDNSAnswering starts an authoritative miekg/dns server answering A
// 127.0.0.1 for any name; it returns its address.
func startDNSAnswering(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 127.0.0.1")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// startDNSSilent starts a UDP server that reads queries and never answers.
func startDNSSilent(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return // closed
			}
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
	return pc.LocalAddr().String()
}

// hostileConnLife bounds how long a hostile server holds a connection: the
// prober gives up after 500 ms; this makes sure the servers end on cleanup.
const hostileConnLife = 3 * time.Second

// startRawServer accepts TCP connections on 127.0.0.1 and hands each to handle
// on its own goroutine with a deadline; cleanup closes the listener, tells the
// handlers to stop and waits for them. It returns the address.
func startRawServer(t *testing.T, handle func(net.Conn, <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed
			}
			_ = conn.SetDeadline(time.Now().Add(hostileConnLife))
			wg.Go(func() {
				defer conn.Close()
				handle(conn, stop)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		close(stop)
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequestHead reads up to the blank line that ends a request's head.
func readRequestHead(conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" || line == "\n" {
			return nil
		}
	}
}

// writeUntil writes chunk over and over until a write fails (the prober gave
// up) or stop closes.
func writeUntil(conn net.Conn, stop <-chan struct{}, chunk []byte) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := conn.Write(chunk); err != nil {
			return
		}
	}
}

// endlessHeaderLine answers with one header line that never ends.
func endlessHeaderLine(conn net.Conn, stop <-chan struct{}) {
	if readRequestHead(conn) != nil {
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Endless: "); err != nil {
		return
	}
	writeUntil(conn, stop, bytes.Repeat([]byte("a"), 32<<10))
}

// endlessHeaderLines answers with 1 KB header lines, one after another, forever.
func endlessHeaderLines(conn net.Conn, stop <-chan struct{}) {
	if readRequestHead(conn) != nil {
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\n"); err != nil {
		return
	}
	var chunk []byte
	for i := range 32 {
		chunk = fmt.Appendf(chunk, "X-Filler-%02d: %s\r\n", i, strings.Repeat("b", 1024-len("X-Filler-00: \r\n")))
	}
	writeUntil(conn, stop, chunk)
}

// silent accepts, reads the request and never answers.
func silent(conn net.Conn, stop <-chan struct{}) {
	_, _ = io.Copy(io.Discard, conn) // until the prober closes or the deadline passes
}

// slowBytes answers one byte every 50 ms: a whole response would take seconds.
func slowBytes(conn net.Conn, stop <-chan struct{}) {
	if readRequestHead(conn) != nil {
		return
	}
	response := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(response); i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := conn.Write([]byte{response[i]}); err != nil {
			return
		}
	}
}

// resetAfterRequest reads the request and resets the connection.
func resetAfterRequest(conn net.Conn, stop <-chan struct{}) {
	if readRequestHead(conn) != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // Close sends RST
	}
}
