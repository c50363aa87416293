// Package delivery sends scheduled reports (config `reports:`, issue 21):
// each schedule's report of the period before the time it fires, once per
// period even when several replicas of the agent run the same schedule, and,
// when the agent was down at that time, on its next start, saying it is
// late. Replicas agree through Claims on a shared engine (the NATS JetStream
// key-value store of the global view); a lone agent keeps its claims in a
// file. The package knows nothing of how a report is computed, rendered or
// carried: Send does that.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Ranges a schedule may report on: the calendar period before the time it
// fires, in its time zone.
const (
	RangePreviousDay   = "previous-day"
	RangePreviousWeek  = "previous-week" // Monday to Monday
	RangePreviousMonth = "previous-month"
)

// Schedule is one configured report delivery.
type Schedule struct {
	Name     string
	Cron     string         // standard 5 fields, e.g. "0 9 1 * *"
	Location *time.Location // of the cron and the range; nil is UTC
	Range    string         // one of the Range* constants
	Format   string
	To       []string // mail addresses or webhook URLs
}

// Period is what one firing of a schedule reports on: [From, To), and Key,
// its name in claims ("2026-11", "2026-W45", "2026-11-03").
type Period struct {
	From, To time.Time
	Key      string
}

// Job is one delivery to make: a schedule's report of a period; Late when
// it is made on a start because the agent was down when the schedule fired.
type Job struct {
	Schedule    Schedule
	Period      Period
	ScheduledAt time.Time
	Late        bool
}

// Send renders the job's report and carries it to every recipient of the
// schedule; an error leaves the period undelivered (retried at the next
// start).
type Send func(ctx context.Context, job Job) error

// Claims decide who delivers a period: Claim is true for exactly one
// caller per key until Release; Done marks the key delivered for good.
type Claims interface {
	// Claim takes key for the caller; false when another holds it or it
	// was delivered.
	Claim(ctx context.Context, key string) (bool, error)
	// Done marks key delivered.
	Done(ctx context.Context, key string) error
	// Release gives up a claim whose delivery failed.
	Release(ctx context.Context, key string) error
	// Delivered reports whether key was delivered.
	Delivered(ctx context.Context, key string) (bool, error)
}

// Validate checks s and returns its parsed cron schedule.
func (s *Schedule) Validate() (cron.Schedule, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("name: required")
	}
	sched, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return nil, fmt.Errorf("cron: %q: %w", s.Cron, err)
	}
	switch s.Range {
	case RangePreviousDay, RangePreviousWeek, RangePreviousMonth:
	default:
		return nil, fmt.Errorf("range: %q is not one of previous-day, previous-week, previous-month", s.Range)
	}
	if len(s.To) == 0 {
		return nil, fmt.Errorf("to: at least one mail address or webhook URL")
	}
	for i, to := range s.To {
		if !strings.HasPrefix(to, "http://") && !strings.HasPrefix(to, "https://") && !strings.Contains(to, "@") {
			return nil, fmt.Errorf("to[%d]: %q is neither a mail address nor an http(s) URL", i, to)
		}
	}
	return sched, nil
}

func (s *Schedule) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// PeriodAt is the period a firing at t reports on.
func (s *Schedule) PeriodAt(t time.Time) Period {
	t = t.In(s.location())
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	switch s.Range {
	case RangePreviousDay:
		from := day.AddDate(0, 0, -1)
		return Period{From: from, To: day, Key: from.Format("2006-01-02")}
	case RangePreviousWeek:
		monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		from := monday.AddDate(0, 0, -7)
		year, week := from.ISOWeek()
		return Period{From: from, To: monday, Key: fmt.Sprintf("%d-W%02d", year, week)}
	}
	first := time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	from := first.AddDate(0, -1, 0)
	return Period{From: from, To: first, Key: from.Format("2006-01")}
}

// ClaimKey is the key of a schedule's period in Claims: only letters,
// digits, '-' and '_' of the name, then the period.
func ClaimKey(name string, p Period) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return "report." + b.String() + "." + p.Key
}

// LastFiring is the latest time at or before now the schedule fired, after
// since (zero when none: the schedule did not fire in (since, now]).
func LastFiring(sched cron.Schedule, loc *time.Location, since, now time.Time) time.Time {
	var last time.Time
	t := since.In(loc)
	for range maxFirings {
		next := sched.Next(t)
		if next.IsZero() || next.After(now) {
			break
		}
		last, t = next, next
	}
	return last
}

// maxFirings bounds LastFiring's walk (a cron every minute over CatchUpHorizon).
const maxFirings = 100_000

// CatchUpHorizon is how far back a start looks for a firing it missed: a
// monthly report missed for longer than this is not sent late.
const CatchUpHorizon = 35 * 24 * time.Hour

// Deliverer runs deliveries: Fire when a schedule fires, CatchUp on start.
type Deliverer struct {
	Claims Claims
	Send   Send
	Logger *slog.Logger
}

// Fire delivers s's report of the period before at, unless another
// replica has or does.
func (d *Deliverer) Fire(ctx context.Context, s Schedule, at time.Time, late bool) error {
	job := Job{Schedule: s, Period: s.PeriodAt(at), ScheduledAt: at, Late: late}
	key := ClaimKey(s.Name, job.Period)
	ok, err := d.Claims.Claim(ctx, key)
	if err != nil {
		return fmt.Errorf("report %s: claim %s: %w", s.Name, key, err)
	}
	if !ok {
		d.logger().Debug("report delivered or being delivered by another replica", "report", s.Name, "period", job.Period.Key)
		return nil
	}
	if err := d.Send(ctx, job); err != nil {
		if rerr := d.Claims.Release(ctx, key); rerr != nil {
			d.logger().Error("report: releasing a failed claim", "report", s.Name, "key", key, "err", rerr)
		}
		return fmt.Errorf("report %s for %s: %w", s.Name, job.Period.Key, err)
	}
	if err := d.Claims.Done(ctx, key); err != nil {
		return fmt.Errorf("report %s: mark %s delivered: %w", s.Name, key, err)
	}
	d.logger().Info("report delivered", "report", s.Name, "period", job.Period.Key, "late", late, "recipients", len(s.To))
	return nil
}

// CatchUp delivers, late, each schedule's last firing before now (within
// CatchUpHorizon) that no replica delivered: the agent was down when it
// fired.
func (d *Deliverer) CatchUp(ctx context.Context, schedules []Schedule, now time.Time) error {
	var errs []string
	for _, s := range schedules {
		sched, err := s.Validate()
		if err != nil {
			errs = append(errs, fmt.Sprintf("report %s: %v", s.Name, err))
			continue
		}
		last := LastFiring(sched, s.location(), now.Add(-CatchUpHorizon), now)
		if last.IsZero() {
			continue
		}
		done, err := d.Claims.Delivered(ctx, ClaimKey(s.Name, s.PeriodAt(last)))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if done {
			continue
		}
		if err := d.Fire(ctx, s, last, true); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
