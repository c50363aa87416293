// Package store keeps the SLA engine's history: the Store seam the engine
// writes through and reads back after a restart, the plain records it
// carries, and Memory, the implementation for tests. The bbolt file the
// agent uses is in store/boltstore. A store only keeps records; what they
// mean is the sla package's.
package store

import "errors"

// Store keeps the SLA engine's history durable: what the engine must find
// again after a restart or a crash (the feature records, the state machines,
// the counters, outages, transitions, degraded spells, maintenance windows,
// presence spans, gaps and the heartbeat). The engine decides what to write;
// a Store only keeps it. Two implementations: boltstore, the file the agent
// uses, and Memory, for tests that do not test persistence.
type Store interface {
	// Load reads the whole history. A record it cannot read is an error
	// wrapping ErrDamaged and naming the record.
	Load() (*History, error)
	// Write applies b atomically and durably: once it returns nil, b
	// survives a crash. Writes from several goroutines may share one commit.
	// It keeps nothing of b once it returns: the caller may reuse b's
	// slices and the bytes they hold.
	Write(b *Batch) error
	// Transitions calls fn with feature key's transitions, oldest first,
	// until fn returns an error, which Transitions returns.
	Transitions(key string, fn func(at int64, r TransitionRecord) error) error
	// LastTransition returns feature key's newest transition, if any.
	LastTransition(key string) (TransitionRecord, bool)
	// OutboxAfter returns up to max outbox entries with a sequence number
	// above seq, in order. It only reads: a publisher calls it beside the
	// engine's writes.
	OutboxAfter(seq uint64, max int) ([]OutboxEntry, error)
	// AckOutbox deletes the outbox entries up to and including upTo (they
	// reached their destination). Sequence numbers are never reused: the
	// next entry after an ack, a restart or an empty outbox still gets a
	// higher one.
	AckOutbox(upTo uint64) error
	// OutboxLast is the last sequence number handed out (0: none yet);
	// with the first entry's it tells how many wait.
	OutboxLast() (uint64, error)
	// Close releases the store.
	Close() error
}

// ErrDamaged is matched (errors.Is) by errors that are the stored
// content's fault, not the system's: a record that cannot be read, a history
// that contradicts itself.
var ErrDamaged = errors.New("store file is damaged")

// damageError is content a store or the engine cannot read.
type damageError struct{ err error }

func (d *damageError) Error() string        { return d.err.Error() }
func (d *damageError) Unwrap() error        { return d.err }
func (d *damageError) Is(target error) bool { return target == ErrDamaged }

// Damaged marks err as the stored content's fault (ErrDamaged).
func Damaged(err error) error { return &damageError{err} }

// OpenEnd is the End of an interval or outage that has not ended yet.
const OpenEnd int64 = 0

// Interval is [Start, End) in Unix nanoseconds; End is OpenEnd while open.
type Interval struct{ Start, End int64 }

// IntervalKind says which list of a feature an Interval belongs to.
type IntervalKind uint8

// The kinds of per-feature intervals.
const (
	IntervalDegraded    IntervalKind = iota // spells in state degraded
	IntervalMaintenance                     // materialized maintenance windows
	IntervalPresence                        // spans the feature was configured and could be checked
)

// FeatureRecord is what Configure and the heartbeat keep of a feature: its
// spec (JSON, the engine's encoding) and how far its maintenance windows are
// materialized.
type FeatureRecord struct {
	Spec       []byte
	Configured bool
	MaintFrom  int64
	MaintUntil int64
}

// MachineRecord is the state machine's durable part. Streak counters are not
// kept: after a restart a pending failure streak starts over and a
// recovering feature is down again (recovery starts over). Only the
// evaluation path writes it, so that each record has one writer.
type MachineRecord struct {
	State string `json:"state"`
	Since int64  `json:"since"`
}

// TransitionRecord is one state change of a feature.
type TransitionRecord struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// OutageRecord is one outage of a feature; End is OpenEnd while open.
type OutageRecord struct {
	ID           uint64   `json:"id"`
	Start        int64    `json:"start"`
	End          int64    `json:"end"`
	Cause        Cause    `json:"cause"`
	ChecksFailed []string `json:"checks_failed"`
}

// Cause is the check, failing how, that opened an outage.
type Cause struct {
	Check string `json:"check"`
	Error string `json:"error"`
}

// CounterRecord is a feature's lifetime totals as persisted: durations in
// nanoseconds accounted up to At (downtime up to DownAt), and the leads the
// totals run ahead of the record after a crash.
type CounterRecord struct {
	Downtime, Degraded, Unmonitored int64
	CompactedOutages                uint64
	At, DownAt                      int64
	DownLead, DegradedLead          int64
}

// History is the whole store as Load reads it; lists are sorted by start.
type History struct {
	// Heartbeat is the last heartbeat (0: none); Compacted the last
	// compaction; Clean is true if the agent that wrote it closed cleanly.
	Heartbeat, Compacted int64
	Clean                bool
	// Region is the region of the agent that last opened the store.
	Region string
	// OutageSeq is at least the highest outage ID handed out.
	OutageSeq uint64
	Features  map[string]FeatureRecord
	Machines  map[string]MachineRecord
	Counters  map[string]CounterRecord
	Outages   map[string][]OutageRecord
	Intervals [3]map[string][]Interval // by IntervalKind
	Gaps      []Interval
}

// Batch is one atomic write. A store applies the records in field order:
// each list in order, then the compactions, then the marks.
type Batch struct {
	Features    []KeyedFeature
	Machines    []KeyedMachine
	Counters    []KeyedCounters
	Outages     []KeyedOutage
	Intervals   []KeyedInterval
	Transitions []KeyedTransition
	// Maintenance replaces a feature's maintenance windows from a point on.
	Maintenance []MaintenanceRewrite
	Gaps        []Interval
	Compactions []Compaction
	Region      string // written if not ""
	// Clean marks a clean shutdown (Close's last heartbeat); Unclean removes
	// the mark (Open: the agent runs).
	Clean, Unclean bool
	Heartbeat      int64 // written if not 0
	// Outbox are records to publish (the sla package's JSON), appended to
	// the outbox in order in the same transaction as the rest, each under
	// the next sequence number.
	Outbox [][]byte
}

// OutboxEntry is one record waiting in the outbox under its sequence
// number (1, 2, ... in the order written, per store).
type OutboxEntry struct {
	Seq  uint64
	Data []byte
}

// KeyedFeature is a feature record and its feature key.
type KeyedFeature struct {
	Key    string
	Record FeatureRecord
}

// KeyedMachine is a state machine record and its feature key.
type KeyedMachine struct {
	Key    string
	Record MachineRecord
}

// KeyedCounters is a counter record and its feature key.
type KeyedCounters struct {
	Key    string
	Record CounterRecord
}

// KeyedOutage is an outage and its feature key; an outage is identified by
// its key and start.
type KeyedOutage struct {
	Key    string
	Record OutageRecord
}

// KeyedInterval is an interval of one of a feature's lists; it is
// identified by its key, kind and start.
type KeyedInterval struct {
	Kind IntervalKind
	Key  string
	Interval
}

// KeyedTransition is a transition of a feature at At; transitions are a log,
// never overwritten.
type KeyedTransition struct {
	Key    string
	At     int64
	Record TransitionRecord
}

// MaintenanceRewrite deletes feature Key's maintenance windows starting at
// or after From, then stores Windows.
type MaintenanceRewrite struct {
	Key     string
	From    int64
	Windows []Interval
}

// Compaction removes what ended before Cutoff (outages, intervals, gaps)
// and transitions before it, every record of the Dropped features, stores
// Counters (the compacted features' totals) and records Now as the last
// compaction.
type Compaction struct {
	Now, Cutoff int64
	Dropped     []string
	Counters    map[string]CounterRecord
}

// IsOld reports whether end is before the cutoff (an open end never is).
func (c *Compaction) IsOld(end int64) bool { return end != OpenEnd && end < c.Cutoff }

var _ Store = (*Memory)(nil)
