package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(kill9ChildEnv) != "" {
		os.Exit(runKill9Child())
	}
	goleak.VerifyTestMain(m)
}

// t0 is the tests' start of time.
var t0 = time.Date(2026, 10, 15, 6, 33, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Set moves the clock to t (never back) and fires the timers due.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	c.timers = slices.DeleteFunc(c.timers, func(ft fakeTimer) bool {
		if ft.at.After(c.now) {
			return false
		}
		ft.ch <- c.now
		return true
	})
}

// Waiting is how many timers wait.
func (c *fakeClock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// logBuffer collects a service's logs for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fixture is a service over a store in a temp dir.
type fixture struct {
	t     *testing.T
	file  string
	store *Store
	svc   *Service
	clock *fakeClock
	reg   *prometheus.Registry
	logs  *logBuffer
	opts  Options
}

// newFixture opens a store and a service with opts (Store, Clock, Logger
// and Registerer are filled in).
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, file: filepath.Join(t.TempDir(), FileName), clock: newFakeClock(), logs: &logBuffer{}}
	f.opts = opts
	f.open()
	return f
}

// open (re)opens the store and makes a new service over it, as a restart.
func (f *fixture) open() {
	f.t.Helper()
	st, err := Open(f.file, StoreOptions{NoSync: true})
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = st
	f.t.Cleanup(func() { _ = st.Close() })
	opts := f.opts
	opts.Store, opts.Clock = st, f.clock
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.reg = prometheus.NewRegistry()
	opts.Registerer = f.reg
	svc, err := New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
}

// restart closes the store and opens it again with a new service.
func (f *fixture) restart() {
	f.t.Helper()
	if err := f.store.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// drain runs delivery passes, moving the clock to each next attempt, until
// the queue is empty or passes run out; it returns the passes made.
func (f *fixture) drain(passes int) int {
	f.t.Helper()
	for i := 1; i <= passes; i++ {
		next, err := f.svc.DeliverDue(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		if next.IsZero() {
			return i
		}
		f.clock.Set(next)
	}
	f.t.Fatalf("queue not drained after %d passes: %d pending", passes, f.store.PendingCount())
	return 0
}

// metrics renders the registry as exposition text.
func (f *fixture) metrics() string {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			f.t.Fatal(err)
		}
	}
	return b.String()
}

// sample finds one sample's value in exposition text, -1 if absent.
func sample(text, series string) float64 {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err == nil {
				return f
			}
		}
	}
	return -1
}

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with the file at path; -update rewrites it.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// do sends a request to h and returns the status and body.
func do(t *testing.T, h http.Handler, method, target, body string, header ...string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// writeFile writes content to a new file in dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
