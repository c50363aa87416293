package browserprobe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

var _ probes.Browser = (*Pool)(nil)

func TestFindBrowser(t *testing.T) {
	bin := t.TempDir()
	fake := filepath.Join(bin, "chromium-browser")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, pathEnv string
		want, wantErr       string
	}{
		{name: "second name on PATH", pathEnv: bin, want: fake},
		{name: "explicit path", path: fake, pathEnv: t.TempDir(), want: fake},
		{name: "none on PATH", pathEnv: t.TempDir(),
			wantErr: "browser: no Chromium found on PATH (chromium, chromium-browser, google-chrome, google-chrome-stable); install chromium or set agent.browser.path"},
		{name: "explicit path missing", path: "/nonexistent/chromium", pathEnv: bin,
			wantErr: `browser: agent.browser.path /nonexistent/chromium: exec: "/nonexistent/chromium": stat /nonexistent/chromium: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.pathEnv)
			got, err := FindBrowser(tt.path)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("FindBrowser(%q) = %q, %v; want error %q", tt.path, got, err, tt.wantErr)
				}
				if _, err := NewPool(PoolOptions{Path: tt.path}); err == nil || err.Error() != tt.wantErr {
					t.Errorf("NewPool error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindBrowser(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestPoolBound(t *testing.T) {
	pool := newPool(t, 1)
	var inUse, most atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Go(func() {
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				tab, release, err := pool.Allocate(ctx)
				cancel()
				if err != nil {
					errs <- err
					return
				}
				n := inUse.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				// Hold the browser while it does something.
				_, err = chromedp.Run(tab, chromedp.Evaluate[int]("1 + 1"))
				if n := len(profileProcesses(pool.ProfilePrefix())); n == 0 {
					err = errors.Join(err, errors.New("no browser process while one is lent"))
				}
				inUse.Add(-1)
				release()
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if most.Load() != 1 {
		t.Errorf("%d browsers lent at once with max_concurrent 1", most.Load())
	}
	assertNoBrowsers(t, pool)
}

func TestPoolAllocateWaitsForASlotUntilCanceled(t *testing.T) {
	pool := newPool(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, release, err := pool.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, _, err := pool.Allocate(short); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "waiting for a free browser: ") {
		t.Errorf("Allocate with every slot taken: %v, want waiting for a free browser: context deadline exceeded", err)
	}
	release()
	release() // a second call does nothing
	_, release, err = pool.Allocate(ctx)
	if err != nil {
		t.Fatalf("Allocate after release: %v", err)
	}
	release()
	assertNoBrowsers(t, pool)
}

func TestPoolStartTimesOut(t *testing.T) {
	pool := newPool(t, 1)
	// From before the process starts to about when it is up: the start is
	// abandoned and whatever was started ended, or the start made it in
	// time and release ends it.
	for _, limit := range []time.Duration{time.Millisecond, 30 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		_, release, err := pool.Allocate(ctx)
		cancel()
		switch {
		case err == nil:
			release()
		case !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("Allocate within %v: %v, want a deadline error", limit, err)
		}
		t.Logf("within %v: %v", limit, err)
		assertNoBrowsers(t, pool)
	}
}

func TestPoolCloseEndsLentBrowsers(t *testing.T) {
	pool := newPool(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var releases []func()
	for range 2 {
		_, release, err := pool.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if n := len(profileProcesses(pool.ProfilePrefix())); n < 2 {
		t.Fatalf("%d browser processes with two browsers lent", n)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoBrowsers(t, pool)
	for _, release := range releases {
		release() // after Close: nothing left to do, and no panic
	}
	if _, _, err := pool.Allocate(ctx); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Allocate after Close: %v, want ErrPoolClosed", err)
	}
}

// TestManyRunsLeaveNothing runs a passing check and a failing one (which
// takes a screenshot) in turn, 100 times or for 40 s, whichever comes first
// (a Chromium start costs 1-4 s on a busy 2-core machine; set
// VIGIL_BROWSER_RUNS=100 and -timeout to do all 100), and checks after every
// run that no browser process is left, and at the end that the Go heap has
// not grown since the warm-up.
func TestManyRunsLeaveNothing(t *testing.T) {
	const warmUp = 3
	manyRuns, manyRunsBudget := 100, 40*time.Second
	if n, err := strconv.Atoi(os.Getenv("VIGIL_BROWSER_RUNS")); err == nil && n > 0 {
		manyRuns, manyRunsBudget = n, time.Hour
	}
	site := newApp(t)
	pool := newPool(t, 1)
	shots := t.TempDir()
	pass := probe(t, &Config{URL: site.URL + "/", Steps: []Step{{Click: "button.go"}, {WaitVisible: "#roadview"}}}, pool, shots)
	fail := probe(t, &Config{URL: site.URL + "/", Steps: []Step{{AssertText: &AssertText{Selector: "h1", Contains: "Sea view"}}}}, pool, shots)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var heapAfterWarmUp uint64
	begin := time.Now()
	runs := 0
	for ; runs < manyRuns && time.Since(begin) < manyRunsBudget; runs++ {
		p, wantOK := pass, true
		if runs%2 == 1 {
			p, wantOK = fail, false
		}
		r := runWithin(p, 20*time.Second)
		if r.Success != wantOK {
			t.Fatalf("run %d: success %v, error %v", runs+1, r.Success, r.Err)
		}
		if pids := profileProcesses(pool.ProfilePrefix()); len(pids) > 0 {
			t.Fatalf("run %d left %d browser processes: %v", runs+1, len(pids), pids)
		}
		if kids := chromiumChildren(); len(kids) > 0 {
			t.Fatalf("run %d left chromium children: %v", runs+1, kids)
		}
		if runs+1 == warmUp {
			heapAfterWarmUp = heap()
		}
	}
	took := time.Since(begin)
	final := heap()
	entries, _ := os.ReadDir(shots)
	t.Logf("%d runs in %v (%v a run); Go heap after %d runs %d KiB, after %d runs %d KiB; browser processes left after each run 0; screenshots kept %d",
		runs, took.Round(time.Millisecond), (took / time.Duration(runs)).Round(time.Millisecond), warmUp, heapAfterWarmUp>>10, runs, final>>10, len(entries))
	if runs < 2*warmUp {
		t.Fatalf("only %d runs in %v", runs, manyRunsBudget)
	}
	if final > heapAfterWarmUp+4<<20 {
		t.Errorf("Go heap grew from %d KiB to %d KiB over %d runs", heapAfterWarmUp>>10, final>>10, runs-warmUp)
	}
	if want := min(runs/2, defaultKeepScreenshots); len(entries) != want {
		t.Errorf("%d screenshots kept after %d failed runs, want the newest %d", len(entries), runs/2, want)
	}
	assertNoBrowsers(t, pool)
}

func TestPoolCloseDuringStart(t *testing.T) {
	pool := newPool(t, 2)
	type allocation struct {
		release func()
		err     error
	}
	got := make(chan allocation, 2)
	for range 2 {
		go func() {
			_, release, err := pool.Allocate(context.Background())
			got <- allocation{release, err}
		}()
	}
	// Close while the browsers start (or before a slot was taken).
	testenv.Poll(5*time.Second, func() bool { return len(profileProcesses(pool.ProfilePrefix())) > 0 })
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a := <-got
		switch {
		case a.err == nil:
			a.release() // it started before Close reached it: release ends it
		case !errors.Is(a.err, ErrPoolClosed):
			t.Errorf("Allocate during Close: %v, want ErrPoolClosed", a.err)
		}
		t.Logf("Allocate during Close: %v", a.err)
	}
	assertNoBrowsers(t, pool)
}
