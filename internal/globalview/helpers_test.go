package globalview

import (
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

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

// feed builds records of agents, each with its own seq, in seconds after t0.
type feed struct {
	t    testing.TB
	recs []Record
	seq  map[string]uint64
}

func newFeed(t testing.TB) *feed { return &feed{t: t, seq: map[string]uint64{}} }

func (f *feed) add(agent, region, typ string, atSec int, set func(*Record)) {
	f.seq[agent]++
	r := Record{V: 1, Seq: f.seq[agent], Agent: agent, Region: region, At: at(atSec), Type: typ}
	if set != nil {
		set(&r)
	}
	f.recs = append(f.recs, r)
}

// beats sends heartbeats every 10 s over [from, to].
func (f *feed) beats(agent, region string, from, to int, vantageUp bool) {
	for s := from; s <= to; s += 10 {
		f.add(agent, region, TypeHeartbeat, s, func(r *Record) { r.VantageUp = vantageUp; r.Features = 1 })
	}
}

func endAt(end int) *time.Time {
	if end < 0 {
		return nil
	}
	e := at(end)
	return &e
}

// span sends a presence, degraded or gap span; end < 0 is open.
func (f *feed) span(agent, region, typ string, start, end int) {
	f.add(agent, region, typ, max(start, end), func(r *Record) {
		if typ != TypeGap {
			r.Service, r.Feature = "shop", "checkout"
		}
		r.Start, r.End = at(start), endAt(end)
	})
}

// outage sends an agent outage; end < 0 is open.
func (f *feed) outage(agent, region string, id uint64, start, end int, check string) {
	f.add(agent, region, TypeOutage, max(start, end), func(r *Record) {
		r.Service, r.Feature = "shop", "checkout"
		r.ID, r.Start, r.End = id, at(start), endAt(end)
		r.Cause = sla.Cause{Check: check, Error: check + " failed in " + region}
	})
}

func (f *feed) view(opt Options, now int) (*View, *fakeClock) {
	clock := &fakeClock{now: at(now)}
	opt.Clock = clock
	v := New(opt)
	for _, r := range f.recs {
		if err := v.Ingest(r); err != nil {
			f.t.Fatalf("ingest %+v: %v", r, err)
		}
	}
	return v, clock
}
