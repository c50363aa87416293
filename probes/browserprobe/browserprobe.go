package browserprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of a browser run, in order: start (waiting for a free browser and
// starting it), navigate (until the load event), the page's own milestones
// from the Navigation Timing API, each measured from the start of the
// navigation (ttfb, dom_content_loaded, load, and lcp when the browser
// reports a largest contentful paint), then step_N per step (N from 1).
const (
	phaseStart            = "start"
	phaseNavigate         = "navigate"
	phaseTTFB             = "ttfb"
	phaseDOMContentLoaded = "dom_content_loaded"
	phaseLoad             = "load"
	phaseLCP              = "lcp"
)

func stepPhase(i int) string { return "step_" + strconv.Itoa(i+1) }

// screenshotReserve is the part of a run's time kept back from its steps so
// that a failed step still leaves time for the screenshot; at most a quarter
// of the time the run has.
const screenshotReserve = 2 * time.Second

// exitAsks bounds how many times explain asks chromedp for the exit status of
// a browser that died mid-run (each ask waits up to a second for the reaping).
const exitAsks = 5

// retryInterval is how often a step looks for its element: often enough to
// add little to a step's time, rarely enough to leave the browser's CPU to
// the page.
const retryInterval = 20 * time.Millisecond

// errNoBrowser fails every run of a browser check on an agent without one.
var errNoBrowser = errors.New("no browser: the agent found no Chromium (install chromium or set agent.browser.path)")

// action is one step ready to run.
type action struct {
	verb      string // the step's key: "click", "type", ...
	selector  string
	text      string         // type: the text; assert_text: what it must contain
	attribute string         // assert_attribute: the attribute's name
	matches   *regexp.Regexp // assert_attribute: what its value must match
}

// Prober runs browser checks: each run borrows a fresh browser from
// probes.Options.Browser, opens the page, runs the steps and gives the browser
// back.
type Prober struct {
	plan        *plan
	checkID     string
	logger      *slog.Logger
	browser     probes.Browser
	screenshots *screenshots // nil when the agent keeps no artifacts
}

// New builds a Prober from a validated Config. A nil opts.Browser is not an
// error here (the config is valid); every run then fails saying so.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("browser probe %s: %w", opts.CheckID, err)
	}
	prober := &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger, browser: opts.Browser}
	if prober.logger == nil {
		prober.logger = slog.New(slog.DiscardHandler)
	}
	if opts.ArtifactDir != "" {
		prober.screenshots = &screenshots{dir: opts.ArtifactDir, prefix: sanitize(opts.CheckID) + "-", keep: p.keepScreenshots}
	}
	return prober, nil
}

// Probe runs the check once. It returns by ctx's deadline, and at once when
// ctx is canceled; the browser it used is ended before it returns.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "browser", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and Browser info.
func (p *Prober) run(ctx context.Context, r *probes.Result) error {
	info := &probes.BrowserInfo{}
	r.Browser = info
	if p.browser == nil {
		return errNoBrowser
	}
	start := time.Now()
	tab, release, err := p.browser.Allocate(ctx)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseStart, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("start browser: %w", err)
	}
	defer release()

	actx, cancel := stepContext(ctx, tab)
	defer cancel()
	w := newWatcher()
	if err := chromedp.Listen(actx, w.event); err != nil {
		return p.explain(ctx, tab, "watch the page", err)
	}
	err = p.drive(ctx, tab, actx, r)
	info.ConsoleErrors, info.FailedRequests = w.lists()
	if err == nil {
		err = p.judge(info)
	}
	if err != nil && p.screenshots != nil && tab.Err() == nil && ctx.Err() == nil {
		name, shotErr := p.screenshots.take(ctx, tab)
		if shotErr != nil {
			p.logger.Debug("browser screenshot failed", slog.String("check", p.checkID), slog.String("err", shotErr.Error()))
		}
		info.Screenshot = name
	}
	return err
}

// stepContext is the context the page's actions run in: the browser's tab,
// ended by ctx's cancellation and by its deadline less a reserve for the
// screenshot.
func stepContext(ctx, tab context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(tab)
	if deadline, ok := ctx.Deadline(); ok {
		reserve := min(screenshotReserve, time.Until(deadline)/4)
		actx, cancel = context.WithDeadline(tab, deadline.Add(-reserve))
	}
	stop := context.AfterFunc(ctx, cancel)
	return actx, func() { stop(); cancel() }
}

// drive opens the page, reads its timings and runs the steps.
func (p *Prober) drive(ctx, tab, actx context.Context, r *probes.Result) error {
	if _, err := chromedp.Run(actx, chromedp.EmulateViewport(p.plan.width, p.plan.height)); err != nil {
		return p.explain(ctx, tab, "set viewport", err)
	}
	start := time.Now()
	resp, err := chromedp.Run(actx, chromedp.NavigateResponse(p.plan.url))
	r.Phases = append(r.Phases, probes.Phase{Name: phaseNavigate, Duration: time.Since(start)})
	what := "navigate " + p.plan.url
	if err != nil {
		return p.explain(ctx, tab, what, err)
	}
	if resp != nil && resp.Status >= 400 {
		return fmt.Errorf("%s: status %d %s", what, resp.Status, resp.StatusText)
	}
	timings, err := chromedp.Run(actx, chromedp.Evaluate[navigationTimings](timingsJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return p.explain(ctx, tab, "read navigation timings", err)
	}
	r.Phases = append(r.Phases, timings.phases()...)

	for i, a := range p.plan.steps {
		start := time.Now()
		err := p.step(actx, a)
		r.Phases = append(r.Phases, probes.Phase{Name: stepPhase(i), Duration: time.Since(start)})
		if err != nil {
			return p.explain(ctx, tab, fmt.Sprintf("step %d %s", i+1, a.describe()), err)
		}
	}
	return nil
}

// step does one action on the page.
func (p *Prober) step(ctx context.Context, a action) error {
	sel := chromedp.CSS(a.selector)
	every := chromedp.RetryInterval(retryInterval)
	switch a.verb {
	case "wait_visible":
		return chromedp.Do(ctx, chromedp.WaitVisible(sel, every))
	case "click":
		return chromedp.Do(ctx, chromedp.Click(sel, every))
	case "type":
		return chromedp.Do(ctx, chromedp.SendKeys(sel, a.text, every))
	case "assert_text":
		text, err := chromedp.Run(ctx, chromedp.Text(sel, every, chromedp.NodeVisible))
		if err != nil {
			return err
		}
		if !strings.Contains(text, a.text) {
			return fmt.Errorf("text %q does not contain %q", clip(text), a.text)
		}
		return nil
	case "assert_attribute":
		attr, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, a.attribute, every))
		switch {
		case err != nil:
			return err
		case !attr.Exists:
			return fmt.Errorf("no attribute %s", a.attribute)
		case !a.matches.MatchString(attr.Value):
			return fmt.Errorf("attribute %s=%q does not match %q", a.attribute, clip(attr.Value), a.matches)
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", a.verb) // compile lets none through
}

// explain turns an action's error into the run's: what was being done, and
// why it stopped when the browser died or the run's time ran out (chromedp
// reports both as a canceled context).
//
// A browser that dies fails the action with a canceled context before the
// tab's own context is canceled, and chromedp gives the process's exit status
// only once it has reaped it (waiting a second at most each time it is
// asked), so a run that is not itself canceled asks again, within its time.
func (p *Prober) explain(ctx, tab context.Context, what string, err error) error {
	if ctx.Err() == nil && (tab.Err() != nil || errors.Is(err, context.Canceled)) {
		var exit *exec.ExitError
		for range exitAsks {
			if errors.As(err, &exit) || ctx.Err() != nil {
				break
			}
			again := chromedp.Do(tab)
			if again == nil {
				break
			}
			err = again
		}
		if exit != nil {
			return fmt.Errorf("%s: the browser exited during the run (%w)", what, exit)
		}
		return fmt.Errorf("%s: the browser went away during the run: %s", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%s: still waiting when the run's time ran out: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// judge fails a run whose steps passed when the page logged console errors or
// had failed requests and the check says so.
func (p *Prober) judge(info *probes.BrowserInfo) error {
	if p.plan.failOnConsoleError && len(info.ConsoleErrors) > 0 {
		return fmt.Errorf("console error: %s%s", info.ConsoleErrors[0], more(len(info.ConsoleErrors)))
	}
	if p.plan.failOnRequestError && len(info.FailedRequests) > 0 {
		return fmt.Errorf("failed request: %s%s", info.FailedRequests[0], more(len(info.FailedRequests)))
	}
	return nil
}

// more says how many more of a list there were, for an error naming the first.
func more(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n-1)
}

// clipLen bounds page text quoted in errors.
const clipLen = 200

// clip shortens s to clipLen bytes (on a rune boundary) for an error.
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	cut := clipLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// navigationTimings are the page's milestones in milliseconds from the start
// of its navigation; 0 when the browser did not give one.
type navigationTimings struct {
	TTFB             float64 `json:"ttfb"`
	DOMContentLoaded float64 `json:"dcl"`
	Load             float64 `json:"load"`
	LCP              float64 `json:"lcp"`
}

// timingsJS reads the navigation entry and the largest contentful paint so
// far: the buffered entries the observer is handed, or 0 when none comes
// within lcpWaitMS (a page that paints no text or image has none).
const timingsJS = `(async () => {
	const n = performance.getEntriesByType('navigation')[0];
	if (!n) return {ttfb: 0, dcl: 0, load: 0, lcp: 0};
	const lcp = await new Promise(resolve => {
		try {
			const po = new PerformanceObserver(list => {
				const all = list.getEntries();
				po.disconnect();
				resolve(all.length ? all[all.length - 1].startTime : 0);
			});
			po.observe({type: 'largest-contentful-paint', buffered: true});
		} catch (e) {
			resolve(0);
			return;
		}
		setTimeout(() => resolve(0), ` + lcpWaitMS + `);
	});
	const since = t => t > 0 ? t - n.startTime : 0;
	return {
		ttfb: since(n.responseStart),
		dcl: since(n.domContentLoadedEventEnd),
		load: since(n.loadEventEnd || n.loadEventStart),
		lcp: lcp,
	};
})()`

// lcpWaitMS is how long timingsJS waits for a largest contentful paint, in
// milliseconds: a frame or two after the load event is enough for a page that
// has painted.
const lcpWaitMS = "100"

// phases lists the milestones the browser gave.
func (t navigationTimings) phases() []probes.Phase {
	var out []probes.Phase
	for _, m := range []struct {
		name string
		ms   float64
	}{{phaseTTFB, t.TTFB}, {phaseDOMContentLoaded, t.DOMContentLoaded}, {phaseLoad, t.Load}, {phaseLCP, t.LCP}} {
		if m.ms > 0 {
			out = append(out, probes.Phase{Name: m.name, Duration: time.Duration(m.ms * float64(time.Millisecond))})
		}
	}
	return out
}
