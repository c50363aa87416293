package msgprobe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// tracker counts the messages of one run as they arrive, in the manner of
// cloudprober's common/message flows: per sequence number, so that loss,
// duplicates and reordering are told apart. Transports call observe from their
// own goroutines, hence the mutex.
type tracker struct {
	prefix []byte
	total  int

	mu          sync.Mutex
	sentAt      []time.Time // publish start per seq-1; monotonic
	arrivals    []int32     // arrivals per seq-1
	awaited     []bool      // published and accepted for delivery
	outstanding int         // awaited messages not yet arrived
	published   bool        // the publish loop is over
	received    int         // distinct intact messages
	duplicated  int
	reordered   int
	corrupted   int
	maxSeq      int
	roundTrips  []time.Duration
	lastArrival time.Time

	// progress gets a token whenever the run may have become complete.
	progress chan struct{}
}

func newTracker(prefix []byte, total int) *tracker {
	return &tracker{
		prefix:     prefix,
		total:      total,
		sentAt:     make([]time.Time, total),
		arrivals:   make([]int32, total),
		awaited:    make([]bool, total),
		roundTrips: make([]time.Duration, 0, total),
		progress:   make(chan struct{}, 1),
	}
}

// observe accounts for one delivered payload.
func (t *tracker) observe(payload []byte, now time.Time) {
	class, seq, _ := decodePayload(t.prefix, payload)
	if class == payloadForeign {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if class == payloadCorrupted || seq < 1 || seq > t.total || t.sentAt[seq-1].IsZero() {
		t.corrupted++
		return
	}
	i := seq - 1
	t.arrivals[i]++
	if t.arrivals[i] > 1 {
		t.duplicated++
		return
	}
	t.received++
	if seq < t.maxSeq {
		t.reordered++
	} else {
		t.maxSeq = seq
	}
	t.roundTrips = append(t.roundTrips, now.Sub(t.sentAt[i]))
	t.lastArrival = now
	if t.awaited[i] {
		t.outstanding--
		t.notify()
	}
}

// markSending records the publish start of seq; observe needs it to time the
// round trip, and a message can arrive before Publish returns.
func (t *tracker) markSending(seq int, now time.Time) {
	t.mu.Lock()
	t.sentAt[seq-1] = now
	t.mu.Unlock()
}

// markAwaited records that the broker accepted seq for delivery.
func (t *tracker) markAwaited(seq int) {
	t.mu.Lock()
	t.awaited[seq-1] = true
	if t.arrivals[seq-1] == 0 {
		t.outstanding++
	}
	t.mu.Unlock()
}

// endPublishing marks the publish loop over, from which point the run is
// complete once nothing is outstanding.
func (t *tracker) endPublishing() {
	t.mu.Lock()
	t.published = true
	t.notify()
	t.mu.Unlock()
}

func (t *tracker) notify() {
	select {
	case t.progress <- struct{}{}:
	default:
	}
}

func (t *tracker) complete() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.published && t.outstanding == 0
}

// wait returns when every accepted message arrived, ctx is done, or failed
// is closed (the transport can receive no more; nil never is). Each
// iteration consumes one progress token, and tokens come from arrivals, so the
// loop is bounded by the message count and by ctx.
func (t *tracker) wait(ctx context.Context, failed <-chan struct{}) {
	for !t.complete() {
		select {
		case <-t.progress:
		case <-failed:
			return
		case <-ctx.Done():
			return
		}
	}
}

// counts copies the tallies into info.
func (t *tracker) counts(info *probes.MessagingInfo) (lastArrival time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	info.Received = t.received
	info.Duplicated = t.duplicated
	info.Reordered = t.reordered
	info.Corrupted = t.corrupted
	info.RoundTrips = append([]time.Duration(nil), t.roundTrips...)
	return t.lastArrival
}

// lossError is a run that completed its protocol steps but lost or corrupted
// messages; it is a failure, not a timeout, even when found at the deadline.
type lossError struct{ msg string }

func (e *lossError) Error() string { return e.msg }

// roundTrip runs one round trip on p's transport and fills r. It returns the
// run's error unwrapped (Probe adds the protocol and check).
func (p *Prober) roundTrip(ctx context.Context, r *probes.Result) error {
	cfg := p.cfg
	info := r.Messaging
	transport := p.kept
	if transport != nil {
		if ac, ok := transport.(aliveChecker); ok && !ac.Alive() {
			p.log.Debug("kept connection is gone; reconnecting", "check", p.opts.CheckID)
			p.closeTransport()
			transport = nil
		}
	}

	// The tracker is installed before Subscribe so that nothing of this run can
	// slip past; it is removed when the run ends so late arrivals are dropped.
	runID := newRunID()
	tr := newTracker(runPrefix(p.agentTag, runID), cfg.messages())
	p.current.Store(tr)
	defer p.current.Store(nil)

	if transport == nil {
		transport = p.connect()
		p.kept = transport // from here on Probe closes it, whatever happens next
		begin := time.Now()
		err := transport.Connect(ctx)
		r.Phases = append(r.Phases, probes.Phase{Name: "connect", Duration: time.Since(begin)})
		if err != nil {
			return fmt.Errorf("connect %s: %w", cfg.safeURL(), err)
		}
		begin = time.Now()
		err = transport.Subscribe(ctx, p.dispatch)
		r.Phases = append(r.Phases, probes.Phase{Name: "subscribe", Duration: time.Since(begin)})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", p.where(), err)
		}
	} else {
		// Reused connection and subscription: nothing to time, but the phases are
		// always listed so dashboards see a zero rather than a gap.
		r.Phases = append(r.Phases, probes.Phase{Name: "connect"}, probes.Phase{Name: "subscribe"})
	}

	var publishing time.Duration
	var unroutable int
	var unroutableErr error
	for seq := 1; seq <= tr.total; seq++ {
		if err := ctx.Err(); err != nil {
			r.Phases = append(r.Phases, probes.Phase{Name: "publish", Duration: publishing})
			return fmt.Errorf("publish message %d of %d to %s: %w", seq, tr.total, p.where(), err)
		}
		begin := time.Now()
		tr.markSending(seq, begin)
		err := transport.Publish(ctx, encodePayload(tr.prefix, seq, begin.UnixNano()))
		publishing += time.Since(begin)
		switch {
		case err == nil:
			info.Sent++
			tr.markAwaited(seq)
		case errors.Is(err, ErrUnroutable):
			info.Sent++
			unroutable++
			if unroutableErr == nil {
				unroutableErr = err
			}
		default:
			r.Phases = append(r.Phases, probes.Phase{Name: "publish", Duration: publishing})
			if failer, ok := transport.(receiveFailer); ok && failer.receiveErr() != nil {
				// The receive side broke the connection first (a message
				// over max_message_bytes): that is the cause to report.
				return fmt.Errorf("receive from %s: %w", p.where(), failer.receiveErr())
			}
			return fmt.Errorf("publish message %d of %d to %s: %w", seq, tr.total, p.where(), err)
		}
	}
	r.Phases = append(r.Phases, probes.Phase{Name: "publish", Duration: publishing})
	return p.awaitDelivery(ctx, r, tr, transport, unroutable, unroutableErr)
}

// awaitDelivery waits for the run's messages (until they all came, ctx is
// done or the transport can receive no more), fills in the counts and the
// deliver phase, and returns the run's verdict.
func (p *Prober) awaitDelivery(ctx context.Context, r *probes.Result, tr *tracker, transport Transport, unroutable int, unroutableErr error) error {
	info := r.Messaging
	published := time.Now()
	tr.endPublishing()
	failer, _ := transport.(receiveFailer)
	var failed <-chan struct{}
	if failer != nil {
		failed = failer.receiveFailed()
	}
	tr.wait(ctx, failed)
	complete := tr.complete()
	lastArrival := tr.counts(info)
	info.Lost = info.Sent - info.Received
	delivering := time.Since(published)
	if complete {
		delivering = max(lastArrival.Sub(published), 0)
	}
	r.Phases = append(r.Phases, probes.Phase{Name: "deliver", Duration: delivering})
	if failer != nil && !complete {
		if err := failer.receiveErr(); err != nil {
			return fmt.Errorf("receive from %s: %w", p.where(), err)
		}
	}
	return p.verdict(info, unroutable, unroutableErr, time.Since(r.Start))
}

// verdict decides pass or fail from the counts: a run passes when no more than
// max_loss messages were lost and none was corrupted. Duplicates and reordering
// are counted but do not fail a run: at-least-once brokers may redeliver, and
// order across reconnects is not promised by every protocol.
func (p *Prober) verdict(info *probes.MessagingInfo, unroutable int, unroutableErr error, elapsed time.Duration) error {
	var problems []string
	if info.Lost > p.cfg.MaxLoss {
		msg := fmt.Sprintf("%d of %d messages lost after %s", info.Lost, info.Sent, elapsed.Round(time.Millisecond))
		if p.cfg.MaxLoss > 0 {
			msg += fmt.Sprintf(" (max_loss %d)", p.cfg.MaxLoss)
		}
		if unroutable > 0 {
			msg += fmt.Sprintf(", %d unroutable: %v", unroutable, unroutableErr)
		}
		problems = append(problems, msg)
	}
	if info.Corrupted > 0 {
		problems = append(problems, fmt.Sprintf("%d corrupted messages received", info.Corrupted))
	}
	if len(problems) == 0 {
		return nil
	}
	msg := problems[0]
	if len(problems) > 1 {
		msg += "; " + problems[1]
	}
	return &lossError{msg: msg}
}

// where names the run's destination for errors: the topic, or the url for
// protocols without one.
func (p *Prober) where() string {
	if t := p.cfg.topic(); t != "" {
		return t
	}
	return p.cfg.safeURL()
}

// dispatch is the deliver function handed to transports. With persistent: true
// the subscription outlives runs, so it routes each payload to whichever run is
// current; payloads arriving between runs are dropped.
func (p *Prober) dispatch(payload []byte) {
	if tr := p.current.Load(); tr != nil {
		tr.observe(payload, time.Now())
	}
}
