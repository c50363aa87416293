package schedule

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-monitoring/vigil/probes"
)

func newJobMetrics() (*prometheus.CounterVec, *prometheus.GaugeVec) {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_agent_job_runs_total"}, []string{"job"}),
		prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_agent_job_last_run_timestamp_seconds"}, []string{"job"})
}

// TestDutiesRunAsNamedJobs: an Every job runs once per interval from one
// interval after it is added, is counted under its name, and stamps its
// last run; a run longer than the interval does not overlap the next.
func TestDutiesRunAsNamedJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runs, last := newJobMetrics()
		s, err := New(Options{JobRuns: runs, JobLastRun: last})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop(context.Background())
		start := time.Now()
		var beats, slow, overlapping, maxOverlap atomic.Int32
		var quit atomic.Bool
		if err := s.Every("heartbeat", 10*time.Second, func(context.Context) { beats.Add(1) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Every("compaction", time.Second, func(context.Context) {
			if quit.Load() {
				return
			}
			n := overlapping.Add(1)
			maxOverlap.Store(max(maxOverlap.Load(), n))
			time.Sleep(2500 * time.Millisecond)
			overlapping.Add(-1)
			slow.Add(1)
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if n := beats.Load(); n != 6 {
			t.Errorf("heartbeat ran %d times in 61 s at 10 s, want 6", n)
		}
		if got := testutil.ToFloat64(runs.WithLabelValues("heartbeat")); got != 6 {
			t.Errorf("vigil_agent_job_runs_total{job=heartbeat} = %g, want 6", got)
		}
		want := float64(start.Add(time.Minute).UnixNano()) / 1e9
		if got := testutil.ToFloat64(last.WithLabelValues("heartbeat")); got != want {
			t.Errorf("heartbeat last run at %g, want %g", got, want)
		}
		if m := maxOverlap.Load(); m != 1 {
			t.Errorf("%d runs of the slow job overlapped, want 1", m)
		}
		if n := slow.Load(); n < 15 || n > 25 {
			t.Errorf("a 2.5 s job every second ran %d times in a minute, want one about every 3 s", n)
		}
		// gocron's Shutdown polls for running jobs without blocking, which a
		// bubble's clock cannot pass: let the slow job end first.
		quit.Store(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
	})
}

// TestCronCheckRunsAtItsTimesInItsZone: a check with a cron schedule runs at
// exactly the expression's times in its time zone, off the wheel, and a
// reload onto an interval moves it back onto the wheel.
func TestCronCheckRunsAtItsTimesInItsZone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seoul, err := time.LoadLocation("Asia/Seoul")
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop(context.Background())
		c := newCollector()
		spec := Spec{ID: "s/f/journey", Timeout: time.Minute, Fingerprint: "1", Cron: "*/15 9,10 * * 6", Location: seoul,
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult("journey")}
		if ch, err := s.Apply([]Spec{spec}); err != nil || ch.Added != 1 {
			t.Fatalf("Apply = %+v, %v", ch, err)
		}
		// The bubble starts on Saturday 1 January 2000, 00:00 UTC, which is
		// 09:00 in Seoul: the quarter hours of 09 and 10 o'clock Seoul time
		// still to come are seven (read in UTC, they would be hours away).
		begin := time.Now()
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		c.mu.Lock()
		got := c.results["journey"]
		c.mu.Unlock()
		if len(got) != 7 {
			t.Fatalf("cron check ran %d times, want 7 (09:15 to 10:45 Seoul)", len(got))
		}
		for i, r := range got {
			want := time.Date(2000, 1, 1, 9, 15*(i+1), 0, 0, seoul)
			if !r.Start.Equal(want) {
				t.Errorf("run %d at %s, want %s", i, r.Start.In(seoul), want)
			}
		}
		if s.Len() != 1 || begin.Weekday() != time.Saturday {
			t.Fatalf("Len %d, bubble began on %s", s.Len(), begin.Weekday())
		}
		// Onto an interval: the cron job is gone, the wheel runs it.
		spec.Cron, spec.Location, spec.Interval, spec.Timeout = "", nil, time.Hour, time.Second
		if ch, err := s.Apply([]Spec{spec}); err != nil || ch.Replaced != 1 {
			t.Fatalf("Apply onto an interval = %+v, %v", ch, err)
		}
		time.Sleep(6 * time.Hour)
		synctest.Wait()
		if n := c.count("journey"); n != 7+6 {
			t.Errorf("%d runs after 6 h at 1 h, want %d", n, 7+6)
		}
		if jobs := len(s.cron.Jobs()); jobs != 1 {
			t.Errorf("%d gocron jobs, want only the wheel's", jobs)
		}
	})
}

func TestCronScheduleErrorsKeepTheOldCheck(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	ok := Spec{ID: "s/f/c", Interval: time.Hour, Timeout: time.Second, Fingerprint: "1",
		Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: func(*probes.Result) {}}
	if _, err := s.Apply([]Spec{ok}); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Fingerprint, bad.Cron = "2", "61 * * * *"
	if _, err := s.Apply([]Spec{bad}); err == nil {
		t.Fatal("Apply took a cron expression with minute 61")
	}
	if s.Len() != 1 {
		t.Fatalf("after a refused schedule: %d checks, want the old one kept", s.Len())
	}
	if _, err := NextCron("0 9 * * 1-5", nil, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

// TestSlotGuardDropsASecondStart: a second start of a job within the gap is
// gocron's duplicate and is dropped; the next slot's start passes.
func TestSlotGuardDropsASecondStart(t *testing.T) {
	t0 := time.Date(2022, 10, 15, 15, 0, 0, 0, time.UTC)
	g := &slotGuard{gap: 5 * time.Second}
	for _, step := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {0, false}, {170 * time.Millisecond, false}, {10 * time.Second, true}, {14 * time.Second, false}, {20 * time.Second, true}} {
		if got := g.first(t0.Add(step.at)); got != step.want {
			t.Errorf("start at +%v: first %v, want %v", step.at, got, step.want)
		}
	}
}
