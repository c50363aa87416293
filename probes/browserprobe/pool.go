package browserprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultMaxConcurrent is how many browsers a Pool runs at once when
// PoolOptions.MaxConcurrent is 0: each takes a few hundred MB and a core
// while it loads a page.
const DefaultMaxConcurrent = 2

// browserNames are the programs looked up on PATH when no path is set, in
// order: Debian's package, other distributions', Google's build.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ErrPoolClosed is returned by Allocate after Close.
var ErrPoolClosed = errors.New("browser pool closed")

// PoolOptions configure a Pool.
type PoolOptions struct {
	// Path is the browser's program; "" looks up chromium, chromium-browser,
	// google-chrome and google-chrome-stable on PATH, in that order.
	Path string
	// MaxConcurrent bounds the browsers running at once; 0 means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// TempDir is where the pool keeps its browsers' profiles, one directory
	// per run; "" means os.TempDir().
	TempDir string
	// Logger gets debug lines about browsers started and ended; nil logs
	// nothing.
	Logger *slog.Logger
}

// Pool lends headless Chromium browsers to browser checks: a fresh browser
// process with a fresh profile per Allocate, at most MaxConcurrent at once. It
// implements probes.Browser. Releasing a browser kills its whole process
// group and every process still using its profile, then removes the profile;
// Close does that for every browser still lent and makes later Allocate calls
// fail.
type Pool struct {
	path   string
	root   string // the pool's directory of profiles, removed by Close
	slots  chan struct{}
	closed chan struct{}
	logger *slog.Logger

	mu      sync.Mutex
	lent    map[*lease]struct{}
	isClose bool
	wg      sync.WaitGroup // one per lease not yet released
}

// FindBrowser returns the browser program to run: path itself when set (it
// must exist and be executable), else the first of chromium,
// chromium-browser, google-chrome and google-chrome-stable found on PATH.
// `vigil --config.check` reports its error.
func FindBrowser(path string) (string, error) {
	if path != "" {
		found, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("browser: agent.browser.path %s: %w", path, err)
		}
		return found, nil
	}
	for _, name := range browserNames {
		if found, err := exec.LookPath(name); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("browser: no Chromium found on PATH (%s); install chromium or set agent.browser.path", strings.Join(browserNames, ", "))
}

// NewPool finds the browser and makes the pool's profile directory. It starts
// no browser: each Allocate starts its own.
func NewPool(opts PoolOptions) (*Pool, error) {
	path, err := FindBrowser(opts.Path)
	if err != nil {
		return nil, err
	}
	maxConcurrent := opts.MaxConcurrent
	switch {
	case maxConcurrent == 0:
		maxConcurrent = DefaultMaxConcurrent
	case maxConcurrent < 0:
		return nil, fmt.Errorf("browser: agent.browser.max_concurrent %d is negative", maxConcurrent)
	}
	removeStale(opts.TempDir)
	// The agent's pid in the name lets a later pool find this directory
	// stale should the agent die without closing the pool.
	root, err := os.MkdirTemp(opts.TempDir, poolDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("browser: profile directory: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pool{
		path:   path,
		root:   root,
		slots:  make(chan struct{}, maxConcurrent),
		closed: make(chan struct{}),
		logger: logger,
		lent:   make(map[*lease]struct{}),
	}, nil
}

// poolDirPrefix starts the name of a pool's directory of profiles, followed
// by the agent's pid and "-".
const poolDirPrefix = "vigil-browser-"

// removeStale removes the directories of pools whose agent is gone (killed
// before it could close its pool), after killing any process still using
// them. A directory whose pid is alive, ours or another agent's, is left
// alone.
func removeStale(tempDir string) {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	matches, _ := filepath.Glob(filepath.Join(tempDir, poolDirPrefix+"*-*"))
	for _, dir := range matches {
		rest := strings.TrimPrefix(filepath.Base(dir), poolDirPrefix)
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		killProfileUsers(dir)
		_ = os.RemoveAll(dir)
	}
}

// Path is the browser program the pool runs.
func (p *Pool) Path() string { return p.path }

// ProfilePrefix is the prefix of the --user-data-dir of every browser the
// pool starts: a process whose command line holds it is the pool's.
func (p *Pool) ProfilePrefix() string { return p.root + string(filepath.Separator) }

// lease is one browser lent by Allocate.
type lease struct {
	pool        *Pool
	dir         string
	allocCtx    context.Context
	cancelAlloc context.CancelFunc // kills the browser's main process and waits for it
	runCtx      context.Context    // the browser lives until it is canceled
	cancelRun   context.CancelFunc // does not wait
	tab         context.Context    // a chromedp context on the browser's first tab
	cancelTab   context.CancelFunc // waits for the browser to end
	proc        *procGroup
	once        sync.Once
}

// Allocate waits for a free slot (or ctx), starts a browser with a fresh
// profile and returns a chromedp context on a blank tab of it and the release
// function that ends the browser. The browser's life is not bound to ctx:
// release ends it (the run may want a screenshot after its steps' deadline).
// The start itself is bounded by ctx.
func (p *Pool) Allocate(ctx context.Context) (context.Context, func(), error) {
	select {
	case p.slots <- struct{}{}:
	case <-p.closed:
		return nil, nil, ErrPoolClosed
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("waiting for a free browser: %w", ctx.Err())
	}
	l, err := p.lend()
	if err != nil {
		<-p.slots
		return nil, nil, err
	}
	tab := l.tab
	// The browser starts with the first action. It runs on the tab's context
	// (no deadline: a deadline on the first action would bound the browser's
	// whole life), and ctx bounds the wait for it.
	started := make(chan error, 1)
	begin := time.Now()
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err = <-started:
	case <-ctx.Done():
		l.release()
		<-started
		return nil, nil, fmt.Errorf("starting %s: %w", p.path, ctx.Err())
	}
	if err != nil {
		l.release()
		select {
		case <-p.closed: // Close ended the start: say so, not "context canceled"
			return nil, nil, fmt.Errorf("starting %s: %w", p.path, ErrPoolClosed)
		default:
		}
		return nil, nil, fmt.Errorf("starting %s: %w", p.path, err)
	}
	if c := chromedp.FromContext(tab); c != nil && c.Browser != nil {
		l.proc.setPID(c.Browser.Process())
	}
	p.logger.Debug("browser started", slog.String("profile", l.dir), slog.Duration("took", time.Since(begin)))
	return tab, l.release, nil
}

// lend registers a new lease with its profile directory and allocator; the
// caller holds a slot.
func (p *Pool) lend() (*lease, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClose {
		return nil, ErrPoolClosed
	}
	dir, err := os.MkdirTemp(p.root, "run-")
	if err != nil {
		return nil, fmt.Errorf("browser: profile directory: %w", err)
	}
	l := &lease{pool: p, dir: dir, proc: &procGroup{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(p.path),
		chromedp.NoSandbox, // as root (containers, CI) Chromium refuses to start without
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(dir),
		// Chromium's crash handler leaves the browser's process group and
		// keeps its database under the config directory: put both it and
		// the cache in the profile, so that finding the profile's
		// processes finds the handler, and nothing is written elsewhere.
		chromedp.Env("XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache")),
		chromedp.ModifyCmdFunc(l.proc.prepare),
	)
	l.allocCtx, l.cancelAlloc = chromedp.NewExecAllocator(context.Background(), opts...)
	l.runCtx, l.cancelRun = context.WithCancel(l.allocCtx)
	// Made before the lease is registered: Close may release it at once.
	l.tab, l.cancelTab = chromedp.NewContext(l.runCtx)
	p.lent[l] = struct{}{}
	p.wg.Add(1)
	return l, nil
}

// release ends the browser: its whole process group at once, then chromedp
// reaps the main process, then any process still using its profile (a child
// that left the group, or one of a browser whose start was abandoned before
// its pid was known) is killed, and the profile is removed. It frees the
// slot. Safe to call more than once and from any goroutine.
func (l *lease) release() {
	l.once.Do(func() {
		p := l.pool
		// Cancel first, so chromedp takes the end of the browser as asked
		// for; kill the group at once, so that chromedp's wait for the main
		// process does not wait for children holding its output pipe.
		l.cancelRun()
		l.proc.kill()
		l.cancelTab()
		l.cancelAlloc()
		killProfileUsers(l.dir)
		if err := removeProfile(l.dir); err != nil {
			p.logger.Warn("browser profile not removed", slog.String("profile", l.dir), slog.String("err", err.Error()))
		}
		p.mu.Lock()
		delete(p.lent, l)
		p.mu.Unlock()
		<-p.slots
		p.wg.Done()
		p.logger.Debug("browser ended", slog.String("profile", l.dir))
	})
}

// removeProfile removes a profile directory, trying again for a moment: a
// browser process that was just killed may still be writing into it.
func removeProfile(dir string) error {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Close ends every browser still lent, waits until they are gone, removes the
// pool's profile directory and makes later Allocate calls fail. Safe to call
// more than once.
func (p *Pool) Close() error {
	p.mu.Lock()
	if !p.isClose {
		p.isClose = true
		close(p.closed)
	}
	leases := make([]*lease, 0, len(p.lent))
	for l := range p.lent {
		leases = append(leases, l)
	}
	p.mu.Unlock()
	for _, l := range leases {
		l.release()
	}
	p.wg.Wait()
	// Belt and braces: nothing of the pool's may outlive it.
	killProfileUsers(p.root)
	if err := removeProfile(p.root); err != nil {
		return fmt.Errorf("browser pool: remove %s: %w", p.root, err)
	}
	return nil
}
