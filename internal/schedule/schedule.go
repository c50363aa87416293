// Package schedule decides when checks run: one gocron/v2 job per check, never
// overlapping itself (a slow run makes the next slot skip), with each check's start
// offset spread over its interval by a stable hash of its id, and each run's
// context bounded by the check's timeout. Runs go to a pool of long-lived worker
// goroutines (workers.go), not the goroutine gocron starts for each. It knows
// nothing of what results mean: each job hands its result to the OnResult func
// it was given.
package schedule

import (
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
}

// Options configure a Scheduler.
type Options struct {
	Logger *slog.Logger
	// Lateness observes actual start minus planned start, in seconds.
	Lateness prometheus.Observer
	// InFlight counts runs in progress.
	InFlight prometheus.Gauge
}

// Scheduler runs checks on their intervals.
type Scheduler struct {
	cron     gocron.Scheduler
	logger   *slog.Logger
	lateness prometheus.Observer
	inFlight prometheus.Gauge
	now      func() time.Time // time.Now; tests set it to a moment already past

	mu      sync.Mutex
	entries map[string]*entry
	stopped bool
	running sync.WaitGroup
	workers *workers // where runs go, off gocron's short-lived goroutines
}

type entry struct {
	spec     Spec
	first    time.Time // first planned start; runs are planned at first + k*interval
	prober   probes.Prober
	onResult atomic.Pointer[func(*probes.Result)]
	job      gocron.Job
	runMu    sync.Mutex // held during a run, so Close waits for it
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
	cron.Start()
	s := &Scheduler{cron: cron, logger: opts.Logger, lateness: opts.Lateness, inFlight: opts.InFlight, now: time.Now, entries: map[string]*entry{}}
	s.workers = newWorkers(s.execute)
	return s, nil
}

// Offset is the check's start offset within its interval: a stable hash of its
// id, so 10,000 checks at 10 s do not fire together and a restarted agent keeps
// each check's rhythm.
func Offset(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}

// firstStart is the first slot after now at which a check with this id and
// interval runs: slots sit at wall-clock multiples of interval plus the offset.
func firstStart(id string, interval time.Duration, now time.Time) time.Time {
	t := now.Truncate(interval).Add(Offset(id, interval))
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
	want := make(map[string]bool, len(specs))
	for _, spec := range specs {
		want[spec.ID] = true
		old := s.entries[spec.ID]
		if old != nil && old.spec.Fingerprint == spec.Fingerprint && old.spec.Interval == spec.Interval && old.spec.Timeout == spec.Timeout {
			onResult := spec.OnResult
			old.onResult.Store(&onResult)
			ch.Kept++
			continue
		}
		prober, err := spec.Build()
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", spec.ID, err))
			continue
		}
		if old != nil {
			s.remove(old)
			ch.Replaced++
		} else {
			ch.Added++
		}
		if err := s.add(spec, prober); err != nil {
			errs = append(errs, err)
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

func (s *Scheduler) add(spec Spec, prober probes.Prober) error {
	e := &entry{spec: spec, prober: prober, first: firstStart(spec.ID, spec.Interval, s.now())}
	onResult := spec.OnResult
	e.onResult.Store(&onResult)
	job, err := s.cron.NewJob(
		gocron.DurationJob(spec.Interval),
		gocron.NewTask(s.run, e),
		// Not gocron's WithSingletonMode: it keeps a goroutine and a 1,000-slot
		// channel per job (about 24 KiB per check, most of an agent's memory at
		// 10,000 checks). run skips a slot itself while the previous run of the
		// same check is still going, which is the same LimitModeReschedule rule.
		// ...Past: first is computed a moment before gocron looks at it and
		// may have passed by then (a busy machine, a short interval); gocron
		// then steps it forward by whole intervals, so the phase holds.
		gocron.WithStartAt(gocron.WithStartDateTimePast(e.first)),
		gocron.WithName(spec.ID),
	)
	if err != nil {
		closeProber(e.prober)
		return fmt.Errorf("schedule check %s: %w", spec.ID, err)
	}
	e.job = job
	s.entries[spec.ID] = e
	return nil
}

// remove unschedules e; a run in flight finishes, then its prober is closed.
func (s *Scheduler) remove(e *entry) {
	delete(s.entries, e.spec.ID)
	if err := s.cron.RemoveJob(e.job.ID()); err != nil {
		s.logger.Debug("remove job", "check", e.spec.ID, "err", err)
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

// run is gocron's task for one slot of a check: it observes the lateness (when
// gocron started it), applies the no-overlap rule and hands the run to a worker.
func (s *Scheduler) run(e *entry) {
	start := time.Now()
	if s.lateness != nil && !start.Before(e.first) {
		planned := e.first.Add(start.Sub(e.first) / e.spec.Interval * e.spec.Interval)
		s.lateness.Observe(start.Sub(planned).Seconds())
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	if !e.runMu.TryLock() {
		// The previous run is still going (its timeout exceeds the interval, or
		// the check is being closed): skip this slot rather than queue it.
		s.running.Done()
		return
	}
	s.workers.run(e)
}

// execute is one execution of a check, on a worker; run took e.runMu and
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
	ctx, cancel := context.WithTimeout(context.Background(), e.spec.Timeout)
	defer cancel()
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
	entries := s.entries
	s.entries = map[string]*entry{}
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
