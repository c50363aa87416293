package msgprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// AMQPOptions are the AMQP-specific keys of a messaging block. The routing key
// is the topic.
type AMQPOptions struct {
	// Exchange the probe publishes to and binds its queue to. Default amq.topic.
	Exchange string `yaml:"exchange,omitempty" json:"exchange,omitempty"`
	// Mandatory asks the broker to return messages no queue takes, so they count
	// as lost at once instead of vanishing. Default true.
	Mandatory *bool `yaml:"mandatory,omitempty" json:"mandatory,omitempty"`
}

func (o *AMQPOptions) exchange() string {
	if o.Exchange == "" {
		return "amq.topic"
	}
	return o.Exchange
}

func (o *AMQPOptions) mandatory() bool { return o.Mandatory == nil || *o.Mandatory }

// amqpTransport publishes with confirms to an exchange and consumes from a
// private, exclusive, auto-delete, server-named queue bound with the topic.
type amqpTransport struct {
	*amqpSettings
	config   amqp.Config // this connection's: the settings' with its name
	consumer string

	conn     *amqp.Connection
	ch       *amqp.Channel
	queue    string // server-named, gone with the connection
	returns  chan amqp.Return
	gate     *deliveryGate
	consumed chan struct{} // closed when the delivery goroutine ends
}

// amqpSettings are an AMQP check's settings, compiled once.
type amqpSettings struct {
	url        string
	exchange   string
	routingKey string
	mandatory  bool
	sasl       []amqp.Authentication
	tls        *tls.Config // nil for amqp://
	// agentID, checkID and uniqueName name each connection (and its
	// consumer): with uniqueName, with a fresh suffix each time.
	agentID, checkID string
	uniqueName       bool
}

func compileAMQP(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	topic := cfg.topic()
	if len(topic) > 255 {
		errs = append(errs, probeconfig.Errorf(topicKey(cfg), "routing key is %d bytes, AMQP allows 255", len(topic)))
	}
	if len(cfg.Exchange) > 255 {
		errs = append(errs, probeconfig.Errorf("exchange", "exchange name is %d bytes, AMQP allows 255", len(cfg.Exchange)))
	}
	if _, err := amqp.ParseURI(cfg.URL); err != nil {
		errs = append(errs, probeconfig.Errorf("url", "not an AMQP URI: %v", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &amqpSettings{
		url:        cfg.URL,
		exchange:   cfg.exchange(),
		routingKey: topic,
		mandatory:  cfg.mandatory(),
		tls:        sh.tls,
		agentID:    sh.agentID,
		checkID:    sh.checkID,
		uniqueName: !cfg.Persistent,
	}
	if cfg.Username != "" {
		s.sasl = []amqp.Authentication{&amqp.PlainAuth{Username: cfg.Username, Password: sh.password.Reveal()}}
	}
	if s.tls == nil && len(cfg.URL) > 6 && cfg.URL[:6] == "amqps:" {
		s.tls = &tls.Config{}
	}
	return s.newTransport, nil
}

// newTransport is the connector: a transport with its own amqp.Config, since
// amqp091 writes into the config it dials with (its properties, the TLS
// server name).
func (s *amqpSettings) newTransport() Transport {
	name := clientID(s.agentID, s.checkID, s.uniqueName)
	config := amqp.Config{
		Heartbeat:  10 * time.Second,
		SASL:       s.sasl,
		Properties: amqp.Table{"connection_name": name},
	}
	if s.tls != nil {
		config.TLSClientConfig = s.tls.Clone()
	}
	return &amqpTransport{amqpSettings: s, config: config, consumer: name}
}

// untilDone makes a blocking call that takes no context end with ctx: the
// connection is closed if ctx ends first. The caller defers the returned stop.
func (t *amqpTransport) untilDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { t.conn.Close() })
}

func (t *amqpTransport) Connect(ctx context.Context) error {
	// The dial honours ctx; the handshake is bounded by the same deadline, which
	// amqp091 clears once the connection is open.
	t.config.Dial = func(network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(30 * time.Second)
		}
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
	conn, err := amqp.DialConfig(t.url, t.config)
	if err != nil {
		return err
	}
	t.conn = conn
	defer t.untilDone(ctx)()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	t.ch = ch
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	// One return at most per publish, drained after each: the buffer never fills
	// (a full one would stall amqp091's reader).
	t.returns = ch.NotifyReturn(make(chan amqp.Return, 16))
	return nil
}

func (t *amqpTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	defer t.untilDone(ctx)()
	q, err := t.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return fmt.Errorf("declare queue: %w", err)
	}
	t.queue = q.Name
	if err := t.ch.QueueBind(q.Name, t.routingKey, t.exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue to exchange %s: %w", t.exchange, err)
	}
	deliveries, err := t.ch.Consume(q.Name, t.consumer, true, true, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	t.gate = newDeliveryGate(deliver)
	t.consumed = make(chan struct{})
	go func() {
		defer close(t.consumed)
		for d := range deliveries {
			t.gate.send(d.Body)
		}
	}()
	return nil
}

func (t *amqpTransport) Publish(ctx context.Context, payload []byte) error {
	confirm, err := t.ch.PublishWithDeferredConfirmWithContext(ctx, t.exchange, t.routingKey, t.mandatory, false,
		amqp.Publishing{ContentType: "text/plain", Body: payload})
	if err != nil {
		return err
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for confirm: %w", err)
	}
	// The broker sends basic.return before the ack of the same message, so a
	// return for this payload is already queued when the ack is in.
	var returned *amqp.Return
	for drained := false; !drained; {
		select {
		case r := <-t.returns:
			if bytes.Equal(r.Body, payload) {
				returned = &r
			}
		default:
			drained = true
		}
	}
	if returned != nil {
		return fmt.Errorf("%w: exchange %s has no queue for routing key %s (%d %s)",
			ErrUnroutable, t.exchange, t.routingKey, returned.ReplyCode, returned.ReplyText)
	}
	if !acked {
		return errors.New("broker nacked the message")
	}
	return nil
}

// Alive implements aliveChecker.
func (t *amqpTransport) Alive() bool {
	return t.conn != nil && !t.conn.IsClosed() && t.ch != nil && !t.ch.IsClosed()
}

func (t *amqpTransport) Close() error {
	t.gate.close()
	if t.conn == nil {
		return nil
	}
	// Closing the connection deletes the exclusive queue and ends deliveries.
	err := t.conn.CloseDeadline(time.Now().Add(2 * time.Second))
	if errors.Is(err, amqp.ErrClosed) {
		err = nil
	}
	if t.consumed != nil {
		select {
		case <-t.consumed:
		case <-time.After(2 * time.Second):
			err = errors.Join(err, errors.New("delivery goroutine did not end within 2s"))
		}
	}
	return err
}
