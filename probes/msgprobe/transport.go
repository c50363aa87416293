package msgprobe

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/vigil-monitoring/vigil/probes"
)

// Transport moves opaque payloads through one broker or endpoint. The round-trip
// core calls Connect, then Subscribe, then Publish once per message, and Close at
// the end of the run (or, with persistent: true, when the check is removed or the
// connection failed). Payloads are printable ASCII without spaces, quotes or
// backslashes, at most 200 bytes, so a transport may embed them in JSON bodies,
// URLs, mail subjects or headers.
type Transport interface {
	// Connect opens the connection and authenticates (phase "connect").
	Connect(ctx context.Context) error
	// Subscribe starts delivering every payload that arrives on the configured
	// topic to deliver, and returns once the subscription is active, so that a
	// message published after it returns is delivered (phase "subscribe").
	// deliver may be called from any goroutine until Close returns; it must not be
	// called after Close returns.
	Subscribe(ctx context.Context, deliver func(payload []byte)) error
	// Publish sends one payload and returns when the broker accepted it (with
	// acks or confirms where the protocol has them; phase "publish" sums them).
	// A message the broker reports unroutable is an error wrapping ErrUnroutable.
	Publish(ctx context.Context, payload []byte) error
	// Close unsubscribes, removes anything the run created (queues, consumers,
	// trimmed stream entries, mails) and closes the connection. It must not block
	// for longer than a few seconds even if the broker is gone.
	Close() error
}

// ErrUnroutable is wrapped by Publish errors for messages the broker accepted but
// could not route to any subscriber (AMQP mandatory returns); they count as lost.
var ErrUnroutable = fmt.Errorf("message unroutable")

// transportFactory builds a Transport for one check. It is called once per run,
// or once per connection with persistent: true.
type transportFactory func(cfg *Config, opts probes.Options) (Transport, error)

// transports maps protocol names to factories; each transport file registers
// itself in init.
var transports = map[string]transportFactory{}

func register(protocol string, f transportFactory) { transports[protocol] = f }

// Protocols lists the registered protocol names, sorted.
func Protocols() []string {
	var out []string
	for p := range transports {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// aliveChecker is implemented by transports that can tell, without I/O, that
// their connection is gone. A persistent Prober then reconnects before the run
// instead of failing it on a connection the client already knows is dead.
type aliveChecker interface {
	Alive() bool
}

// deliveryGate guarantees the Transport rule that deliver is never called after
// Close returns, whatever goroutines the client library still runs: every call
// goes through it, and close waits for calls in progress.
type deliveryGate struct {
	mu      sync.RWMutex
	closed  bool
	deliver func(payload []byte)
}

func newDeliveryGate(deliver func(payload []byte)) *deliveryGate {
	return &deliveryGate{deliver: deliver}
}

// send passes payload on unless the gate is closed.
func (g *deliveryGate) send(payload []byte) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.closed {
		g.deliver(payload)
	}
}

// close stops delivery; it returns once no call is in progress. Safe on nil.
func (g *deliveryGate) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
