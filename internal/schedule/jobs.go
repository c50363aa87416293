package schedule

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/robfig/cron/v3"

	"github.com/vigil-monitoring/vigil/probes"
)

// cronParser reads the five-field cron expressions gocron's CronJob reads,
// with an optional CRON_TZ= prefix and descriptors (@daily).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// The agent's duties: periodic work other than the interval checks (the SLA
// heartbeat, retention and compaction, push, and scheduled deliveries), each
// a named gocron job. gocron keeps them apart from the wheel: a duty is a
// handful of jobs, so its few kilobytes a job do not matter, and it brings
// what duties need and the wheel does not (cron expressions with time zones,
// no overlap of one job with itself).

// Every runs task every interval as the gocron job name, from one interval
// after now; a run that is still going when the next is due makes that one
// wait for the following slot (gocron's singleton mode, reschedule). Each
// run is counted in Options.JobRuns and stamped in Options.JobLastRun.
func (s *Scheduler) Every(name string, interval time.Duration, task func(context.Context)) error {
	if interval <= 0 {
		return fmt.Errorf("job %s: interval %s is not positive", name, interval)
	}
	return s.addJob(name, gocron.DurationJob(interval), interval/10, task)
}

// Cron runs task at the times of a five-field cron expression (minute hour
// day-of-month month day-of-week) read in loc (UTC when nil), as the gocron
// job name, never overlapping itself.
func (s *Scheduler) Cron(name, expr string, loc *time.Location, task func(context.Context)) error {
	return s.addJob(name, gocron.CronJob(withZone(expr, loc), false), cronGap, task)
}

// withZone prefixes a cron expression with the zone it is read in.
func withZone(expr string, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return "CRON_TZ=" + loc.String() + " " + expr
}

// cronGap is a tenth of the least time between two times of a cron
// expression read to the minute: two firings closer than that are one
// slot's.
const cronGap = 6 * time.Second

// slotGuard drops a job's second start for one slot. gocron now and then
// starts a job twice for the same time (go-co-op/gocron#789 and #601, open
// in some form since v1; here, in a synctest bubble about once in fifty race
// runs, the heartbeat ran twice at 30 s): a duty would do its work twice
// and a cron check would probe twice. A start within gap of the previous
// one is that duplicate: gap is a tenth of the job's least time between
// slots, so a run late by less than nine tenths of that still lets the next
// slot's run through.
type slotGuard struct {
	mu   sync.Mutex
	last time.Time
	gap  time.Duration
}

// first reports whether a start at now is the first of its slot, and if so
// records it.
func (g *slotGuard) first(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.last.IsZero() && now.Sub(g.last) < g.gap {
		return false
	}
	g.last = now
	return true
}

func (s *Scheduler) addJob(name string, def gocron.JobDefinition, gap time.Duration, task func(context.Context)) error {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return fmt.Errorf("job %s: scheduler is stopped", name)
	}
	guard := &slotGuard{gap: gap}
	run := func(ctx context.Context) {
		if !guard.first(time.Now()) {
			s.logger.Debug("gocron started a job twice for one time; the second start is dropped", "job", name)
			return
		}
		task(ctx)
		if s.jobRuns != nil {
			s.jobRuns.WithLabelValues(name).Inc()
		}
		if s.jobLastRun != nil {
			s.jobLastRun.WithLabelValues(name).Set(float64(time.Now().UnixNano()) / 1e9)
		}
	}
	if _, err := s.cron.NewJob(def, gocron.NewTask(run), gocron.WithName(name),
		gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	s.mu.Lock()
	s.duties[name] = true
	s.mu.Unlock()
	return nil
}

// Duties names the duties added with Every and Cron, sorted.
func (s *Scheduler) Duties() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.duties))
}

// NextCron is the first time after t that a cron expression, read in loc,
// names: what a check's schedule means, and how config checks it.
func NextCron(expr string, loc *time.Location, t time.Time) (time.Time, error) {
	sched, err := cronParser.Parse(withZone(expr, loc))
	if err != nil {
		return time.Time{}, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	next := sched.Next(t)
	if next.IsZero() {
		return time.Time{}, fmt.Errorf("cron expression %q names no time to come", expr)
	}
	return next, nil
}

// addCron schedules a check whose Spec has a Cron expression as a gocron
// cron job; s.mu is held. The job's runs take the same path as the wheel's:
// a run still going when the next time comes makes that time skip.
func (s *Scheduler) addCron(spec Spec, prober probes.Prober) error {
	e := &entry{spec: keepSpec(spec), prober: prober, index: -1}
	onResult := spec.OnResult
	e.onResult.Store(&onResult)
	guard := &slotGuard{gap: cronGap}
	job, err := s.cron.NewJob(gocron.CronJob(withZone(spec.Cron, spec.Location), false),
		gocron.NewTask(func() {
			if guard.first(time.Now()) {
				s.runCron(e)
			}
		}), gocron.WithName("check "+spec.ID))
	if err != nil {
		return fmt.Errorf("schedule %q: %w", spec.Cron, err)
	}
	e.job = job
	s.entries[spec.ID] = e
	return nil
}

// runCron is one firing of a cron check's job.
func (s *Scheduler) runCron(e *entry) {
	s.mu.Lock()
	if s.stopped || s.entries[e.spec.ID] != e {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	now := time.Now()
	s.dispatch(e, now, now)
}
