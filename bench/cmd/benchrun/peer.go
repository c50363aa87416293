package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/driver"
	"github.com/vigil-monitoring/vigil/bench/internal/procstat"
	"github.com/vigil-monitoring/vigil/bench/internal/target"
	"github.com/vigil-monitoring/vigil/bench/internal/workload"
)

// peerResult is one measured run of blackbox_exporter or of the floor loop.
type peerResult struct {
	Rate                      float64
	WindowSeconds, CPUSeconds float64
	// Planned requests in the window at the driven rate; Completed answered.
	Planned, Completed int64
	// Whole-run totals.
	Sent, Failed, Errors, Skipped int64
	CPUPer1000                    float64
	RSS, HWM                      int64
	Threads                       int
	FidelityErrors                []float64
	// BareFidelityErrors are the bare client's, in the same window.
	BareFidelityErrors []float64
	FirstError         string
	// Around is the target processes' CPU and the machine's idle share over
	// the window; TargetCPUPer1000 the targets' CPU per 1,000 probes.
	Around           aroundWindow
	TargetCPUPer1000 float64
}

// runBlackbox starts blackbox_exporter and drives it with w's targets (each
// as a /probe request on the check's interval and offset) for warmup+window,
// measuring its CPU over the window.
func (h *harness) runBlackbox(ctx context.Context, name string, w *workload.Workload, module string, warmup, window time.Duration) (res *peerResult, err error) {
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(workload.BlackboxConfig(h.httpTimeout, h.dnsTimeout)), 0o644); err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := start(name, dir, h.blackboxBin, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=warn")
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := p.stop(30 * time.Second); serr != nil && err == nil {
			err = serr
		}
	}()
	base := "http://" + addr
	if _, err := waitReady(ctx, base+"/-/healthy", time.Minute, p); err != nil {
		return nil, err
	}
	var targets []driver.Target
	for _, c := range w.Checks {
		targets = append(targets, driver.Target{Module: module, Target: c.Target, Interval: c.Interval,
			Offset: c.Spread, Fidelity: c.Fidelity})
	}
	d, err := driver.New(driver.Options{Exporter: base, Targets: targets, Duration: warmup + window + time.Second,
		MaxInFlight: 2000, ScrapeTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var drive driver.Result
	wg.Add(1)
	go func() {
		defer wg.Done()
		drive = d.Run(runCtx)
	}()
	defer wg.Wait() // runs before cancel: the driver ends on its own within its duration

	if err := sleepUntil(ctx, time.Now().Add(warmup)); err != nil {
		cancel()
		return nil, err
	}
	aroundA, err := h.readAround()
	if err != nil {
		cancel()
		return nil, err
	}
	a, err := procstat.Read(p.pid())
	if err != nil {
		cancel()
		return nil, err
	}
	doneA := d.Counts.Completed()
	var bare *bareClient
	if hasFidelity(w) {
		if bare, err = h.startBareClient(name, window); err != nil {
			cancel()
			return nil, err
		}
	}
	if err := sleepUntil(ctx, a.At.Add(window)); err != nil {
		cancel()
		return nil, err
	}
	b, err := procstat.Read(p.pid())
	if err != nil {
		cancel()
		return nil, err
	}
	doneB := d.Counts.Completed()
	aroundB, err := h.readAround()
	if err != nil {
		cancel()
		return nil, err
	}
	wg.Wait()
	res = &peerResult{
		Rate: w.Rate(), WindowSeconds: b.At.Sub(a.At).Seconds(), CPUSeconds: (b.CPU - a.CPU).Seconds(),
		Completed: doneB - doneA, Sent: drive.Sent, Failed: drive.Failed, Errors: drive.Errors, Skipped: drive.Skipped,
		RSS: b.RSS, HWM: b.HWM, Threads: b.Threads, FirstError: drive.FirstError, Around: around(aroundA, aroundB),
	}
	res.Planned = int64(res.Rate*res.WindowSeconds + 0.5)
	res.CPUPer1000 = perThousand(res.CPUSeconds, res.Completed)
	res.TargetCPUPer1000 = perThousand(res.Around.TargetCPUSeconds, res.Completed)
	for _, d := range drive.FidelityDurations {
		res.FidelityErrors = append(res.FidelityErrors, d-target.SlowDelay.Seconds())
	}
	if bare != nil {
		if res.BareFidelityErrors, err = bare.errors(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func hasFidelity(w *workload.Workload) bool {
	for _, c := range w.Checks {
		if c.Fidelity {
			return true
		}
	}
	return false
}

// floorReport is what bench/cmd/floor prints.
type floorReport struct {
	Probes      int     `json:"probes"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	Behind      float64 `json:"behind_seconds"`
}

// runFloor runs the bare loop over addrs at rate for window.
func (h *harness) runFloor(ctx context.Context, name, mode string, addrs []string, rate float64, window time.Duration) (*peerResult, error) {
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	aroundA, err := h.readAround()
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	p, err := startCapture(name, dir, &out, h.floorBin, "-mode="+mode, "-targets="+strings.Join(addrs, ","),
		"-rate="+strconv.FormatFloat(rate, 'f', -1, 64), "-duration="+window.String())
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.stop(5 * time.Second)
		return nil, errStopped
	case <-time.After(window + time.Minute):
		_ = p.stop(5 * time.Second)
		return nil, fmt.Errorf("%s did not end within %v", name, window+time.Minute)
	}
	_ = p.stop(time.Second) // reaped already; drops it from the children list
	aroundB, err := h.readAround()
	if err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, fmt.Errorf("%s: %v (see %s.log)", name, p.err, name)
	}
	var rep floorReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		return nil, fmt.Errorf("%s: read report %q: %w", name, out.String(), err)
	}
	res := &peerResult{Rate: rate, WindowSeconds: rep.WallSeconds, CPUSeconds: rep.CPUSeconds,
		Planned: int64(rate*window.Seconds() + 0.5), Completed: int64(rep.Probes - rep.Errors), Sent: int64(rep.Probes),
		Errors: int64(rep.Errors), FirstError: rep.FirstError, Around: around(aroundA, aroundB)}
	// The targets' window is the floor process's whole life, its start and
	// exit included: a few milliseconds more than its own.
	res.CPUPer1000 = perThousand(rep.CPUSeconds, int64(rep.Probes))
	res.TargetCPUPer1000 = perThousand(res.Around.TargetCPUSeconds, int64(rep.Probes))
	if rep.Behind > 0.1 {
		res.FirstError = strings.TrimSpace(res.FirstError + fmt.Sprintf(" (pacing fell %.2fs behind)", rep.Behind))
	}
	return res, nil
}

// bareRate is how often the bare client asks the 50 ms target: enough samples
// for a p99, too few to load the machine.
const bareRate = 10

// bareClient is the floor loop asking the 50 ms target alongside a
// measurement: what a client with no scheduler, no metrics and no garbage of
// its own measures in the same seconds, so that the probers' fidelity errors
// can be told apart from the machine's and the target's.
type bareClient struct {
	p   *proc
	out *strings.Builder
}

func (h *harness) startBareClient(name string, d time.Duration) (*bareClient, error) {
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &bareClient{out: &strings.Builder{}}
	var err error
	c.p, err = startCapture(name+"-bare", dir, c.out, h.floorBin, "-mode=http", "-targets="+strings.Join(h.slowAddrs, ","),
		"-path="+target.SlowPath, "-rate="+strconv.Itoa(bareRate), "-duration="+d.String(), "-record")
	return c, err
}

// errors waits for the client and returns its durations minus 50 ms.
func (c *bareClient) errors(ctx context.Context) ([]float64, error) {
	select {
	case <-c.p.done:
	case <-ctx.Done():
		_ = c.p.stop(5 * time.Second)
		return nil, errStopped
	case <-time.After(10 * time.Minute):
		_ = c.p.stop(5 * time.Second)
		return nil, fmt.Errorf("%s did not end", c.p.name)
	}
	_ = c.p.stop(time.Second)
	if c.p.err != nil {
		return nil, fmt.Errorf("%s: %v", c.p.name, c.p.err)
	}
	var rep struct {
		Durations []float64 `json:"durations"`
	}
	if err := json.Unmarshal([]byte(c.out.String()), &rep); err != nil {
		return nil, fmt.Errorf("%s: read report: %w", c.p.name, err)
	}
	out := make([]float64, len(rep.Durations))
	for i, d := range rep.Durations {
		out[i] = d - target.SlowDelay.Seconds()
	}
	return out, nil
}
