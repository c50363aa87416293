package delivery

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

var seoul = mustZone("Asia/Seoul")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func TestPeriodAt(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, seoul) // a Tuesday
	for _, tc := range []struct {
		rng, from, to, key string
	}{
		{RangePreviousMonth, "2026-11-01T00:00:00+09:00", "2026-12-01T00:00:00+09:00", "2026-11"},
		{RangePreviousWeek, "2026-11-23T00:00:00+09:00", "2026-11-30T00:00:00+09:00", "2026-W48"},
		{RangePreviousDay, "2026-11-30T00:00:00+09:00", "2026-12-01T00:00:00+09:00", "2026-11-30"},
	} {
		s := Schedule{Name: "monthly", Location: seoul, Range: tc.rng}
		p := s.PeriodAt(at)
		if p.From.Format(time.RFC3339) != tc.from || p.To.Format(time.RFC3339) != tc.to || p.Key != tc.key {
			t.Errorf("%s: %s..%s %s, want %s..%s %s", tc.rng, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Key,
				tc.from, tc.to, tc.key)
		}
	}
	// 1 Dec 09:00 in Seoul is 30 Nov 00:00 UTC: the UTC schedule reports on October.
	if p := (&Schedule{Range: RangePreviousMonth}).PeriodAt(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)); p.Key != "2026-10" {
		t.Errorf("UTC period %s, want 2026-10", p.Key)
	}
}

func TestLastFiring(t *testing.T) {
	s := Schedule{Name: "m", Cron: "0 9 1 * *", Location: seoul, Range: RangePreviousMonth, To: []string{"ops@example.com"}}
	sched, err := s.Validate()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, seoul)
	if got := LastFiring(sched, seoul, now.Add(-CatchUpHorizon), now); !got.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, seoul)) {
		t.Errorf("last firing %s, want 1 Dec 09:00 KST", got)
	}
	if got := LastFiring(sched, seoul, now.Add(-time.Hour), now); !got.IsZero() {
		t.Errorf("last firing in the last hour %s, want none", got)
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{Cron: "0 9 1 * *", Range: RangePreviousMonth, To: []string{"a@b"}}, "name: required"},
		{Schedule{Name: "x", Cron: "every day", Range: RangePreviousMonth, To: []string{"a@b"}}, `cron: "every day"`},
		{Schedule{Name: "x", Cron: "0 9 1 * *", Range: "last-month", To: []string{"a@b"}}, `range: "last-month" is not one of`},
		{Schedule{Name: "x", Cron: "0 9 1 * *", Range: RangePreviousMonth}, "to: at least one"},
		{Schedule{Name: "x", Cron: "0 9 1 * *", Range: RangePreviousMonth, To: []string{"ops"}}, `to[0]: "ops" is neither`},
	} {
		if _, err := tc.s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// recorder is a Send that records jobs and fails while failing is set.
type recorder struct {
	mu      sync.Mutex
	jobs    []Job
	failing bool
}

func (r *recorder) send(_ context.Context, j Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("smtp: connection refused")
	}
	r.jobs = append(r.jobs, j)
	return nil
}

func (r *recorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, j := range r.jobs {
		out = append(out, fmt.Sprintf("%s %s late=%t", j.Schedule.Name, j.Period.Key, j.Late))
	}
	return out
}

// TestDeliverOnceAndCatchUp, with file claims: a firing delivers once; a
// failed send is retried by the next attempt; an agent down when the
// schedule fired delivers on start, late, and only once; the file keeps
// that across a restart.
func TestDeliverOnceAndCatchUp(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, seoul)}
	file := filepath.Join(t.TempDir(), "reports.json")
	claims, err := OpenFileClaims(file, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &Deliverer{Claims: claims, Send: rec.send}
	monthly := Schedule{Name: "monthly sla", Cron: "0 9 1 * *", Location: seoul, Range: RangePreviousMonth, To: []string{"ops@example.com"}}
	ctx := context.Background()
	rec.failing = true
	if err := d.Fire(ctx, monthly, clock.Now(), false); err == nil {
		t.Fatal("a failed send: no error")
	}
	rec.failing = false
	for range 2 {
		if err := d.Fire(ctx, monthly, clock.Now(), false); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(rec.sent()); got != "[monthly sla 2026-11 late=false]" {
		t.Errorf("sent %s, want November once", got)
	}
	// Down over 1 Jan 09:00; up on 2 Jan: December's report goes late, once.
	clock.Set(time.Date(2027, 1, 2, 8, 0, 0, 0, seoul))
	claims2, err := OpenFileClaims(file, clock.Now) // a restart
	if err != nil {
		t.Fatal(err)
	}
	d2 := &Deliverer{Claims: claims2, Send: rec.send}
	for range 2 {
		if err := d2.CatchUp(ctx, []Schedule{monthly}, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	want := "[monthly sla 2026-11 late=false monthly sla 2026-12 late=true]"
	if got := fmt.Sprint(rec.sent()); got != want {
		t.Errorf("sent %s, want %s", got, want)
	}
	if ok, _ := claims2.Delivered(ctx, ClaimKey(monthly.Name, monthly.PeriodAt(time.Date(2027, 1, 1, 9, 0, 0, 0, seoul)))); !ok {
		t.Error("December not marked delivered")
	}
}

// TestReplicasDeliverOnce: three replicas fire the same schedule at once
// with claims in one key-value bucket of the real NATS JetStream: one
// delivery. A claim left by a replica that died is taken over once
// ClaimTTL has passed, not before.
func TestReplicasDeliverOnce(t *testing.T) {
	testenv.NeedTCP(t, "127.0.0.1:4222", "NATS with JetStream")
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bucket := fmt.Sprintf("vigil_reports_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), bucket) })
	clock := &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, seoul)}
	monthly := Schedule{Name: "monthly", Cron: "0 9 1 * *", Location: seoul, Range: RangePreviousMonth, To: []string{"https://example.invalid/hook"}}
	var sends atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		claims, err := NewKVClaims(ctx, js, bucket, fmt.Sprintf("kr-central-1@replica-%d", i), 1, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		d := &Deliverer{Claims: claims, Send: func(context.Context, Job) error { sends.Add(1); return nil }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Fire(ctx, monthly, clock.Now(), false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := sends.Load(); n != 1 {
		t.Errorf("%d deliveries by 3 replicas, want 1", n)
	}

	// A replica claims December's report and dies before sending.
	dead, _ := NewKVClaims(ctx, js, bucket, "dead", 1, clock.Now)
	december := ClaimKey(monthly.Name, monthly.PeriodAt(time.Date(2027, 1, 1, 9, 0, 0, 0, seoul)))
	if ok, err := dead.Claim(ctx, december); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	live, _ := NewKVClaims(ctx, js, bucket, "live", 1, clock.Now)
	if ok, _ := live.Claim(ctx, december); ok {
		t.Error("a fresh claim was taken over")
	}
	clock.Set(clock.Now().Add(ClaimTTL + time.Second))
	if ok, err := live.Claim(ctx, december); !ok || err != nil {
		t.Errorf("a stale claim was not taken over: %v %v", ok, err)
	}
	if err := live.Done(ctx, december); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dead.Delivered(ctx, december); !ok {
		t.Error("not delivered after Done")
	}
	if ok, _ := dead.Claim(ctx, december); ok {
		t.Error("a delivered period was claimed again")
	}
}
