package globalrole

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// View is what the role needs of the cross-region view
// (*globalview.View): records in, figures out. It is safe for concurrent
// use: scrapes and pages read it while the consumer ingests.
type View interface {
	Ingest(globalview.Record) error
	Features() []globalview.FeatureStatus
	Outages(service, feature string, since, until time.Time) []globalview.Outage
	Report(from, to time.Time) globalview.Report
	Regions() []string
	// Flagged are the agents whose clocks are off, and by how much.
	Flagged() map[string]time.Duration
}

// Rejection reasons the role counts from the start, so that each series
// exists at 0.
var reasons = []string{globalview.RejectMalformed, globalview.RejectVersion, globalview.RejectType,
	globalview.RejectMissing, globalview.RejectDuplicate}

// state is the view and what the role learns beside it while ingesting.
type state struct {
	view       View
	mu         sync.Mutex             // guards heartbeats
	heartbeats map[agentKey]time.Time // last heartbeat's time per agent

	ingested atomic.Uint64
	rejected sync.Map // reason -> *atomic.Uint64
	logs     rejectLog
}

type agentKey struct{ region, agent string }

// message is one message of the stream, as the consumer hands it over.
type message struct {
	subject string
	seq     uint64 // stream sequence
	data    []byte
}

func newState(view View, log *slog.Logger) *state {
	s := &state{view: view, heartbeats: map[agentKey]time.Time{}}
	for _, r := range reasons {
		s.rejected.Store(r, new(atomic.Uint64))
	}
	s.logs.log = log
	return s
}

// ingest decodes and ingests one message; a rejected one is counted by
// reason and logged (rate-limited) with its subject and stream sequence.
func (s *state) ingest(m message) {
	rec, err := globalview.Decode(m.data)
	if err == nil {
		err = s.view.Ingest(rec)
	}
	if err == nil && rec.Type == globalview.TypeHeartbeat {
		s.mu.Lock()
		if k := (agentKey{rec.Region, rec.Agent}); rec.At.After(s.heartbeats[k]) {
			s.heartbeats[k] = rec.At
		}
		s.mu.Unlock()
	}
	if err == nil {
		s.ingested.Add(1)
		return
	}
	reason := globalview.RejectionReason(err)
	if reason == "" {
		reason = globalview.RejectMalformed
	}
	c, _ := s.rejected.LoadOrStore(reason, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
	s.logs.note(reason, m, err, time.Now())
}

// lastHeartbeats are the last heartbeat's time per agent, in Unix seconds.
func (s *state) lastHeartbeats() map[agentKey]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[agentKey]float64, len(s.heartbeats))
	for k, t := range s.heartbeats {
		out[k] = float64(t.UnixNano()) / 1e9
	}
	return out
}

// rejectLog logs rejected messages, at most one line per reason a minute
// (with how many were not logged since).
type rejectLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

const rejectLogEvery = time.Minute

func (l *rejectLog) note(reason string, m message, err error, now time.Time) {
	l.mu.Lock()
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if last, ok := l.last[reason]; ok && now.Sub(last) < rejectLogEvery {
		l.held[reason]++
		l.mu.Unlock()
		return
	}
	held := l.held[reason]
	l.last[reason], l.held[reason] = now, 0
	l.mu.Unlock()
	l.log.Warn("global: skipping a record", "reason", reason, "subject", m.subject, "stream_seq", m.seq,
		"err", err, "not_logged_since_last", held)
}

// stats are the counts so far.
func (s *state) stats(lastSeq uint64) ReplayStats {
	out := ReplayStats{Ingested: s.ingested.Load(), Rejected: map[string]uint64{}, LastSeq: lastSeq}
	s.rejected.Range(func(k, v any) bool {
		if n := v.(*atomic.Uint64).Load(); n > 0 {
			out.Rejected[k.(string)] = n
		}
		return true
	})
	return out
}
