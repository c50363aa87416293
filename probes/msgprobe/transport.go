package msgprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
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

// Each transport is split in two. Its compile function turns a messaging
// block into settings once, when the check is built (or validated): it checks
// the protocol's keys and resolves what they name (the password and TLS
// settings come resolved in shared, and a transport builds its own clients'
// options, HTTP transports, templates). The connector it returns opens a fresh,
// unconnected Transport from those settings without reading a file or doing
// I/O, once per run, or once per connection with persistent: true; the
// Transport does the per-run work (connect, subscribe, publish, receive).

// compileFunc compiles the block in s into a connector for one check. Its
// errors are FieldErrors of the protocol's own keys; s holds the keys every
// protocol shares already resolved (their errors are reported by the caller).
type compileFunc func(s *shared) (connector, error)

// connector opens a new Transport from settings compiled once.
type connector func() Transport

// transports is the one table of messaging transports: each protocol name and
// the compile function of its file. Tests that need a fake protocol pass
// their own table to newProber; nothing changes this one.
var transports = map[string]compileFunc{
	"mqtt":         compileMQTT,
	"nats":         compileNATS,
	"jetstream":    compileNATS,
	"amqp":         compileAMQP,
	"redis":        compileRedis,
	"redis-stream": compileRedis,
	"kafka":        compileKafka,
	"websocket":    compileWebSocket,
	"http":         compileHTTP,
	"mail":         compileMail,
}

// Protocols lists the protocol names of the transport table, sorted.
func Protocols() []string { return protocolNames(transports) }

func protocolNames(table map[string]compileFunc) []string {
	return slices.Sorted(maps.Keys(table))
}

// shared is what every transport compiles from the keys all protocols share,
// resolved once when the check is built: the block itself, the check's
// identity, and the password and TLS settings.
type shared struct {
	cfg     *Config
	agentID string
	checkID string
	log     *slog.Logger // never nil
	// password is password or password_file's content.
	password probeconfig.Secret
	// tls is tls_config built, nil without the block. Every connection of the
	// check shares it: a transport whose client library modifies a tls.Config
	// hands it a clone.
	tls *tls.Config
	// awaiter is the await block compiled; nil for a round trip.
	awaiter *awaiter
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
