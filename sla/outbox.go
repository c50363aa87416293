package sla

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// The outbox is the agent's record as others may read it: with
// Options.Outbox set, every store write that records a transition, an
// outage, a degraded spell, a presence span, maintenance windows, a gap or
// a heartbeat also appends those records, as JSON, to the store's outbox in
// the same transaction. So the outbox is exactly as durable as the history: a crash
// loses at most the writes in flight, and a record is in the outbox if and
// only if it is in the history. The records are derived from the batch
// itself (outboxStore wraps the store), so no write path can forget them.
// A publisher (internal/global) reads the outbox in order and acknowledges
// what it sent; the engine never waits for it.

// OutboxVersion is the schema version of outbox records (their "v").
const OutboxVersion = 1

// The record types (a record's "type").
const (
	RecordTransition = "transition"
	RecordOutage     = "outage"
	RecordDegraded   = "degraded"
	RecordPresence   = "presence"
	RecordGap        = "gap"
	RecordHeartbeat  = "heartbeat"
	// RecordMaintenance says a feature's maintenance windows from Since on
	// are exactly its Windows (an agent's schedule changed, or it planned
	// further ahead).
	RecordMaintenance = "maintenance"
)

// RecordHeader is what every outbox record carries besides its own fields:
// who wrote it, where, when, what it is and what feature it concerns
// (Service and Feature are empty for the agent's own records: gap and
// heartbeat). Seq is the outbox's sequence number, set by OutboxMessage.
type RecordHeader struct {
	V       int       `json:"v"`
	Seq     uint64    `json:"seq,omitempty"`
	Agent   string    `json:"agent"`
	Region  string    `json:"region"`
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Service string    `json:"service,omitempty"`
	Feature string    `json:"feature,omitempty"`
}

// Record bodies, one per type, each after the header's fields.
type (
	transitionBody struct {
		RecordHeader
		From   State  `json:"from"`
		To     State  `json:"to"`
		Reason string `json:"reason"`
	}
	outageBody struct {
		RecordHeader
		ID           uint64     `json:"id"`
		Start        time.Time  `json:"start"`
		End          *time.Time `json:"end"`
		Cause        Cause      `json:"cause"`
		ChecksFailed []string   `json:"checks_failed"`
	}
	spanBody struct { // degraded, presence and gap
		RecordHeader
		Start time.Time  `json:"start"`
		End   *time.Time `json:"end"`
	}
	maintenanceBody struct {
		RecordHeader
		Since   time.Time      `json:"since"`
		Windows []windowRecord `json:"windows"`
	}
	windowRecord struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	heartbeatBody struct {
		RecordHeader
		Features  int  `json:"features"`
		VantageUp bool `json:"vantage_up"`
		// Final marks the heartbeat of a clean shutdown: the agent stopped
		// monitoring on purpose at At.
		Final bool `json:"final,omitempty"`
	}
)

// outboxStore is the engine's store with the outbox on: each Write gets
// the records its batch makes added to it, so that every write path (an
// evaluation, the heartbeat, Configure, a restart, a retry after a failed
// write) carries its records in its own transaction. With the outbox off
// the engine writes to the store directly and pays nothing.
type outboxStore struct {
	store.Store
	w *outboxWriter
}

// outboxWriter builds the records of one engine.
type outboxWriter struct {
	agent, region string
	clock         Clock
	// configured is the configured features' count and vantageUp whether
	// the vantage is good, for heartbeats; read without the engine's locks,
	// which the write paths may hold.
	configured func() int
	vantageUp  func() bool
}

// Write adds b's records to a copy of b and writes it.
func (s outboxStore) Write(b *store.Batch) error {
	recs := s.w.records(b, s.w.clock.Now().UnixNano())
	if len(recs) == 0 {
		return s.Store.Write(b)
	}
	c := *b
	c.Outbox = append(slices.Clip(b.Outbox), recs...)
	return s.Store.Write(&c)
}

// records encodes what b records, in a fixed order: transitions, outages,
// degraded and presence spans, maintenance, gaps, the heartbeat. now is the write's
// time, the "at" of every record but a transition (its own time) and a
// heartbeat (the heartbeat's).
func (w *outboxWriter) records(b *store.Batch, now int64) [][]byte {
	var out [][]byte
	header := func(typ, key string, at int64) RecordHeader {
		service, feature := "", ""
		if key != "" {
			service, feature = splitKey(key)
		}
		return RecordHeader{V: OutboxVersion, Agent: w.agent, Region: w.region, At: timeOf(at).UTC(),
			Type: typ, Service: service, Feature: feature}
	}
	for _, t := range b.Transitions {
		out = append(out, encodeRecord(transitionBody{header(RecordTransition, t.Key, t.At),
			State(t.Record.From), State(t.Record.To), t.Record.Reason}))
	}
	for _, o := range b.Outages {
		r := o.Record
		out = append(out, encodeRecord(outageBody{header(RecordOutage, o.Key, now), r.ID, timeOf(r.Start).UTC(),
			endOf(r.End), Cause(r.Cause), nonNil(r.ChecksFailed)}))
	}
	for _, iv := range b.Intervals {
		typ := RecordDegraded
		switch iv.Kind {
		case store.IntervalDegraded:
		case store.IntervalPresence:
			typ = RecordPresence
		default:
			continue
		}
		out = append(out, encodeRecord(spanBody{header(typ, iv.Key, now), timeOf(iv.Start).UTC(), endOf(iv.End)}))
	}
	for _, m := range b.Maintenance {
		if m.From == 0 && len(m.Windows) == 0 {
			continue // a feature's full rewrite with no windows: nothing to say
		}
		windows := make([]windowRecord, len(m.Windows))
		for i, iv := range m.Windows {
			windows[i] = windowRecord{timeOf(iv.Start).UTC(), timeOf(iv.End).UTC()}
		}
		out = append(out, encodeRecord(maintenanceBody{header(RecordMaintenance, m.Key, now), timeOf(m.From).UTC(), windows}))
	}
	for _, g := range b.Gaps {
		out = append(out, encodeRecord(spanBody{header(RecordGap, "", now), timeOf(g.Start).UTC(), endOf(g.End)}))
	}
	if b.Heartbeat != 0 {
		out = append(out, encodeRecord(heartbeatBody{header(RecordHeartbeat, "", b.Heartbeat), w.configured(), w.vantageUp(), b.Clean}))
	}
	return out
}

func endOf(end int64) *time.Time {
	if end == store.OpenEnd {
		return nil
	}
	t := timeOf(end).UTC()
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// encodeRecord is the JSON of one record; it starts with `{"v":1,`, where
// OutboxMessage puts the sequence number.
func encodeRecord(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil { // plain data: never
		panic(fmt.Sprintf("encode outbox record: %v", err))
	}
	return data
}

// recordPrefix is how every stored record begins.
var recordPrefix = `{"v":` + strconv.Itoa(OutboxVersion) + `,`

// OutboxMessage is the message for an outbox entry: its record with the
// sequence number added as "seq", and the record's header. A record it
// cannot read (not written by this engine) is an error naming the sequence.
func OutboxMessage(e store.OutboxEntry) ([]byte, RecordHeader, error) {
	var h RecordHeader
	if err := json.Unmarshal(e.Data, &h); err != nil {
		return nil, h, fmt.Errorf("outbox entry %d: %w", e.Seq, err)
	}
	if h.V != OutboxVersion || len(e.Data) < len(recordPrefix) || string(e.Data[:len(recordPrefix)]) != recordPrefix {
		return nil, h, fmt.Errorf("outbox entry %d: not a version %d record", e.Seq, OutboxVersion)
	}
	h.Seq = e.Seq
	msg := make([]byte, 0, len(e.Data)+28)
	msg = append(msg, recordPrefix...)
	msg = append(msg, `"seq":`...)
	msg = strconv.AppendUint(msg, e.Seq, 10)
	msg = append(msg, ',')
	msg = append(msg, e.Data[len(recordPrefix):]...)
	return msg, h, nil
}

// withOutbox wraps st so that its writes carry outbox records, when opts
// ask for them.
func (e *Engine) withOutbox(st store.Store, opts Options) store.Store {
	if !opts.Outbox {
		return st
	}
	agent := opts.Agent
	if agent == "" {
		agent = opts.Region
	}
	return outboxStore{Store: st, w: &outboxWriter{agent: agent, region: opts.Region, clock: e.clock,
		configured: func() int { return int(e.nConfigured.Load()) },
		vantageUp:  func() bool { return !e.vantage.isImpaired() }}}
}

// OutboxAfter returns up to max outbox entries above seq, in order
// (Store.OutboxAfter): a publisher's read, which never blocks evaluations.
func (e *Engine) OutboxAfter(seq uint64, max int) ([]store.OutboxEntry, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	return e.store.OutboxAfter(seq, max)
}

// AckOutbox deletes the outbox entries up to upTo (Store.AckOutbox).
func (e *Engine) AckOutbox(upTo uint64) error {
	if e.closed.Load() {
		return errClosed
	}
	return e.store.AckOutbox(upTo)
}

// OutboxLast is the last outbox sequence number handed out
// (Store.OutboxLast).
func (e *Engine) OutboxLast() (uint64, error) {
	if e.closed.Load() {
		return 0, errClosed
	}
	return e.store.OutboxLast()
}
