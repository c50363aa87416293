package msgprobe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// AwaitOptions, the `await` block of a messaging check, turn a run from a
// round trip into a watch: the run subscribes and waits for one message that
// someone else published (the application under test, after a journey's
// earlier step made it), without publishing any of its own. The run passes
// when a payload that contains Contains and matches Match arrives before the
// run's deadline; a journey step extracts from that payload.
type AwaitOptions struct {
	// Contains is text the payload must contain; Match a regular expression
	// it must match. At least one is required; with both, both must hold.
	Contains string `yaml:"contains,omitempty" json:"contains,omitempty"`
	Match    string `yaml:"match,omitempty" json:"match,omitempty"`
	// Lookback is how far back a jetstream await looks in the stream: a
	// message published up to Lookback before the run subscribed counts.
	// Default 1m. Other protocols see only what arrives after subscribing.
	Lookback probeconfig.Duration `yaml:"lookback,omitempty" json:"lookback,omitempty"`
}

// defaultLookback is await.lookback's default: a journey's steps before the
// await take seconds, not minutes.
const defaultLookback = time.Minute

// awaiter is a await block compiled.
type awaiter struct {
	contains []byte
	match    *regexp.Regexp
}

func (rc *awaiter) matches(payload []byte) bool {
	return bytes.Contains(payload, rc.contains) && (rc.match == nil || rc.match.Match(payload))
}

// describe names what the run waits for, for errors.
func (rc *awaiter) describe() string {
	var parts []string
	if len(rc.contains) > 0 {
		parts = append(parts, fmt.Sprintf("containing %q", rc.contains))
	}
	if rc.match != nil {
		parts = append(parts, fmt.Sprintf("matching %q", rc.match))
	}
	return strings.Join(parts, " and ")
}

// compileAwait validates the await block of c, nil without one.
func (c *Config) compileAwait() (*awaiter, []error) {
	rc := c.Await
	if rc == nil {
		return nil, nil
	}
	var errs []error
	if topicless[c.Protocol] {
		errs = append(errs, probeconfig.Errorf("await", "not for protocol %s: await needs a topic to subscribe to", c.Protocol))
	}
	if c.Persistent {
		errs = append(errs, probeconfig.Errorf("persistent", "does not apply with await: each await subscribes anew"))
	}
	if c.Messages != 0 || c.MaxLoss != 0 {
		errs = append(errs, probeconfig.Errorf("messages", "messages and max_loss do not apply with await: it publishes nothing"))
	}
	if rc.Lookback < 0 {
		errs = append(errs, probeconfig.Errorf("await.lookback", "must not be negative"))
	}
	if rc.Lookback != 0 && c.Protocol != "jetstream" {
		errs = append(errs, probeconfig.Errorf("await.lookback", "only for protocol jetstream (other protocols keep no messages to look back at)"))
	}
	out := &awaiter{contains: []byte(rc.Contains)}
	if rc.Match != "" {
		re, err := regexp.Compile(rc.Match)
		if err != nil {
			errs = append(errs, probeconfig.Errorf("await.match", "bad regexp %q: %v", rc.Match, err))
		}
		out.match = re
	}
	if rc.Contains == "" && rc.Match == "" {
		errs = append(errs, probeconfig.Errorf("await", "needs contains or match: what the awaited message holds"))
	}
	return out, errs
}

// lookback is await.lookback with its default.
func (rc *AwaitOptions) lookback() time.Duration {
	if rc.Lookback == 0 {
		return defaultLookback
	}
	return time.Duration(rc.Lookback)
}

// await runs one watch: connect, subscribe, and wait for a matching payload
// until ctx is done. The transport is always fresh and closed by Probe.
func (p *Prober) await(ctx context.Context, r *probes.Result) error {
	transport := p.connect()
	p.kept = transport // Probe closes it, whatever happens next
	begin := time.Now()
	err := transport.Connect(ctx)
	r.Phases = append(r.Phases, probes.Phase{Name: "connect", Duration: time.Since(begin)})
	if err != nil {
		return fmt.Errorf("connect %s: %w", p.cfg.safeURL(), err)
	}
	got := make(chan []byte, 1)
	begin = time.Now()
	err = transport.Subscribe(ctx, func(payload []byte) {
		if p.awaiter.matches(payload) {
			select {
			case got <- bytes.Clone(payload):
			default: // the first match decides
			}
		}
	})
	r.Phases = append(r.Phases, probes.Phase{Name: "subscribe", Duration: time.Since(begin)})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", p.where(), err)
	}
	var failed <-chan struct{}
	failer, _ := transport.(receiveFailer)
	if failer != nil {
		failed = failer.receiveFailed()
	}
	begin = time.Now()
	select {
	case payload := <-got:
		r.Phases = append(r.Phases, probes.Phase{Name: "deliver", Duration: time.Since(begin)})
		r.Messaging.Received = 1
		if p.opts.Capture {
			r.Captured = &probes.Captured{Body: payload}
		}
		return nil
	case <-failed:
		r.Phases = append(r.Phases, probes.Phase{Name: "deliver", Duration: time.Since(begin)})
		return fmt.Errorf("receive from %s: %w", p.where(), failer.receiveErr())
	case <-ctx.Done():
		r.Phases = append(r.Phases, probes.Phase{Name: "deliver", Duration: time.Since(begin)})
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("receive from %s: %w", p.where(), ctx.Err())
		}
		return &lossError{msg: fmt.Sprintf("no message %s arrived on %s after %s", p.awaiter.describe(), p.where(), time.Since(r.Start).Round(time.Millisecond))}
	}
}
