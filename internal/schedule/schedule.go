// Package schedule decides when checks run. Every check has slots at
// wall-clock multiples of its interval plus a start offset spread over the
// interval by a stable hash of its id, rounded down to a grid of a few
// milliseconds (Grid) so that the checks which fall together start together;
// it never overlaps itself (a slow run makes the next slot skip), and each
// run's context is bounded by the check's timeout. Runs go to a pool of
// long-lived worker goroutines (workers.go). It knows nothing of what results
// mean: each run hands its result to the OnResult func its check was given.
//
// gocron/v2 drives a timing wheel (wheel.go) rather than holding one job per
// check: one gocron job turns the wheel every second, and each turn arms the
// checks whose slots come in the next two seconds, one timer per slot time
// handing their runs to workers. A gocron job
// holds about 2.8 KB once it has run (its map entry, a copy of it held by its
// timer's closure, a context and a timer), 28 MB at 10,000 checks; a wheel
// entry about 265 B (BenchmarkSchedule, BenchmarkGocron in bench/).
//
// Checks with a cron schedule, and the agent's duties (Every, Cron: the push,
// and later the scheduled work of other packages), are gocron jobs of their
// own (jobs.go): they are few, and cron expressions in a time zone are what
// gocron brings.
package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/probes"
)

// Spec describes one check to schedule.
type Spec struct {
	// ID is unique, "service/feature/check".
	ID       string
	Interval time.Duration
	Timeout  time.Duration
	// Fingerprint changes when anything about the check changes; Apply replaces
	// only checks whose fingerprint changed.
	Fingerprint string
	// Build makes the check's prober; Apply calls it for new and changed checks.
	Build func() (probes.Prober, error)
	// OnResult receives every result; Apply swaps it for kept checks too.
	OnResult func(*probes.Result)
	// Cron, when set, runs the check at the times of this five-field cron
	// expression, read in Location (UTC when nil), as a gocron cron job
	// rather than on the wheel; Interval is then not used for scheduling.
	Cron     string
	Location *time.Location
}

// Options configure a Scheduler.
type Options struct {
	Logger *slog.Logger
	// Lateness observes actual start minus planned start, in seconds.
	Lateness prometheus.Observer
	// InFlight counts runs in progress.
	InFlight prometheus.Gauge
	// JobRuns counts the runs of each duty (Every, Cron) by its name in
	// label job; JobLastRun is the time each last ended (Unix seconds).
	JobRuns    *prometheus.CounterVec
	JobLastRun *prometheus.GaugeVec
}

// Scheduler runs checks on their intervals.
type Scheduler struct {
	cron     gocron.Scheduler
	logger   *slog.Logger
	lateness prometheus.Observer
	inFlight prometheus.Gauge
	now      func() time.Time // time.Now; tests set it to a moment already past

	jobRuns    *prometheus.CounterVec
	jobLastRun *prometheus.GaugeVec

	mu      sync.Mutex
	grid    time.Duration // Grid of the last Apply's rate
	entries map[string]*entry
	duties  map[string]bool // names of the Every and Cron jobs
	queue   queue           // every scheduled entry, earliest next slot first
	stopped bool
	running sync.WaitGroup
	workers *workers // where runs go, off the wheel's goroutine

	// horizon is how far the turns have armed: an entry whose next slot
	// comes before it is armed (wheel.go), one whose slot comes later is
	// queued for a turn.
	horizon     time.Time
	buckets     map[int64]*bucket // armed slots by time (Unix ns)
	freeBuckets []*bucket         // fired, for reuse
}

// entry is one scheduled check. spec keeps what Apply compares; Build is
// used once and not kept, so the config it closes over can go.
type entry struct {
	spec     entrySpec
	prober   probes.Prober
	onResult atomic.Pointer[func(*probes.Result)]
	runMu    sync.Mutex // held during a run, so Close waits for it

	// Guarded by Scheduler.mu.
	next   int64      // the next slot, Unix nanoseconds: 8 bytes, not a time.Time's 24
	index  int        // in Scheduler.queue; -1 when not queued
	bucket *bucket    // armed for next (wheel.go; then off the queue); nil when not
	job    gocron.Job // a cron check's job; nil on the wheel
}

// entrySpec is what an entry keeps of its Spec: Build is used once and
// onResult holds the latest OnResult. An agent holds an entry per check.
type entrySpec struct {
	ID, Fingerprint   string
	Interval, Timeout time.Duration
	Cron              string
	Location          *time.Location
}

func keepSpec(s Spec) entrySpec {
	return entrySpec{ID: s.ID, Fingerprint: s.Fingerprint, Interval: s.Interval, Timeout: s.Timeout, Cron: s.Cron, Location: s.Location}
}

// New returns a started Scheduler with no checks.
func New(opts Options) (*Scheduler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cron, err := gocron.NewScheduler(gocron.WithStopTimeout(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("start scheduler: %w", err)
	}
	s := &Scheduler{cron: cron, logger: opts.Logger, lateness: opts.Lateness, inFlight: opts.InFlight, now: time.Now,
		jobRuns: opts.JobRuns, jobLastRun: opts.JobLastRun,
		entries: map[string]*entry{}, duties: map[string]bool{}, buckets: map[int64]*bucket{}}
	s.workers = newWorkers(s.execute)
	// The first turn starts at once, so that checks applied right after New
	// run in their first slot.
	if _, err := cron.NewJob(gocron.DurationJob(turnEvery), gocron.NewTask(s.turn),
		gocron.WithStartAt(gocron.WithStartImmediately()), gocron.WithName("vigil wheel")); err != nil {
		_ = cron.Shutdown()
		return nil, fmt.Errorf("start scheduler: %w", err)
	}
	cron.Start()
	return s, nil
}

// Offset is the check's start offset within its interval: a stable hash of its
// id, so 10,000 checks at 10 s do not fire together and a restarted agent keeps
// each check's rhythm, rounded down to a multiple of grid (0: not rounded).
func Offset(id string, interval, grid time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(id))
	o := time.Duration(h.Sum64() % uint64(interval))
	if grid > 0 {
		o -= o % grid
	}
	return o
}

// The grid. An agent that wakes for every probe pays the wake-up (the Go
// runtime's threads leaving and re-entering their sleep, its monitor thread,
// the timer) once per probe; at 100 probes a second that was half of all its
// CPU, as much as the probe itself. Slots rounded down to a grid start
// together and share one wake-up. The grid grows as the rate falls, up to
// gridRuns runs a point on average: at 1,000 checks every 10 s a 25 ms grid
// cut the agent's CPU per probe by 40%; at 10,000, a 5 ms grid by a quarter
// (bench/README.md). It stays fine enough that a point's starts take a
// fraction of a millisecond of the cores: with a 25 ms grid at 1,000 probes a
// second (25 starts at once), runs against a 50 ms target measured it p99
// 2.4 ms late, against 1.4 ms with a 5 ms grid.
const gridRuns = 8

var gridSteps = []time.Duration{25 * time.Millisecond, 10 * time.Millisecond,
	5 * time.Millisecond, 2 * time.Millisecond, time.Millisecond}

// Grid is the step offsets are rounded down to for a schedule of rate runs a
// second in all: the coarsest of 25, 10, 5, 2 and 1 ms at which gridRuns runs
// or fewer share a point on average, and 1 ms at any higher rate. It moves
// only when the rate crosses a step, so a small change of config keeps every
// check's phase.
func Grid(rate float64) time.Duration {
	for _, step := range gridSteps {
		if rate*step.Seconds() <= gridRuns {
			return step
		}
	}
	return gridSteps[len(gridSteps)-1]
}

// Rate is the runs a second that specs plan in all.
func Rate(specs []Spec) float64 {
	var r float64
	for _, spec := range specs {
		if spec.Interval > 0 && spec.Cron == "" {
			r += 1 / spec.Interval.Seconds()
		}
	}
	return r
}

// firstStart is the first slot after now at which a check with this id and
// interval runs: slots sit at wall-clock multiples of interval plus the offset.
func firstStart(id string, interval, grid time.Duration, now time.Time) time.Time {
	t := now.Truncate(interval).Add(Offset(id, interval, grid))
	for !t.After(now) {
		t = t.Add(interval)
	}
	return t
}

// Changes reports what an Apply did.
type Changes struct {
	Added, Replaced, Removed, Kept int
}

// Apply makes the scheduled checks match specs: new checks are added, changed
// ones replaced, missing ones removed, unchanged ones keep their rhythm (and
// their prober) and only get the new OnResult. A spec whose Build fails is
// reported in the error and left out; the others are applied.
func (s *Scheduler) Apply(specs []Spec) (Changes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch Changes
	if s.stopped {
		return ch, errors.New("scheduler is stopped")
	}
	var errs []error
	if grid := Grid(Rate(specs)); grid != s.grid {
		old := s.grid
		s.grid = grid
		s.reslot(specs, old)
	}
	want := make(map[string]bool, len(specs))
	for _, spec := range specs {
		want[spec.ID] = true
		old := s.entries[spec.ID]
		if old != nil && old.spec.Fingerprint == spec.Fingerprint && old.spec.Interval == spec.Interval && old.spec.Timeout == spec.Timeout &&
			old.spec.Cron == spec.Cron && old.spec.Location.String() == spec.Location.String() {
			onResult := spec.OnResult
			old.onResult.Store(&onResult)
			ch.Kept++
			continue
		}
		if spec.Cron != "" {
			if _, err := NextCron(spec.Cron, spec.Location, s.now()); err != nil {
				errs = append(errs, fmt.Errorf("check %s: %w", spec.ID, err))
				continue
			}
		}
		prober, err := spec.Build()
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", spec.ID, err))
			continue
		}
		if old != nil {
			s.remove(old)
		}
		if spec.Cron != "" {
			if err := s.addCron(spec, prober); err != nil {
				closeProber(prober)
				errs = append(errs, fmt.Errorf("check %s: %w", spec.ID, err))
				continue
			}
		} else {
			s.add(spec, prober)
		}
		if old != nil {
			ch.Replaced++
		} else {
			ch.Added++
		}
	}
	for id, e := range s.entries {
		if !want[id] {
			s.remove(e)
			ch.Removed++
		}
	}
	return ch, errors.Join(errs...)
}

// add queues a new entry at its first slot; s.mu is held.
func (s *Scheduler) add(spec Spec, prober probes.Prober) {
	e := &entry{spec: keepSpec(spec), prober: prober, index: -1}
	onResult := spec.OnResult
	e.onResult.Store(&onResult)
	first := firstStart(spec.ID, spec.Interval, s.grid, s.now())
	// The first slot is computed from s.now, which tests set in the past
	// (as a busy machine can make it): step on by whole intervals, so that
	// the check keeps its phase.
	if now := time.Now(); !first.After(now) {
		first = nextSlot(first, spec.Interval, now)
	}
	e.next = first.UnixNano()
	s.entries[spec.ID] = e
	s.queueOrArm(e, time.Now())
}

// reslot moves the next slot of each entry that specs name from the old
// grid's point to the new one's, by less than a step either way; s.mu is
// held. No run is lost or doubled: a slot moved into the past runs at once.
func (s *Scheduler) reslot(specs []Spec, old time.Duration) {
	now := time.Now()
	for _, spec := range specs {
		e := s.entries[spec.ID]
		if e == nil || (e.index < 0 && e.bucket == nil) {
			continue
		}
		id, interval := e.spec.ID, e.spec.Interval
		shift := Offset(id, interval, s.grid) - Offset(id, interval, old)
		if shift == 0 {
			continue
		}
		e.next += int64(shift)
		if e.bucket != nil {
			e.disarm()
			s.arm(e, now)
			continue
		}
		heap.Fix(&s.queue, e.index)
	}
}

// remove unschedules e; s.mu is held. A run in flight finishes, then its
// prober is closed.
func (s *Scheduler) remove(e *entry) {
	delete(s.entries, e.spec.ID)
	if e.index >= 0 {
		heap.Remove(&s.queue, e.index)
	}
	e.disarm()
	if e.job != nil {
		_ = s.cron.RemoveJob(e.job.ID())
	}
	go func() {
		e.runMu.Lock()
		defer e.runMu.Unlock()
		closeProber(e.prober)
	}()
}

func closeProber(p probes.Prober) {
	if c, ok := p.(probes.Closer); ok {
		_ = c.Close()
	}
}

// execute is one execution of a check, on a worker; dispatch took e.runMu and
// counted it in s.running for it. Its context is not the scheduler's: shutdown
// lets in-flight runs finish within their timeout rather than cancelling them,
// so stopping the agent never records a false failure.
func (s *Scheduler) execute(e *entry) {
	defer s.running.Done()
	defer e.runMu.Unlock()
	if s.inFlight != nil {
		s.inFlight.Inc()
		defer s.inFlight.Dec()
	}
	// Nothing cancels ctx but its deadline until the run returns: probes
	// may rely on that (probes.NewRunContext).
	ctx, end := probes.NewRunContext(time.Now().Add(e.spec.Timeout))
	defer end()
	r := RunOnce(ctx, e.prober)
	if f := e.onResult.Load(); f != nil && *f != nil {
		(*f)(r)
	}
}

// RunOnce runs prober once under ctx and makes sure the result is complete: a
// start time, a duration, and TimedOut set when the deadline passed.
func RunOnce(ctx context.Context, prober probes.Prober) (r *probes.Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r = &probes.Result{Start: start, Duration: time.Since(start), Err: fmt.Errorf("probe panicked: %v", p)}
		}
	}()
	r = prober.Probe(ctx)
	if r == nil {
		r = &probes.Result{Err: errors.New("probe returned no result")}
	}
	if r.Start.IsZero() {
		r.Start = start
	}
	if r.Duration == 0 {
		r.Duration = time.Since(r.Start)
	}
	if !r.Success && ctx.Err() == context.DeadlineExceeded {
		r.TimedOut = true
	}
	if !r.Success && r.Err == nil {
		r.Err = errors.New("probe failed without an error")
	}
	return r
}

// Len is the number of scheduled checks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Stop stops scheduling new runs, waits for runs in flight (they end within their
// timeout) or for ctx, and closes every prober.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	for _, b := range s.buckets {
		b.timer.Stop()
	}
	entries := s.entries
	s.entries = map[string]*entry{}
	s.queue = nil
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("stop scheduler: runs still in flight: %w", ctx.Err())
	}
	if serr := s.cron.Shutdown(); serr != nil && err == nil {
		err = fmt.Errorf("stop scheduler: %w", serr)
	}
	// Workers end here, idle ones at once; a run still in flight (ctx ran
	// out) keeps its worker until it ends, bounded by its timeout.
	workersDone := s.workers.close()
	if err == nil {
		select {
		case <-workersDone:
		case <-ctx.Done():
			err = fmt.Errorf("stop scheduler: workers still running: %w", ctx.Err())
		}
	}
	for _, e := range entries {
		closeProber(e.prober)
	}
	return err
}
