// Command benchrun is the benchmark harness of issue 7: on this machine it
// runs Vigil, blackbox_exporter and a bare floor loop against loopback targets
// in processes of their own, one after the other and repeated, measures each
// from the outside (/proc CPU and memory, /metrics), and writes the table to
// RESULTS.md. bench/run.sh builds everything and runs it; see bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
	"github.com/vigil-monitoring/vigil/internal/config"
)

// plan is the size and length of a harness run.
type plan struct {
	Quick            bool
	Reps             int
	HTTPChecks       []int
	Interval         time.Duration
	Window           time.Duration // steady window of each agent and peer run
	FloorWindow      time.Duration
	Warmup           time.Duration // blackbox_exporter's, before its window
	Fidelity         int           // 50 ms checks added to the HTTP load
	FidelityInterval time.Duration
	IdleInterval     time.Duration // fidelity at idle: checks' interval
	IdlePeriods      int
	DNSChecks        int
	DNSInterval      time.Duration
	DNSWindow        time.Duration
	ExpoRepeats      int
	// Connect and echo (issue 18): TCP connects and ICMP echoes, each
	// ConnectChecks checks every ConnectInterval, measured over ConnectWindow.
	ConnectChecks   int
	ConnectInterval time.Duration
	ConnectWindow   time.Duration
	// Sizing (issue 22): Vigil alone at each of SizingChecks HTTP checks
	// every Interval, measured over SizingWindow, for the marginal cost of
	// an added check.
	SizingChecks []int
	SizingWindow time.Duration
	// Parts are the measurements to run: http, idle, dns, tcp, icmp, sizing.
	Parts map[string]bool
}

func fullPlan() plan {
	return plan{Reps: 3, HTTPChecks: []int{1000, 10000}, Interval: 10 * time.Second, Window: 20 * time.Second,
		FloorWindow: 10 * time.Second, Warmup: 4 * time.Second, Fidelity: 100, FidelityInterval: 30 * time.Second,
		IdleInterval: 2 * time.Second, IdlePeriods: 5, DNSChecks: 1000, DNSInterval: time.Second, DNSWindow: 10 * time.Second,
		ExpoRepeats: 5, ConnectChecks: 1000, ConnectInterval: 10 * time.Second, ConnectWindow: 30 * time.Second,
		SizingChecks: []int{10000, 50000}, SizingWindow: 20 * time.Second}
}

func quickPlan() plan {
	return plan{Quick: true, Reps: 1, HTTPChecks: []int{1000, 10000}, Interval: 10 * time.Second, Window: 10 * time.Second,
		FloorWindow: 5 * time.Second, Warmup: 3 * time.Second, Fidelity: 50, FidelityInterval: 30 * time.Second,
		IdleInterval: 2 * time.Second, IdlePeriods: 3, DNSChecks: 1000, DNSInterval: time.Second, DNSWindow: 5 * time.Second,
		ExpoRepeats: 3, ConnectChecks: 1000, ConnectInterval: 10 * time.Second, ConnectWindow: 10 * time.Second,
		SizingChecks: []int{10000, 50000}, SizingWindow: 10 * time.Second}
}

// harness holds what every measurement needs.
type harness struct {
	plan                            plan
	work                            string
	vigilBin, blackboxBin, floorBin string
	targetBin, dnsTargetBin         string
	httpAddrs, dnsAddrs             []string
	slowAddrs                       []string // the fidelity target's
	httpTimeout, dnsTimeout         time.Duration
	// targets are every target process (HTTP, 50 ms, DNS), whose CPU is
	// reported beside each prober's.
	targets []*proc
	// profile is -profile: the metrics profile of every agent run, or ""
	// for each part's default (profileFor).
	profile string
	log     func(format string, args ...any)
}

func main() {
	bin := flag.String("bin", "bench/out/bin", "directory holding vigil, target, dnstarget and floor")
	blackbox := flag.String("blackbox", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	work := flag.String("work", "bench/out", "directory for configs, logs and raw results")
	out := flag.String("out", "bench/RESULTS.md", "results file to write")
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "smoke run: one repetition, short windows (BENCH_QUICK=1)")
	reps := flag.Int("reps", 0, "repetitions (default 3, quick 1)")
	goBench := flag.String("gobench", "", "file with the Go benchmark output to include")
	command := flag.String("command", "bench/run.sh", "the command line to print in the results")
	checks := flag.String("checks", "", "comma-separated HTTP check counts instead of the plan's (experiments)")
	parts := flag.String("parts", "http,idle,dns,tcp,icmp", "which measurements to run: http, idle, dns, tcp, icmp, sizing")
	profile := flag.String("profile", "", "metrics profile of the agent runs: basic, standard or full (default: basic from 50,000 checks and in the sizing part, the agent's own default below)")
	sizingChecks := flag.String("sizing-checks", "", "comma-separated HTTP check counts of the sizing part (default 10000,50000)")
	sizingWindow := flag.Duration("sizing-window", 0, "steady window of the sizing part (default 20s, quick 10s)")
	targetProcs := flag.Int("target-procs", 1, "processes sharing the bulk HTTP target's 8 addresses (1-8)")
	rawTarget := flag.Bool("raw-target", false, "bulk HTTP target answers with a canned response and closes at once, without net/http (cmd/target -raw): less of the shared CPU at 50,000 checks")
	pairRate := flag.Float64("pair-rate", defaultPairRate, "most new connections a second on one target address/port pair; the target gets more ports when the plan needs them")
	connectWindow := flag.Duration("connect-window", 0, "steady window of the tcp and icmp parts (default 30s, quick 10s)")
	flag.Parse()

	p := fullPlan()
	if *quick {
		p = quickPlan()
	}
	if *reps > 0 {
		p.Reps = *reps
	}
	var err error
	if *checks != "" {
		if p.HTTPChecks, err = parseCounts(*checks); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun: -checks:", err)
			os.Exit(2)
		}
	}
	if *sizingChecks != "" {
		if p.SizingChecks, err = parseCounts(*sizingChecks); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun: -sizing-checks:", err)
			os.Exit(2)
		}
	}
	if *connectWindow > 0 {
		p.ConnectWindow = *connectWindow
	}
	if *sizingWindow > 0 {
		p.SizingWindow = *sizingWindow
	}
	if *profile != "" && !slices.Contains(config.MetricsProfiles, *profile) {
		fmt.Fprintf(os.Stderr, "benchrun: -profile: %q is not one of %s\n", *profile, strings.Join(config.MetricsProfiles, ", "))
		os.Exit(2)
	}
	if *pairRate <= 0 {
		fmt.Fprintf(os.Stderr, "benchrun: -pair-rate: %v is not a rate\n", *pairRate)
		os.Exit(2)
	}
	p.Parts = map[string]bool{}
	for _, part := range strings.Split(*parts, ",") {
		switch part = strings.TrimSpace(part); part {
		case "http", "idle", "dns", "tcp", "icmp", "sizing":
			p.Parts[part] = true
		default:
			fmt.Fprintf(os.Stderr, "benchrun: -parts: %q is not http, idle, dns, tcp, icmp or sizing\n", part)
			os.Exit(2)
		}
	}
	h := &harness{plan: p, work: *work, blackboxBin: *blackbox,
		vigilBin: filepath.Join(*bin, "vigil"), floorBin: filepath.Join(*bin, "floor"),
		targetBin: filepath.Join(*bin, "target"), dnsTargetBin: filepath.Join(*bin, "dnstarget"),
		httpTimeout: 5 * time.Second, dnsTimeout: p.DNSInterval * 8 / 10, profile: *profile,
		log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = h.run(ctx, *out, *goBench, *command, targetOptions{Procs: *targetProcs, PairRate: *pairRate, Raw: *rawTarget})
	stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// parseCounts reads a comma-separated list of check counts.
func parseCounts(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// results is everything one harness run measured.
type results struct {
	Plan    plan
	Machine machine
	Started time.Time
	Elapsed time.Duration
	HTTP    map[int][]httpRep
	Idle    []idleRep
	DNS     []dnsRep
	// Connect holds the issue 18 parts by kind: "tcp", "icmp".
	Connect map[string][]connectRep
	// Sizing holds the sizing part's agent runs by check count.
	Sizing map[int][]*vigilResult
	// Targets describes the HTTP target's layout.
	Targets targetLayout
	GoBench string
	Command string
	// LoadAfter is /proc/loadavg when the run ended.
	LoadAfter string
}

type httpRep struct {
	Vigil           *vigilResult
	Blackbox, Floor *peerResult
}

type idleRep struct {
	Vigil    *vigilResult
	Blackbox *peerResult
}

type dnsRep struct {
	Vigil           *vigilResult
	Blackbox, Floor *peerResult
}

// targetOptions are the bulk HTTP target's flags.
type targetOptions struct {
	Procs    int
	PairRate float64
	Raw      bool
}

// targetLayout is how the bulk HTTP target was spread.
type targetLayout struct {
	Processes, Listeners int
	Raw                  bool
	// PairRate is the most new connections a second on one address/port
	// pair at the plan's highest rate.
	MaxRate, PairRate float64
}

func (h *harness) run(ctx context.Context, out, goBenchFile, command string, topt targetOptions) error {
	if err := os.MkdirAll(h.work, 0o755); err != nil {
		return err
	}
	res := &results{Plan: h.plan, Started: time.Now(), HTTP: map[int][]httpRep{}, Command: command,
		Connect: map[string][]connectRep{}, Sizing: map[int][]*vigilResult{}}
	res.Machine = readMachine(h.vigilBin, h.blackboxBin)
	p0 := h.plan
	if goBenchFile != "" {
		b, err := os.ReadFile(goBenchFile)
		if err != nil {
			return fmt.Errorf("-gobench: %w", err)
		}
		res.GoBench = string(b)
	}

	httpTargets, httpAddrs, err := h.startHTTPTargets(topt)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range httpTargets {
			_ = t.stop(10 * time.Second)
		}
	}()
	res.Targets = targetLayout{Processes: len(httpTargets), Listeners: len(httpAddrs), Raw: topt.Raw, MaxRate: p0.maxHTTPRate()}
	res.Targets.PairRate = res.Targets.MaxRate / float64(len(httpAddrs))
	// The 50 ms target has a process of its own: in the bulk target's, its
	// timers would wait behind a thousand requests a second, and that delay
	// would count as every prober's error. For the same reason it runs at a
	// higher priority where the harness may raise it (nice -n -10 as root):
	// it must answer after 50 ms even while the probers' load holds both
	// cores, so that what is measured is the probers' error.
	slowBin, slowArgs := h.targetBin, []string{"-first-host=10", "-hosts=1", "-ports=2"}
	if nice, err := exec.LookPath("nice"); err == nil && os.Geteuid() == 0 {
		slowBin, slowArgs = nice, append([]string{"-n", "-10", h.targetBin}, slowArgs...)
	}
	slowTarget, slowAddrs, err := startTarget("slowtarget", h.work, slowBin, slowArgs...)
	if err != nil {
		return err
	}
	defer func() { _ = slowTarget.stop(10 * time.Second) }()
	dnsTarget, dnsAddrs, err := startTarget("dnstarget", h.work, h.dnsTargetBin, "-first-host=2", "-hosts=4", "-ports=2")
	if err != nil {
		return err
	}
	defer func() { _ = dnsTarget.stop(10 * time.Second) }()
	h.httpAddrs, h.slowAddrs, h.dnsAddrs = httpAddrs, slowAddrs, dnsAddrs
	h.targets = append(slices.Clone(httpTargets), slowTarget, dnsTarget)
	h.log("targets: %d http listeners in %d process(es), at most %.0f new connections/s each; %d dns listeners",
		len(httpAddrs), len(httpTargets), res.Targets.PairRate, len(dnsAddrs))

	p := h.plan
	for rep := range p.Reps {
		for _, n := range p.HTTPChecks {
			if !p.Parts["http"] {
				break
			}
			r, err := h.httpRep(ctx, rep, n)
			if err != nil {
				return fmt.Errorf("http n=%d rep %d: %w", n, rep+1, err)
			}
			res.HTTP[n] = append(res.HTTP[n], r)
		}
		if p.Parts["idle"] {
			r, err := h.idleRep(ctx, rep)
			if err != nil {
				return fmt.Errorf("fidelity at idle rep %d: %w", rep+1, err)
			}
			res.Idle = append(res.Idle, r)
		}
		if p.Parts["dns"] {
			d, err := h.dnsRep(ctx, rep)
			if err != nil {
				return fmt.Errorf("dns rep %d: %w", rep+1, err)
			}
			res.DNS = append(res.DNS, d)
		}
		for _, kind := range connectKinds {
			if !p.Parts[kind] {
				continue
			}
			c, err := h.connectRep(ctx, rep, kind)
			if err != nil {
				return fmt.Errorf("%s rep %d: %w", kind, rep+1, err)
			}
			res.Connect[kind] = append(res.Connect[kind], c)
		}
		for _, n := range p.SizingChecks {
			if !p.Parts["sizing"] {
				break
			}
			v, err := h.sizingRun(ctx, rep, n)
			if err != nil {
				return fmt.Errorf("sizing n=%d rep %d: %w", n, rep+1, err)
			}
			res.Sizing[n] = append(res.Sizing[n], v)
		}
	}
	res.Elapsed = time.Since(res.Started)
	res.LoadAfter = loadAverage()

	if err := os.WriteFile(out, []byte(renderResults(res)), 0o644); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return fmt.Errorf("raw results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(h.work, "results.json"), raw, 0o644); err != nil {
		return err
	}
	h.log("wrote %s in %v", out, res.Elapsed.Round(time.Second))
	return nil
}

// order rotates which of the three measurements goes first in a repetition,
// so a drift of the shared machine does not always favour the same one.
func order(rep int, steps ...func() error) error {
	for i := range steps {
		if err := steps[(i+rep)%len(steps)](); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) httpRep(ctx context.Context, rep, n int) (httpRep, error) {
	p := h.plan
	w := workload.HTTP(n, p.Interval, p.Fidelity, p.FidelityInterval, h.httpAddrs, h.slowAddrs)
	var r httpRep
	err := order(rep,
		func() (err error) {
			h.log("rep %d http n=%d: vigil", rep+1, n)
			r.Vigil, err = h.runVigil(ctx, vigilRun{name: fmt.Sprintf("vigil-http-%d-r%d", n, rep+1), load: w,
				window: p.Window, firstWait: p.Interval + p.Interval/20, expoRepeats: p.ExpoRepeats,
				profile: h.profileFor("http", n)})
			return err
		},
		func() (err error) {
			h.log("rep %d http n=%d: blackbox_exporter", rep+1, n)
			r.Blackbox, err = h.runBlackbox(ctx, fmt.Sprintf("blackbox-http-%d-r%d", n, rep+1), w, "http_2xx", p.Warmup, p.Window)
			return err
		},
		func() (err error) {
			h.log("rep %d http n=%d: floor", rep+1, n)
			r.Floor, err = h.runFloor(ctx, fmt.Sprintf("floor-http-%d-r%d", n, rep+1), "http", h.httpAddrs,
				float64(n)/p.Interval.Seconds(), p.FloorWindow)
			return err
		})
	return r, err
}

func (h *harness) idleRep(ctx context.Context, rep int) (idleRep, error) {
	p := h.plan
	w := workload.HTTP(0, p.IdleInterval, p.Fidelity, p.IdleInterval, h.httpAddrs, h.slowAddrs)
	var r idleRep
	err := order(rep,
		func() (err error) {
			h.log("rep %d fidelity at idle: vigil", rep+1)
			r.Vigil, err = h.runVigilIdle(ctx, fmt.Sprintf("vigil-idle-r%d", rep+1), w, p.IdlePeriods)
			return err
		},
		func() (err error) {
			h.log("rep %d fidelity at idle: blackbox_exporter", rep+1)
			r.Blackbox, err = h.runBlackbox(ctx, fmt.Sprintf("blackbox-idle-r%d", rep+1), w, "http_2xx",
				p.IdleInterval, time.Duration(p.IdlePeriods)*p.IdleInterval)
			return err
		})
	return r, err
}

func (h *harness) dnsRep(ctx context.Context, rep int) (dnsRep, error) {
	p := h.plan
	w := workload.DNS(p.DNSChecks, p.DNSInterval, h.dnsAddrs)
	var r dnsRep
	err := order(rep,
		func() (err error) {
			h.log("rep %d dns n=%d: vigil", rep+1, p.DNSChecks)
			r.Vigil, err = h.runVigil(ctx, vigilRun{name: fmt.Sprintf("vigil-dns-r%d", rep+1), load: w,
				window: p.DNSWindow, firstWait: p.DNSInterval + p.DNSInterval/2})
			return err
		},
		func() (err error) {
			h.log("rep %d dns n=%d: blackbox_exporter", rep+1, p.DNSChecks)
			r.Blackbox, err = h.runBlackbox(ctx, fmt.Sprintf("blackbox-dns-r%d", rep+1), w, "dns_a", p.Warmup/2, p.DNSWindow)
			return err
		},
		func() (err error) {
			h.log("rep %d dns n=%d: floor", rep+1, p.DNSChecks)
			r.Floor, err = h.runFloor(ctx, fmt.Sprintf("floor-dns-r%d", rep+1), "dns", h.dnsAddrs,
				float64(p.DNSChecks)/p.DNSInterval.Seconds(), p.DNSWindow/2)
			return err
		})
	return r, err
}

// basicFrom is the check count from which the agent runs get the basic
// metrics profile unless -profile says otherwise: what docs/operations.md
// tells an operator to set at that size.
const basicFrom = 50000

// profileFor is the metrics profile of an agent run of n checks in part:
// -profile when given; else basic in the sizing part and from basicFrom
// checks, and below that none (the agent's default, standard), as every run
// before issue 22.
func (h *harness) profileFor(part string, n int) string {
	switch {
	case h.profile != "":
		return h.profile
	case part == "sizing" || n >= basicFrom:
		return "basic"
	}
	return ""
}

// sizingRun measures Vigil alone at n HTTP checks (no fidelity checks, no
// exposition timing): the steady window's CPU, RSS and heap, for the
// marginal cost of a check between two sizes.
func (h *harness) sizingRun(ctx context.Context, rep, n int) (*vigilResult, error) {
	p := h.plan
	w := workload.HTTP(n, p.Interval, 0, 0, h.httpAddrs, nil)
	h.log("rep %d sizing n=%d: vigil", rep+1, n)
	return h.runVigil(ctx, vigilRun{name: fmt.Sprintf("vigil-sizing-%d-r%d", n, rep+1), load: w,
		window: p.SizingWindow, firstWait: p.Interval + p.Interval/20, profile: h.profileFor("sizing", n)})
}
