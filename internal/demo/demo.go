package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/internal/agent"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/probes/browserprobe"
	"github.com/vigil-monitoring/vigil/sla"
)

// DefaultListenAddress is the first agent's web address unless told
// otherwise: loopback, since the demo is for the one at the keyboard.
const DefaultListenAddress = "127.0.0.1:9797"

// Options configure the demo.
type Options struct {
	// ListenAddress is the first agent's web address; the second agent and
	// then the global view take the next ports (or any free ones).
	ListenAddress string
	// StoragePath is the base directory: the history of each region goes to
	// StoragePath/<region>, the stream of their records to
	// StoragePath/global. "" means a new directory under the system's temp
	// directory, so that each run starts from fresh history; it is kept
	// after the demo (the guide names it) for `vigil report`.
	StoragePath string
	// Speed compresses the script: 2 plays it twice as fast. 0 means 1.
	Speed float64
	// Interval overrides every check's interval (0: 2s divided by Speed, at
	// least 100ms); timeouts and latency objectives follow it.
	Interval time.Duration
	// Loop plays the script again and again instead of once.
	Loop   bool
	Logger *slog.Logger
	// Out receives the narration.
	Out io.Writer
}

// Watcher is one region's agent and its web server.
type Watcher struct {
	Region      Region
	Agent       *agent.Agent
	Web         *web.Server
	ConfigFile  string
	StoragePath string
	// URL is the web server's base URL, e.g. http://localhost:9797.
	URL string
}

// PlayedBeat is a beat of the script as it was played.
type PlayedBeat struct {
	Beat
	// Began is when its changes began, At when they were all made.
	Began, At time.Time
	// Down lists the features whose every target was Down after it.
	Down []string
}

// Demo is a running landscape and the agents watching it.
type Demo struct {
	opts      Options
	tm        timing
	landscape *Landscape
	watchers  []*Watcher
	global    *Global
	out       io.Writer
	// browser is why no browser check runs (no Chromium found); nil when
	// one does.
	browser error

	mu     sync.Mutex
	played []PlayedBeat
	// scriptStart is when the script being played began (zero before
	// Play), for the story clock.
	scriptStart time.Time
}

// Start starts the landscape and the stream of the agents' records, writes
// each region's config, and starts the agents, the global view and their web
// servers. Nothing is scripted yet: call Play.
func Start(opts Options) (*Demo, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.StoragePath == "" {
		dir, err := os.MkdirTemp("", "vigil-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: storage: %w", err)
		}
		opts.StoragePath = dir
	}
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	d := &Demo{opts: opts, tm: newTiming(opts.Speed, opts.Interval), out: opts.Out}
	_, d.browser = browserprobe.FindBrowser("")
	var err error
	d.landscape, err = startLandscape(timeline, d.tm, opts.Logger.With("component", "demo-landscape"))
	if err != nil {
		return nil, err
	}
	if d.global, err = startGlobalNATS(opts.StoragePath); err != nil {
		d.landscape.Close()
		return nil, err
	}
	listen := opts.ListenAddress
	for _, r := range regions {
		w, err := d.startWatcher(r, listen)
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		d.watchers = append(d.watchers, w)
		listen = nextAddress(w.Web.Addr(), listen)
	}
	if err := d.global.startRole(listen, opts.Logger.With("component", "global")); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// startWatcher writes r's config under the storage path and starts its agent
// and web server on listen (or any free port of that host, when the next port
// is taken).
func (d *Demo) startWatcher(r Region, listen string) (*Watcher, error) {
	dir := filepath.Join(d.opts.StoragePath, r.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("demo %s: storage: %w", r.Name, err)
	}
	w := &Watcher{Region: r, ConfigFile: filepath.Join(dir, "vigil.yml"), StoragePath: dir}
	if err := os.WriteFile(w.ConfigFile, []byte(renderConfig(r, d.landscape, d.tm, d.global.NATSURL, d.browser == nil)), 0o600); err != nil {
		return nil, fmt.Errorf("demo %s: write config: %w", r.Name, err)
	}
	logger := d.opts.Logger.With("region", r.Name)
	a, err := agent.New(agent.Options{ConfigFile: w.ConfigFile, StoragePath: dir, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("demo %s: %w", r.Name, err)
	}
	w.Agent = a
	webOpts, err := a.WebOptions(web.Options{ListenAddress: listen, Logger: logger, Region: r.Name, StoryClock: d.storyClock}, "")
	if err != nil {
		_ = a.Shutdown(context.Background())
		return nil, fmt.Errorf("demo %s: %w", r.Name, err)
	}
	w.Web = web.New(a, webOpts)
	err = w.Web.Start()
	if err != nil && listen != d.opts.ListenAddress {
		// Only the first address is the user's to choose; the next port may be taken.
		host, _, _ := net.SplitHostPort(listen)
		webOpts.ListenAddress = net.JoinHostPort(host, "0")
		w.Web = web.New(a, webOpts)
		err = w.Web.Start()
	}
	if err != nil {
		_ = a.Shutdown(context.Background())
		return nil, fmt.Errorf("demo %s: %w", r.Name, err)
	}
	w.URL = "http://" + displayAddr(w.Web.Addr())
	return w, nil
}

// nextAddress is the address after bound (the listener of requested): the
// next port on the same host, or port 0 when the request was for any port.
func nextAddress(bound, requested string) string {
	host, reqPort, err := net.SplitHostPort(requested)
	if err != nil || reqPort == "0" || reqPort == "" {
		return net.JoinHostPort(host, "0")
	}
	_, port, err := net.SplitHostPort(bound)
	n, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil || n >= 65535 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// displayAddr turns ":9797" or "[::]:9797" into "localhost:9797" for printing.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}

// storyClock is the time of the story the script is at: one second of the
// script (at speed 1) is one minute of 15 October 2022, held at the end
// once the script is over; zero before it starts.
func (d *Demo) storyClock() time.Time {
	d.mu.Lock()
	start := d.scriptStart
	d.mu.Unlock()
	if start.IsZero() {
		return time.Time{}
	}
	at := time.Duration(float64(time.Since(start)) * d.tm.speed)
	return storyTime(min(at, timeline[len(timeline)-1].At))
}

// StoragePath is the base directory of the demo's history.
func (d *Demo) StoragePath() string { return d.opts.StoragePath }

// Watchers are the agents, the first being kr-central-1.
func (d *Demo) Watchers() []*Watcher { return d.watchers }

// Global is the view across regions the agents publish to.
func (d *Demo) Global() *Global { return d.global }

// Landscape is what the agents watch.
func (d *Demo) Landscape() *Landscape { return d.landscape }

// Played lists the beats played so far (all loops).
func (d *Demo) Played() []PlayedBeat {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]PlayedBeat(nil), d.played...)
}

// PrintGuide tells where to look.
func (d *Demo) PrintGuide() {
	w := d.out
	fmt.Fprintf(w, "Vigil demo: the 15 October 2022 data-center fire, replayed in %s (speed %g).\n",
		d.tm.scaled(scriptLength).Round(time.Second), d.tm.speed)
	fmt.Fprintf(w, "Landscape, in process on loopback: %d HTTP APIs on sites %s and %s, DNS zone %s at %s,\n  %s, WebSocket echo on the chat rooms API.\n",
		len(d.landscape.Targets()), SitePangyo, SiteBusan, zoneOrigin, d.landscape.DNSAddr, d.landscape.brokerAddrs())
	for _, wt := range d.watchers {
		cfg := wt.Agent.Config()
		fmt.Fprintf(w, "\nAgent %s (%q): %d checks every %s\n", wt.Region.Name, wt.Region.Nickname, len(cfg.Checks()), d.tm.interval)
		for _, link := range []struct{ what, path string }{
			{"status page", "/"},
			{"internal", "/internal"},
			{"bulletin", "/bulletin"},
			{"feed", "/feed.atom"},
			{"features", "/api/v1/features"},
			{"outages", "/api/v1/outages"},
			{"incidents", "/api/v1/incidents"},
			{"metrics", "/metrics"},
		} {
			fmt.Fprintf(w, "  %-12s %s%s\n", link.what, wt.URL, link.path)
		}
		fmt.Fprintf(w, "  %-12s %s\n", "config", wt.ConfigFile)
		fmt.Fprintf(w, "  %-12s vigil report --storage.path=%s   (once the demo has stopped)\n", "SLA report", wt.StoragePath)
	}
	d.printGlobalGuide()
	fmt.Fprintln(w, "\nJourney: \"Messages: send / receive\" is also proven as a user does it: log in, send, read back, delete.")
	if d.browser != nil {
		fmt.Fprintf(w, "Browser check: skipped, %v; \"Road view\" is checked without it.\n", d.browser)
	} else {
		fmt.Fprintln(w, "Browser check: \"Road view\" is loaded in headless Chromium until its panel shows (a screenshot when it fails).")
	}
	fmt.Fprintf(w, "\nHistory: %s (fresh for this run unless --storage.path names one).\n", d.opts.StoragePath)
	fmt.Fprintf(w, "Story clock: one second of the script is one minute of that Saturday (speed %g); the pages show it.\n", d.tm.speed)
}

// printGlobalGuide tells where the view across regions is.
func (d *Demo) printGlobalGuide() {
	w, g := d.out, d.global
	fmt.Fprintf(w, "\nGlobal view (vigil global): both agents publish their records to stream %s on %s;\n"+
		"  a feature is down globally when %d regions see it down, regional when fewer do.\n", g.Stream, g.NATSURL, globalMinRegions)
	for _, link := range []struct{ what, path string }{
		{"status page", "/"},
		{"features", "/api/v1/global/features"},
		{"outages", "/api/v1/global/outages"},
		{"report", "/api/v1/global/report"},
		{"metrics", "/metrics"},
	} {
		fmt.Fprintf(w, "  %-12s %s%s\n", link.what, g.URL, link.path)
	}
}

// Play plays the script once, narrating, and returns when it is over or ctx
// is done (then with ctx's error).
func (d *Demo) Play(ctx context.Context) error {
	start := time.Now()
	d.mu.Lock()
	d.scriptStart = start
	d.mu.Unlock()
	for i, beat := range timeline {
		if err := sleepUntil(ctx, start.Add(d.tm.scaled(beat.At))); err != nil {
			return err
		}
		downBefore := len(d.landscape.featuresDown())
		began := time.Now()
		err := d.landscape.apply(beat.Changes)
		pb := PlayedBeat{Beat: beat, Began: began, At: time.Now(), Down: d.landscape.featuresDown()}
		d.mu.Lock()
		d.played = append(d.played, pb)
		d.mu.Unlock()
		say := beat.Say
		if n := len(pb.Down) - downBefore; n > 1 {
			say += fmt.Sprintf(": %d features down", n)
		}
		fmt.Fprintf(d.out, "[%s] %s  %s\n", clock(pb.At.Sub(start)), storyTime(beat.At).Format("15:04"), say)
		if err != nil {
			fmt.Fprintf(d.out, "          (could not bring everything back: %v)\n", err)
		}
		if i == len(timeline)-1 {
			d.printBulletin(beat.At)
			break
		}
		// Say what the agents saw, once they had a few runs to notice.
		next := start.Add(d.tm.scaled(timeline[i+1].At))
		seen := pb.At.Add(5 * d.tm.interval)
		if limit := next.Add(-d.tm.interval / 2); seen.After(limit) {
			seen = limit
		}
		if seen.After(pb.At) {
			if err := sleepUntil(ctx, seen); err != nil {
				return err
			}
			fmt.Fprintf(d.out, "          %s\n", d.seen())
		}
	}
	return nil
}

// sleepUntil waits for t or ctx.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// clock formats elapsed time as mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// stateOrder is how states are listed in the narration.
var stateOrder = []sla.State{sla.StateDown, sla.StateRecovering, sla.StateDegraded, sla.StateUp, sla.StateMaintenance, sla.StateUnknown}

// seen summarises each agent's view: "kr-central-1 sees 21 down, 4 up".
func (d *Demo) seen() string {
	var parts []string
	for _, w := range d.watchers {
		count := map[sla.State]int{}
		for _, f := range w.Agent.Engine().Features() {
			count[f.State]++
		}
		var states []string
		for _, s := range stateOrder {
			if count[s] > 0 {
				states = append(states, fmt.Sprintf("%d %s", count[s], s))
			}
		}
		parts = append(parts, w.Region.Name+" sees "+strings.Join(states, ", "))
	}
	return strings.Join(parts, " · ")
}

// printBulletin prints, per agent, what is not normal: the recovery bulletin
// the agents would publish at that hour.
func (d *Demo) printBulletin(at time.Duration) {
	fmt.Fprintf(d.out, "          Bulletin as of %s (status pages and /bulletin have the full text):\n", storyTime(at).Format("15:04"))
	for _, w := range d.watchers {
		byState := map[sla.State][]string{}
		features := w.Agent.Engine().Features()
		// In the bulletin's order, not the engine's alphabetical one.
		slices.SortStableFunc(features, func(a, b sla.FeatureStatus) int {
			return cmp.Compare(catalogIndex(a.Service, a.Feature), catalogIndex(b.Service, b.Feature))
		})
		for _, f := range features {
			byState[f.State] = append(byState[f.State], f.ServiceTitle+": "+f.Title)
		}
		line := fmt.Sprintf("%d of %d features normal", len(byState[sla.StateUp]), len(features))
		for _, s := range stateOrder {
			if s != sla.StateUp && len(byState[s]) > 0 {
				line += fmt.Sprintf("; %s: %s", s, strings.Join(byState[s], ", "))
			}
		}
		fmt.Fprintf(d.out, "          %s (%s): %s\n", w.Region.Name, w.Region.Nickname, line)
	}
}

// serveErrors yields the first web server failure.
func (d *Demo) serveErrors(ctx context.Context) <-chan error {
	servers := map[string]*web.Server{"global": d.global.Web}
	for _, w := range d.watchers {
		servers[w.Region.Name] = w.Web
	}
	failed := make(chan error, len(servers))
	for name, srv := range servers {
		go func() {
			select {
			case err := <-srv.Done():
				if err != nil {
					failed <- fmt.Errorf("demo %s: web server: %w", name, err)
				}
			case <-ctx.Done():
			}
		}()
	}
	return failed
}

// Close stops the web servers and the global role, then the agents (so that
// no check fails because of the shutdown), then the stream's server and the
// landscape.
func (d *Demo) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, w := range d.watchers {
		if err := w.Web.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("demo %s: stop web server: %w", w.Region.Name, err))
		}
	}
	if err := d.global.stopRole(ctx); err != nil {
		errs = append(errs, err)
	}
	var wg sync.WaitGroup
	agentErrs := make([]error, len(d.watchers))
	for i, w := range d.watchers {
		wg.Go(func() {
			if err := w.Agent.Shutdown(ctx); err != nil {
				agentErrs[i] = fmt.Errorf("demo %s: stop agent: %w", w.Region.Name, err)
			}
		})
	}
	wg.Wait()
	d.global.stopNATS()
	d.landscape.Close()
	return errors.Join(append(errs, agentErrs...)...)
}

// Run starts the demo, prints where to look, plays the script (once, or over
// and over with Loop), then keeps serving until ctx is done.
func Run(ctx context.Context, opts Options) (err error) {
	d, err := Start(opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	d.PrintGuide()
	fmt.Fprintln(d.out, "Press Ctrl-C to stop.")
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	serveCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	failed := d.serveErrors(serveCtx)
	go func() {
		select {
		case err := <-failed:
			cancel(err)
		case <-serveCtx.Done():
		}
	}()
	for round := 1; ; round++ {
		if round > 1 {
			fmt.Fprintf(d.out, "\nThe script again (round %d): the site is rebuilt, calm returns.\n", round)
		}
		if err := d.Play(ctx); err != nil {
			return failure(ctx)
		}
		if !d.opts.Loop {
			break
		}
	}
	fmt.Fprintln(d.out, "\nThe script is over; the agents keep watching (states settle as restored data is trusted). Press Ctrl-C to stop.")
	<-ctx.Done()
	return failure(ctx)
}

// failure is why ctx ended when that is a failure (a web server died), nil
// when it was the caller's cancellation (Ctrl-C).
func failure(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}
