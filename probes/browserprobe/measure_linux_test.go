package browserprobe

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// usage sums the CPU (their own and their reaped children's) and the
// proportional set size of the processes using dir.
func usage(dir string) (cpu time.Duration, pss int64, n int) {
	for _, pid := range profileProcesses(dir) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// After "pid (comm) ": state, ...; utime, stime, cutime, cstime are
		// fields 14-17 of stat, here 11-14, in clock ticks (100 a second).
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			cpu += time.Duration(v) * 10 * time.Millisecond
		}
		roll, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		for _, line := range strings.Split(string(roll), "\n") {
			if strings.HasPrefix(line, "Pss:") {
				kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				pss += kb << 10
			}
		}
		n++
	}
	return
}

// TestMeasurePerRunVsSharedBrowser measures what docs/browser.md compares:
// a browser process per run (the pool) against one shared browser with a
// new incognito browser context per run. It is a measurement, not a check:
// VIGIL_BROWSER_MEASURE=1 go test -v -run TestMeasurePerRunVsSharedBrowser
func TestMeasurePerRunVsSharedBrowser(t *testing.T) {
	if os.Getenv("VIGIL_BROWSER_MEASURE") == "" {
		t.Skip("a measurement: set VIGIL_BROWSER_MEASURE=1 to run it")
	}
	site := newApp(t)
	n := 10
	pool := newPool(t, 1)
	var cpuSum time.Duration
	var pssMost int64
	w0 := time.Now()
	for range n {
		tab, release, err := pool.Allocate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(tab, chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatal(err)
		}
		c, r, _ := usage(pool.ProfilePrefix())
		cpuSum += c
		pssMost = max(pssMost, r)
		release()
	}
	t.Logf("process per run: wall %v a run, browser CPU %v a run, PSS of a run's processes (most) %d MiB", time.Since(w0)/time.Duration(n), cpuSum/time.Duration(n), pssMost>>20)

	dir := t.TempDir()
	w0 = time.Now()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(pool.Path()), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(dir),
		chromedp.Env("XDG_CONFIG_HOME="+dir+"/config"))...)
	browser, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(browser); err != nil {
		t.Fatal(err)
	}
	startCPU, startPSS, _ := usage(dir)
	t.Logf("shared browser start: %v, CPU %v, PSS %d MiB", time.Since(w0), startCPU, startPSS>>20)
	w1 := time.Now()
	for range n {
		tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		if err := chromedp.Do(tab, chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatal(err)
		}
		cancelTab()
	}
	endCPU, endPSS, procs := usage(dir)
	cancelB()
	cancel()
	killProfileUsers(dir) // its children, which no process group gathers here
	t.Logf("shared browser: wall %v a run, browser CPU %v a run (after its start); %d processes, PSS %d MiB after %d runs", time.Since(w1)/time.Duration(n), (endCPU-startCPU)/time.Duration(n), procs, endPSS>>20, n)
}
