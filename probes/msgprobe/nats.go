package msgprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// natsTransport is core NATS pub/sub, or JetStream (publish with ack, an
// ephemeral consumer on the stream filtered by the subject) when jetStream is set.
type natsTransport struct {
	*natsSettings

	nc       *nats.Conn
	sub      *nats.Subscription
	js       jetstream.JetStream
	consumer jetstream.Consumer
	consume  jetstream.ConsumeContext
	gate     *deliveryGate
}

// jetStreamKeep bounds what a stream the probe creates holds: probe messages
// are worthless after their run.
const (
	jetStreamMaxAge  = 10 * time.Minute
	jetStreamMaxMsgs = 10000
)

// natsSettings are a NATS or JetStream check's settings, compiled once.
type natsSettings struct {
	url       string
	subject   string
	stream    string
	jetStream bool
	// opts are every connection's options but its name, which names the
	// connection (uniqueName: with a fresh suffix each time).
	opts             []nats.Option
	agentID, checkID string
	uniqueName       bool
	// await is set for an await run: the stream must exist (the
	// application's), and the consumer starts lookback before now.
	await    bool
	lookback time.Duration
}

func compileNATS(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	subject := cfg.topic()
	if err := checkNATSSubject(subject); err != nil {
		errs = append(errs, probeconfig.Errorf(topicKey(cfg), "%v", err))
	}
	stream := cfg.Stream
	switch {
	case cfg.Protocol != "jetstream" && stream != "":
		errs = append(errs, probeconfig.Errorf("stream", "only for protocol jetstream"))
	case stream == "":
		stream = "vigil_" + strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(subject)
	case strings.ContainsAny(stream, ". *>/\\\t"):
		errs = append(errs, probeconfig.Errorf("stream", "stream name %q must not contain dots, spaces, wildcards or slashes", stream))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &natsSettings{url: cfg.URL, subject: subject, stream: stream, jetStream: cfg.Protocol == "jetstream",
		agentID: sh.agentID, checkID: sh.checkID, uniqueName: !cfg.Persistent}
	if cfg.Await != nil {
		s.await, s.lookback = true, cfg.Await.lookback()
	}
	s.opts = []nats.Option{
		// The core reconnects on its own terms (next run); a client silently
		// reconnecting under a run would hide what the probe is there to see.
		nats.NoReconnect(),
		nats.NoCallbacksAfterClientClose(),
	}
	if cfg.Username != "" {
		s.opts = append(s.opts, nats.UserInfo(cfg.Username, sh.password.Reveal()))
	}
	if tlsConfig := sh.tls; tlsConfig != nil || strings.HasPrefix(cfg.URL, "tls://") {
		if tlsConfig == nil {
			tlsConfig = &tls.Config{}
		}
		s.opts = append(s.opts, nats.Secure(tlsConfig)) // nats.go clones it per connection
	}
	return func() Transport { return &natsTransport{natsSettings: s} }, nil
}

// topicKey is the key the user set, for error paths.
func topicKey(cfg *Config) string {
	if cfg.Subject != "" {
		return "subject"
	}
	return "topic"
}

// checkNATSSubject rejects subjects a publisher cannot use.
func checkNATSSubject(s string) error {
	if s == "" {
		return nil // Validate reports the missing topic
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("subject %q must not contain whitespace", s)
	}
	for _, token := range strings.Split(s, ".") {
		switch token {
		case "":
			return fmt.Errorf("subject %q has an empty token", s)
		case "*", ">":
			return fmt.Errorf("subject %q must not contain wildcards: the probe publishes to it", s)
		}
	}
	return nil
}

// ctxDialer makes nats.Connect's dial honour the run's context, and keeps the
// dial error that nats.ErrNoServers would otherwise hide.
type ctxDialer struct {
	ctx     context.Context
	lastErr error
}

func (d *ctxDialer) Dial(network, address string) (net.Conn, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(d.ctx, network, address)
	if err != nil {
		d.lastErr = err
	}
	return conn, err
}

func (t *natsTransport) Connect(ctx context.Context) error {
	timeout := 10 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	dialer := &ctxDialer{ctx: ctx}
	opts := append(t.opts[:len(t.opts):len(t.opts)],
		nats.Name(clientID(t.agentID, t.checkID, t.uniqueName)), nats.Timeout(timeout), nats.SetCustomDialer(dialer))
	nc, err := nats.Connect(t.url, opts...)
	if errors.Is(err, nats.ErrNoServers) && dialer.lastErr != nil {
		return fmt.Errorf("%w: %w", err, dialer.lastErr)
	}
	if err != nil {
		return err
	}
	t.nc = nc
	if !t.jetStream {
		return nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	t.js = js
	_, err = js.Stream(ctx, t.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && !t.await {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:     t.stream,
			Subjects: []string{t.subject},
			Storage:  jetstream.FileStorage,
			MaxAge:   jetStreamMaxAge,
			MaxMsgs:  jetStreamMaxMsgs,
			Discard:  jetstream.DiscardOld,
		})
		if err != nil {
			return fmt.Errorf("create stream %s for %s: %w", t.stream, t.subject, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", t.stream, err)
	}
	return nil
}

func (t *natsTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	t.gate = newDeliveryGate(deliver)
	if !t.jetStream {
		sub, err := t.nc.Subscribe(t.subject, func(m *nats.Msg) { t.gate.send(m.Data) })
		if err != nil {
			return err
		}
		t.sub = sub
		// The server has the subscription once a round trip to it completes.
		return t.flush(ctx)
	}
	cc := jetstream.ConsumerConfig{
		FilterSubject: t.subject,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckNonePolicy,
		// Backstop for a probe killed before Close deletes the consumer.
		InactiveThreshold: time.Minute,
	}
	if t.await {
		// An awaiting step comes after the step that made the message.
		since := time.Now().Add(-t.lookback)
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	consumer, err := t.js.CreateConsumer(ctx, t.stream, cc)
	if err != nil {
		return fmt.Errorf("create consumer on stream %s: %w", t.stream, err)
	}
	t.consumer = consumer
	consume, err := consumer.Consume(func(m jetstream.Msg) { t.gate.send(m.Data()) })
	if err != nil {
		return fmt.Errorf("consume from stream %s: %w", t.stream, err)
	}
	t.consume = consume
	return nil
}

func (t *natsTransport) Publish(ctx context.Context, payload []byte) error {
	if !t.jetStream {
		// Core NATS has no acks; a flush per message at least proves the server
		// took it, so publish time means the same as with acks.
		if err := t.nc.Publish(t.subject, payload); err != nil {
			return err
		}
		return t.flush(ctx)
	}
	_, err := t.js.Publish(ctx, t.subject, payload)
	return err
}

// flush waits for the server's answer to a PING. nats.go refuses a context
// without a deadline, so one without gets the default 10s.
func (t *natsTransport) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return t.nc.FlushWithContext(ctx)
}

// Alive implements aliveChecker.
func (t *natsTransport) Alive() bool { return t.nc != nil && t.nc.IsConnected() }

func (t *natsTransport) Close() error {
	t.gate.close()
	var errs []error
	if t.sub != nil {
		if err := t.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("unsubscribe: %w", err))
		}
	}
	if t.consume != nil {
		t.consume.Stop()
		select {
		case <-t.consume.Closed():
		case <-time.After(2 * time.Second):
		}
	}
	if t.consumer != nil && t.nc.IsConnected() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		name := t.consumer.CachedInfo().Name
		if err := t.js.DeleteConsumer(ctx, t.stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			errs = append(errs, fmt.Errorf("delete consumer %s on stream %s: %w", name, t.stream, err))
		}
		cancel()
	}
	if t.nc != nil {
		t.nc.Close()
	}
	return errors.Join(errs...)
}
