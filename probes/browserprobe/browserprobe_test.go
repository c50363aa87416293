package browserprobe

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func rx(s string) probeconfig.Regexp { return probeconfig.Regexp{Regexp: regexp.MustCompile(s)} }

// probe builds a prober for cfg on pool, keeping screenshots in dir.
func probe(t *testing.T, cfg *Config, pool probes.Browser, dir string) *Prober {
	t.Helper()
	p, err := New(cfg, probes.Options{CheckID: "map/roadview/page", Browser: pool, ArtifactDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runWithin runs p once with a timeout, as the scheduler does.
func runWithin(p *Prober, timeout time.Duration) *probes.Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx)
}

func phaseNames(r *probes.Result) []string {
	var names []string
	for _, ph := range r.Phases {
		names = append(names, ph.Name)
	}
	return names
}

func TestProbe(t *testing.T) {
	site := newApp(t)
	pool := newPool(t, 3)
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String() + "/"
	}()
	journey := []Step{
		{WaitVisible: "h1"},
		{Type: &TypeStep{Selector: "#q", Text: "seoul"}},
		{AssertText: &AssertText{Selector: "#echo", Contains: "you typed seoul"}},
		{Click: "button.go"},
		{WaitVisible: "#roadview"},
		{AssertText: &AssertText{Selector: "#roadview", Contains: "Pangyo"}},
		{AssertAttribute: &AssertAttribute{Selector: "img#pano", Name: "src", Matches: rx("^/tiles/")}},
	}
	const prefix = "browser probe map/roadview/page: "
	tests := []struct {
		name    string
		cfg     Config
		timeout time.Duration
		wantErr string // "" for a passing run; else the whole error
		// Lists the run must report (as substrings, in order).
		console, failed []string
		timedOut        bool
	}{
		{name: "passing journey", cfg: Config{URL: site.URL + "/", Steps: journey}},
		{name: "missing element", timeout: 12 * time.Second,
			cfg:     Config{URL: site.URL + "/", Steps: []Step{{WaitVisible: "h1"}, {WaitVisible: "#panorama-that-never-comes"}}},
			wantErr: prefix + `step 2 wait_visible "#panorama-that-never-comes": still waiting when the run's time ran out: context deadline exceeded`, timedOut: true},
		{name: "text differs",
			cfg:     Config{URL: site.URL + "/", Steps: []Step{{AssertText: &AssertText{Selector: "h1", Contains: "Sea view"}}}},
			wantErr: prefix + `step 1 assert_text "h1": text "Road view" does not contain "Sea view"`},
		{name: "attribute differs",
			cfg:     Config{URL: site.URL + "/", Steps: []Step{{AssertAttribute: &AssertAttribute{Selector: "#pano", Name: "src", Matches: rx("^/cdn/")}}}},
			wantErr: prefix + `step 1 assert_attribute "#pano": attribute src="/tiles/1.png" does not match "^/cdn/"`},
		{name: "attribute missing",
			cfg:     Config{URL: site.URL + "/", Steps: []Step{{AssertAttribute: &AssertAttribute{Selector: "#pano", Name: "alt", Matches: rx(".")}}}},
			wantErr: prefix + `step 1 assert_attribute "#pano": no attribute alt`},
		{name: "js error fails when configured",
			cfg:     Config{URL: site.URL + "/jserror", FailOnConsoleError: true, Steps: []Step{{WaitVisible: "h1"}}},
			wantErr: prefix + "console error: Uncaught ReferenceError: missingFunction is not defined (" + site.URL + "/jserror:1:42)",
			console: []string{"Uncaught ReferenceError: missingFunction is not defined"}},
		{name: "js error listed only by default",
			cfg:     Config{URL: site.URL + "/jserror", Steps: []Step{{WaitVisible: "h1"}}},
			console: []string{"Uncaught ReferenceError: missingFunction is not defined"}},
		{name: "console.error fails when configured",
			cfg:     Config{URL: site.URL + "/consoleerror", FailOnConsoleError: true},
			wantErr: prefix + "console error: tiles failed 3 (" + site.URL + "/consoleerror:1:50)",
			console: []string{"tiles failed 3"}},
		{name: "failed request fails when configured",
			cfg:     Config{URL: site.URL + "/brokenimage", FailOnRequestError: true},
			wantErr: prefix + "failed request: GET " + site.URL + "/missing.png: status 404",
			failed:  []string{"GET " + site.URL + "/missing.png: status 404"}},
		{name: "failed request listed only by default",
			cfg:    Config{URL: site.URL + "/brokenimage"},
			failed: []string{"GET " + site.URL + "/missing.png: status 404"}},
		{name: "page answers 503",
			cfg:     Config{URL: site.URL + "/down"},
			wantErr: prefix + "navigate " + site.URL + "/down: status 503 Service Unavailable",
			failed:  []string{"GET " + site.URL + "/down: status 503"}},
		{name: "connection refused",
			cfg:     Config{URL: refused},
			wantErr: prefix + "navigate " + refused + ": page load error net::ERR_CONNECTION_REFUSED",
			failed:  []string{"GET " + refused + ": net::ERR_CONNECTION_REFUSED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			timeout := cmpOr(tt.timeout, 20*time.Second)
			r := runWithin(probe(t, &tt.cfg, pool, dir), timeout)
			if r.ErrorString() != tt.wantErr || r.Success != (tt.wantErr == "") || r.TimedOut != tt.timedOut {
				t.Fatalf("run: success %v, timed out %v, error %q\nwant error %q, timed out %v", r.Success, r.TimedOut, r.ErrorString(), tt.wantErr, tt.timedOut)
			}
			if r.Browser == nil {
				t.Fatal("no BrowserInfo")
			}
			assertListed(t, "console errors", r.Browser.ConsoleErrors, tt.console)
			assertListed(t, "failed requests", r.Browser.FailedRequests, tt.failed)
			shots, _ := os.ReadDir(dir)
			if r.Success {
				if r.Browser.Screenshot != "" || len(shots) != 0 {
					t.Errorf("passing run left a screenshot %q (%d files)", r.Browser.Screenshot, len(shots))
				}
				return
			}
			if tt.name == "connection refused" {
				return // Chromium's error page; a screenshot of it is taken but not interesting
			}
			if !regexp.MustCompile(`^map_roadview_page-\d{13}\.png$`).MatchString(r.Browser.Screenshot) {
				t.Fatalf("screenshot name %q, want map_roadview_page-<unix ms>.png", r.Browser.Screenshot)
			}
			png, err := os.ReadFile(filepath.Join(dir, r.Browser.Screenshot))
			if err != nil {
				t.Fatalf("screenshot not saved: %v", err)
			}
			if len(png) < 1000 || !bytes.HasPrefix(png, pngMagic) {
				t.Errorf("screenshot is %d bytes starting %q, want a PNG of the page", len(png), png[:min(8, len(png))])
			}
		})
	}
	t.Run("passing page timings", func(t *testing.T) {
		t.Parallel()
		r := runWithin(probe(t, &Config{URL: site.URL + "/", Steps: journey}, pool, t.TempDir()), 20*time.Second)
		if !r.Success {
			t.Fatalf("run failed: %v", r.Err)
		}
		names := phaseNames(r)
		want := []string{"start", "navigate", "ttfb", "dom_content_loaded", "load"}
		if len(names) < len(want) || !slices.Equal(names[:len(want)], want) {
			t.Fatalf("phases %v, want them to start with %v", names, want)
		}
		steps := names[len(want):]
		if len(steps) > 0 && steps[0] == "lcp" { // where the browser gives one
			steps = steps[1:]
		}
		if !slices.Equal(steps, []string{"step_1", "step_2", "step_3", "step_4", "step_5", "step_6", "step_7"}) {
			t.Errorf("step phases %v, want step_1..step_7", steps)
		}
		for _, ph := range r.Phases {
			if ph.Duration <= 0 || ph.Duration > r.Duration {
				t.Errorf("phase %s = %v, want in (0, %v]", ph.Name, ph.Duration, r.Duration)
			}
		}
		ttfb, _ := r.Phase("ttfb")
		dcl, _ := r.Phase("dom_content_loaded")
		load, _ := r.Phase("load")
		if !(ttfb <= dcl && dcl <= load) {
			t.Errorf("ttfb %v, dom_content_loaded %v, load %v: want them in that order", ttfb, dcl, load)
		}
		t.Logf("phases: %v", r.Phases)
	})
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// assertListed checks that got holds one entry per want, each containing it.
func assertListed(t *testing.T, what string, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(got[i], want[i])
	}
	if !ok {
		t.Errorf("%s %q, want entries containing %q", what, got, want)
	}
}

func TestProbeWithoutBrowser(t *testing.T) {
	p := probe(t, &Config{URL: "http://127.0.0.1:1/"}, nil, "")
	r := runWithin(p, time.Second)
	want := "browser probe map/roadview/page: no browser: the agent found no Chromium (install chromium or set agent.browser.path)"
	if r.Success || r.ErrorString() != want || r.Browser == nil {
		t.Errorf("run without a browser: success %v, error %q, want %q", r.Success, r.ErrorString(), want)
	}
}

// mainProcess returns the pid of the browser's main process (the test's
// child; its zygotes, renderers and crash handler are not), or 0.
func mainProcess(pool *Pool) int {
	for _, pid := range profileProcesses(pool.ProfilePrefix()) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			return pid
		}
	}
	return 0
}

func TestBrowserKilledMidRun(t *testing.T) {
	site := newApp(t)
	pool := newPool(t, 1)
	cfg := &Config{URL: site.URL + "/slow", Steps: []Step{{WaitVisible: "#never"}}}
	p := probe(t, cfg, pool, t.TempDir())
	done := make(chan *probes.Result, 1)
	go func() { done <- runWithin(p, 30*time.Second) }()
	select {
	case <-site.slow:
	case r := <-done:
		t.Fatalf("run ended before the page was opened: %v", r.Err)
	case <-time.After(20 * time.Second):
		t.Fatal("the page was never requested")
	}
	var pid int
	testenv.WaitFor(t, 5*time.Second, "the browser's main process", func() bool {
		pid = mainProcess(pool)
		return pid != 0
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var r *probes.Result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run went on for 10s after its browser was killed")
	}
	if r.Success || r.TimedOut || !strings.Contains(r.ErrorString(), "the browser exited during the run (signal: killed)") {
		t.Fatalf("run after kill: success %v, timed out %v, error %q; want a failure saying the browser exited", r.Success, r.TimedOut, r.ErrorString())
	}
	if !strings.HasPrefix(r.ErrorString(), "browser probe map/roadview/page: ") {
		t.Errorf("error %q does not name the check", r.ErrorString())
	}
	t.Logf("error after kill: %v", r.Err)
	assertNoBrowsers(t, pool)

	// The next run gets a new browser and passes.
	next := probe(t, &Config{URL: site.URL + "/", Steps: []Step{{WaitVisible: "h1"}}}, pool, t.TempDir())
	if r := runWithin(next, 20*time.Second); !r.Success {
		t.Fatalf("run after the kill failed: %v", r.Err)
	}
	assertNoBrowsers(t, pool)
}
