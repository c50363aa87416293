package web

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
)

// chromiumPath finds the browser: $VIGIL_TEST_CHROMIUM, else Debian's
// /usr/bin/chromium. Missing, the test skips loudly, or fails under CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("VIGIL_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		testenv.Need(t, "no chromium at %s for the browser test (apt-get install chromium, or set VIGIL_TEST_CHROMIUM): %v", path, err)
	}
	return path
}

// browser starts a headless chromium with a fresh profile; it is stopped
// when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
	})
	// Start the browser now, without a deadline (a deadline on the first
	// run would bound the browser's whole life).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// serve starts s on loopback until the test ends.
func serve(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(shutdownCtx)
		<-s.Done()
	})
}

// evaluator returns a function that evaluates a JavaScript expression of
// string value in the browser's page, failing the test on an error.
func evaluator(t *testing.T, ctx context.Context) func(expr string) string {
	return func(expr string) string {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(stepCtx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
}

// consoleLog records what the page writes to the console: errors,
// exceptions, CSP violations and failed loads show up there.
type consoleLog struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	added    chan struct{} // signalled after each message
	stop     context.CancelFunc
	done     chan struct{}
}

func watchConsole(ctx context.Context) *consoleLog {
	ctx, stop := context.WithCancel(ctx)
	c := &consoleLog{stop: stop, done: make(chan struct{}), added: make(chan struct{}, 1)}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.messages = append(c.messages, m)
			c.mu.Unlock()
			select {
			case c.added <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

// waitFor waits until a message containing text arrived, up to timeout:
// console events come apart from the evaluation that caused them.
func (c *consoleLog) waitFor(text string, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for _, m := range c.messages {
			if strings.Contains(m.Text, text) {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		select {
		case <-c.added:
		case <-deadline.C:
			return false
		}
	}
}

// problems stops watching and returns the errors, warnings and exceptions.
func (c *consoleLog) problems() []string {
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.messages {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			out = append(out, m.String()+" at "+m.URL)
		}
	}
	return out
}

// screenshot captures the viewport and checks it decodes as a PNG of the
// viewport's size; it is saved in dir.
func screenshot(t *testing.T, ctx context.Context, dir, name string, width, height int) []byte {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("screenshot %s is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), width, height)
	}
	// A blank or unstyled page has few colors: the badges, banner and bars
	// give many.
	colors := map[[3]uint32]bool{}
	for y := 0; y < height; y += 4 {
		for x := 0; x < width; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if len(colors) < 8 {
		t.Errorf("screenshot %s has %d colors: blank or unstyled?", name, len(colors))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %s (%d bytes)", name, path, len(buf))
	return buf
}

// lowContrastJS lists the colored text elements whose contrast with their
// background (their own or the nearest ancestor's) is below 4.5:1.
const lowContrastJS = `(() => {
  const rgb = s => s.match(/[\d.]+/g).slice(0, 4).map(Number);
  const lum = c => { const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  const low = [];
  for (const el of document.querySelectorAll(".badge, .summary, .banner p, .miss, .meta, .asof, a, .scale, .legend li")) {
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(el.className + " " + el.textContent.trim().slice(0, 30) + " " + ratio.toFixed(2));
  }
  return low.join("; ");
})()`

// TestStatusPageInChromium serves the replayed fire from a real server and
// looks at it in headless chromium: the incident banner and the states are
// there in English and Korean, the page fits a phone, works without
// JavaScript, refreshes itself with it, and logs nothing to the console.
// Screenshots go to $VIGIL_SCREENSHOT_DIR (default: a temp dir); with
// VIGIL_UPDATE_SCREENSHOT=1 the desktop one also to docs/status-page.png.
func TestStatusPageInChromium(t *testing.T) {
	ctx := browser(t)
	b, clock := fireBackend(t)
	s := New(b, Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1", Location: seoul})
	serve(t, s)
	base := "http://" + s.Addr()
	shots := os.Getenv("VIGIL_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	console := watchConsole(ctx)

	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(stepCtx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := evaluator(t, ctx)
	mainText := func() string { return eval(`document.getElementById("main").innerText`) }

	t.Run("desktop", func(t *testing.T) {
		run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"), chromedp.WaitVisible("#main"))
		if got := eval(`document.title`); got != "Vigil — status (kr-central-1)" {
			t.Errorf("title %q", got)
		}
		if got := eval(`document.documentElement.lang`); got != "en" {
			t.Errorf("lang %q, want en", got)
		}
		text := mainText()
		for _, want := range []string{"Data center pangyo: 3 features down, 1 recovering since 15:33", "Messages: send / receive",
			"Down", "Recovering", "Degraded", "Maintenance", "Unknown", "Normal", "Past outages", "api: HTTP 503"} {
			if !strings.Contains(text, want) {
				t.Errorf("rendered page lacks %q", want)
			}
		}
		// The state colors are applied (the CSS was not blocked).
		if got := eval(`getComputedStyle(document.querySelector(".badge.st-down")).color`); got != "rgb(160, 16, 27)" {
			t.Errorf("down badge color %s: styles not applied?", got)
		}
		// WCAG AA: text on the state colors has a contrast of 4.5 or more.
		if low := eval(lowContrastJS); low != "" {
			t.Errorf("text below AA contrast: %s", low)
		}
		desktop := screenshot(t, ctx, shots, "status-desktop.png", 1280, 900)
		if os.Getenv("VIGIL_UPDATE_SCREENSHOT") == "1" {
			if err := os.WriteFile("../../docs/status-page.png", desktop, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("phone", func(t *testing.T) {
		run(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)),
			chromedp.Navigate(base+"/"), chromedp.WaitVisible("#main"))
		if got := eval(`String(document.documentElement.scrollWidth) + " " + String(window.innerWidth)`); got != "390 390" {
			t.Errorf("page width vs viewport = %s: it scrolls sideways on a phone", got)
		}
		screenshot(t, ctx, shots, "status-phone.png", 390, 844)
	})

	t.Run("Korean", func(t *testing.T) {
		run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/?lang=ko"), chromedp.WaitVisible("#main"))
		if got := eval(`document.documentElement.lang`); got != "ko" {
			t.Errorf("lang %q, want ko", got)
		}
		text := mainText()
		for _, want := range []string{"데이터센터 pangyo: 기능 3개 장애, 1개 복구 중 (15:33부터)", "장애", "복구 중", "성능 저하", "점검 중", "확인 중", "정상", "지난 장애"} {
			if !strings.Contains(text, want) {
				t.Errorf("Korean page lacks %q", want)
			}
		}
	})

	t.Run("bulletin", func(t *testing.T) {
		run(chromedp.Navigate(base+"/bulletin"), chromedp.WaitVisible("#main"))
		want := "KakaoTalk: Talk Channel down; Chat rooms: main functions normal (Talk drawer recovering); Messages: send / receive down"
		if text := mainText(); !strings.Contains(text, want) {
			t.Errorf("bulletin lacks %q:\n%s", want, text)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		run(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}), chromedp.Navigate(base+"/"), chromedp.WaitVisible("#main"))
		if text := mainText(); !strings.Contains(text, "Data center pangyo: 3 features down, 1 recovering since 15:33") {
			t.Errorf("page without JavaScript lacks the banner:\n%s", text)
		}
		run(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
			return err
		}))
	})

	t.Run("refreshes itself", func(t *testing.T) {
		run(chromedp.Navigate(base+"/?refresh=2"), chromedp.WaitVisible("#main"))
		// Messages recover: the banner must drop to three features without a
		// reload, through the inline script under the page's CSP.
		recovered := fireNow.Add(time.Minute)
		clock.Set(recovered)
		b.engine.Observe("talk", "message", "api", sla.Observation{Start: recovered, Success: true})
		pollCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := chromedp.Run(pollCtx, chromedp.Poll[chromedp.Void](
			`document.querySelector(".banner p").textContent.includes("2 features down, 1 recovering")`,
			chromedp.WithPollingTimeout(12*time.Second)))
		if err != nil {
			t.Fatalf("the page did not refresh itself within 12s: %v; banner: %q", err,
				eval(`document.querySelector(".banner p").textContent`))
		}
		if got := eval(`performance.getEntriesByType("navigation").length + " " + location.search`); got != "1 ?refresh=2" {
			t.Errorf("navigation entries %q: the page reloaded instead of swapping main", got)
		}
	})

	// The console watch works: a deliberate error is caught.
	eval(`console.error("vigil-console-probe"), "ok"`)
	if !console.waitFor("vigil-console-probe", 5*time.Second) {
		t.Error("the console watch missed a deliberate console.error")
	}
	var rest []string
	for _, p := range console.problems() {
		if !strings.Contains(p, "vigil-console-probe") {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		t.Errorf("console problems:\n%s", strings.Join(rest, "\n"))
	}
}

// TestVantageAndFlappingInChromium shows the impaired-vantage banner and a
// flapping badge in headless chromium: both rendered, legible (WCAG AA
// contrast), and the page still fits a phone.
func TestVantageAndFlappingInChromium(t *testing.T) {
	ctx := browser(t)
	s := withFlapping(withVantage(fireServer(t), gwDown), "talk", "message", kst(0, 15, 40))
	serve(t, s)
	eval := evaluator(t, ctx)
	for _, viewport := range [][2]int{{1280, 900}, {390, 844}} {
		stepCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(stepCtx, chromedp.EmulateViewport(int64(viewport[0]), int64(viewport[1])),
			chromedp.Navigate("http://"+s.Addr()+"/"), chromedp.WaitVisible("#main"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := eval(`document.querySelector(".banner.vantage p").textContent`); !strings.HasPrefix(got, "This agent's own network is impaired since 15:58") {
			t.Errorf("%v: vantage banner %q", viewport, got)
		}
		if got := eval(`document.querySelector(".badge.flapping").textContent`); got != "Flapping" {
			t.Errorf("%v: flapping badge %q", viewport, got)
		}
		if low := eval(lowContrastJS); low != "" {
			t.Errorf("%v: text below AA contrast: %s", viewport, low)
		}
		if got := eval(`String(document.documentElement.scrollWidth) + " " + String(window.innerWidth)`); got != fmt.Sprintf("%d %d", viewport[0], viewport[0]) {
			t.Errorf("page width vs viewport = %s", got)
		}
	}
}
