package msgprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// MQTTOptions are the MQTT-specific keys of a messaging block.
type MQTTOptions struct {
	// QoS is the quality of service of the subscription and of every publish:
	// 0, 1 or 2. Default 1.
	QoS *int `yaml:"qos,omitempty" json:"qos,omitempty"`
	// MQTTVersion is "3.1.1" (default) or "5".
	MQTTVersion string `yaml:"mqtt_version,omitempty" json:"mqtt_version,omitempty"`
	// CleanSession starts each connection without a stored session (clean start
	// in MQTT 5). Default true. With false the client id is stable (no per-run
	// suffix) so the broker can resume the session, which lives 1h in MQTT 5.
	CleanSession *bool `yaml:"clean_session,omitempty" json:"clean_session,omitempty"`
}

func (o *MQTTOptions) qos() byte {
	if o.QoS == nil {
		return 1
	}
	return byte(*o.QoS)
}

func (o *MQTTOptions) cleanSession() bool { return o.CleanSession == nil || *o.CleanSession }

// mqtt5SessionExpiry bounds how long a broker keeps the session of a check with
// clean_session: false after it disconnected.
const mqtt5SessionExpiry = uint32(time.Hour / time.Second)

// mqttSettings is what both client libraries need, compiled once per check.
type mqttSettings struct {
	broker   *url.URL
	tls      *tls.Config // nil for plain TCP
	topic    string
	qos      byte
	clean    bool
	username string
	password string
	// agentID, checkID and uniqueID make each connection's client id: with
	// uniqueID, a fresh suffix per connection.
	agentID, checkID string
	uniqueID         bool
}

// clientID is the client id of a new connection.
func (s *mqttSettings) clientID() string { return clientID(s.agentID, s.checkID, s.uniqueID) }

func compileMQTT(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	if q := cfg.MQTTOptions.QoS; q != nil && (*q < 0 || *q > 2) {
		errs = append(errs, probeconfig.Errorf("qos", "must be 0, 1 or 2, got %d", *q))
	}
	version := cfg.MQTTVersion
	switch version {
	case "", "3.1.1":
		version = "3.1.1"
	case "5", "5.0":
		version = "5"
	default:
		errs = append(errs, probeconfig.Errorf("mqtt_version", "unknown MQTT version %q: want \"3.1.1\" or \"5\"", cfg.MQTTVersion))
	}
	topic := cfg.topic()
	if strings.ContainsAny(topic, "+#\x00") {
		errs = append(errs, probeconfig.Errorf(topicKey(cfg), "topic %q must not contain wildcards (+ #): the probe publishes to it", topic))
	}
	broker, err := url.Parse(cfg.URL)
	if err != nil {
		errs = append(errs, probeconfig.Errorf("url", "cannot parse"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &mqttSettings{
		broker:   broker,
		tls:      sh.tls,
		topic:    topic,
		qos:      cfg.qos(),
		clean:    cfg.cleanSession(),
		username: cfg.Username,
		password: sh.password.Reveal(),
		agentID:  sh.agentID,
		checkID:  sh.checkID,
		uniqueID: !cfg.Persistent && cfg.cleanSession(),
	}
	if u := broker.User; u != nil && s.username == "" {
		s.username = u.Username()
		s.password, _ = u.Password()
	}
	switch broker.Scheme {
	case "ssl", "tls", "mqtts":
		if s.tls == nil {
			s.tls = &tls.Config{}
		}
	}
	if version == "5" {
		return func() Transport { return &mqtt5Transport{mqttSettings: s, clientID: s.clientID()} }, nil
	}
	return func() Transport { return &mqtt3Transport{mqttSettings: s, clientID: s.clientID()} }, nil
}

// dial opens the network connection with the run's context, over TLS when the
// url or tls_config asks for it.
func (s *mqttSettings) dial(ctx context.Context) (net.Conn, error) {
	host := s.broker.Host
	if s.broker.Port() == "" {
		port := "1883"
		if s.tls != nil {
			port = "8883"
		}
		host = net.JoinHostPort(s.broker.Hostname(), port)
	}
	if s.tls != nil {
		d := tls.Dialer{Config: s.tls}
		return d.DialContext(ctx, "tcp", host)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", host)
}

// mqtt3Transport speaks MQTT 3.1.1 with eclipse/paho.mqtt.golang.
type mqtt3Transport struct {
	*mqttSettings
	clientID string
	client   paho3.Client
	gate     *deliveryGate

	mu        sync.Mutex
	conn      net.Conn // raw connection, closed by Close to abort a hanging handshake
	connected bool
}

// waitToken waits for a paho token or ctx, and returns the token's error.
func waitToken(ctx context.Context, tok paho3.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *mqtt3Transport) Connect(ctx context.Context) error {
	timeout := 10 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	opts := paho3.NewClientOptions().
		AddBroker(t.broker.String()).
		SetClientID(t.clientID).
		SetCleanSession(t.clean).
		SetProtocolVersion(4). // 3.1.1, no fallback to 3.1
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(timeout).
		SetWriteTimeout(timeout).
		SetKeepAlive(30 * time.Second).
		SetCustomOpenConnectionFn(func(*url.URL, paho3.ClientOptions) (net.Conn, error) {
			conn, err := t.dial(ctx)
			if err == nil {
				t.mu.Lock()
				t.conn = conn
				t.mu.Unlock()
			}
			return conn, err
		})
	if t.username != "" {
		opts.SetUsername(t.username).SetPassword(t.password)
	}
	t.client = paho3.NewClient(opts)
	tok := t.client.Connect()
	err := waitToken(ctx, tok)
	if err != nil {
		// The handshake may still be running in paho's goroutine: abort it and
		// wait for it so that no goroutine outlives Close.
		t.abortConn()
		<-tok.Done()
		return mqttConnectError(err, tok)
	}
	t.mu.Lock()
	t.connected = true
	t.mu.Unlock()
	return nil
}

// mqttConnectError words a refused CONNECT by its return code.
func mqttConnectError(err error, tok paho3.Token) error {
	// Codes 1-5 are the broker's CONNACK refusals; paho uses higher ones for
	// its own network errors, whose text already says enough.
	if ct, ok := tok.(*paho3.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
		return fmt.Errorf("broker refused the connection (return code %d): %w", ct.ReturnCode(), err)
	}
	return err
}

func (t *mqtt3Transport) abortConn() {
	t.mu.Lock()
	if t.conn != nil {
		t.conn.Close()
	}
	t.mu.Unlock()
}

func (t *mqtt3Transport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	t.gate = newDeliveryGate(deliver)
	tok := t.client.Subscribe(t.topic, t.qos, func(_ paho3.Client, m paho3.Message) { t.gate.send(m.Payload()) })
	if err := waitToken(ctx, tok); err != nil {
		return err
	}
	if st, ok := tok.(*paho3.SubscribeToken); ok {
		if code, ok := st.Result()[t.topic]; ok && code >= 0x80 {
			return errors.New("broker refused the subscription (not authorized?)")
		}
	}
	return nil
}

func (t *mqtt3Transport) Publish(ctx context.Context, payload []byte) error {
	return waitToken(ctx, t.client.Publish(t.topic, t.qos, false, payload))
}

// Alive implements aliveChecker.
func (t *mqtt3Transport) Alive() bool { return t.client != nil && t.client.IsConnectionOpen() }

func (t *mqtt3Transport) Close() error {
	t.gate.close()
	t.mu.Lock()
	connected := t.connected
	t.mu.Unlock()
	if !connected {
		t.abortConn()
		return nil
	}
	var err error
	if t.client.IsConnectionOpen() {
		// A stored session (clean_session: false) must not keep our subscription
		// queueing messages for nobody.
		tok := t.client.Unsubscribe(t.topic)
		if !tok.WaitTimeout(time.Second) {
			err = errors.New("unsubscribe: no answer within 1s")
		} else if tok.Error() != nil {
			err = fmt.Errorf("unsubscribe: %w", tok.Error())
		}
	}
	t.client.Disconnect(500)
	return err
}

// mqtt5Transport speaks MQTT 5 with eclipse/paho.golang.
type mqtt5Transport struct {
	*mqttSettings
	clientID string
	client   *paho5.Client
	conn     net.Conn
	// gate is set by Subscribe, after paho's reader may already run.
	gateMu sync.Mutex
	gate   *deliveryGate
	// connected is set once CONNACK accepted; only then does Disconnect apply.
	connected bool
}

func (t *mqtt5Transport) Connect(ctx context.Context) error {
	conn, err := t.dial(ctx)
	if err != nil {
		return err
	}
	// paho.golang writes from several goroutines; tls.Conn is not safe for
	// that, so writes go through packets' locking wrapper.
	conn = packets.NewThreadSafeConn(conn)
	t.conn = conn
	// deliver is not known until Subscribe; messages of a resumed session that
	// arrive before it are dropped.
	t.client = paho5.NewClient(paho5.ClientConfig{
		ClientID: t.clientID,
		Conn:     conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
			func(pr paho5.PublishReceived) (bool, error) {
				if g := t.currentGate(); g != nil {
					g.send(pr.Packet.Payload)
				}
				return true, nil
			},
		},
	})
	cp := &paho5.Connect{
		ClientID:   t.clientID,
		KeepAlive:  30,
		CleanStart: t.clean,
	}
	if !t.clean {
		expiry := mqtt5SessionExpiry
		cp.Properties = &paho5.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	if t.username != "" {
		cp.Username, cp.UsernameFlag = t.username, true
		cp.Password, cp.PasswordFlag = []byte(t.password), true
	}
	ack, err := t.client.Connect(ctx, cp)
	if err != nil {
		if ack != nil && ack.ReasonCode >= 0x80 {
			return fmt.Errorf("broker refused the connection: %s (reason code 0x%02x)", mqtt5Reason(ack.ReasonCode), ack.ReasonCode)
		}
		return err
	}
	t.connected = true
	return nil
}

func (t *mqtt5Transport) currentGate() *deliveryGate {
	t.gateMu.Lock()
	defer t.gateMu.Unlock()
	return t.gate
}

// mqtt5Reason names the CONNACK reason codes an operator is likely to meet.
func mqtt5Reason(code byte) string {
	switch code {
	case 0x84:
		return "unsupported protocol version"
	case 0x85:
		return "client identifier not valid"
	case 0x86:
		return "bad user name or password"
	case 0x87:
		return "not authorized"
	case 0x88:
		return "server unavailable"
	case 0x89:
		return "server busy"
	case 0x8A:
		return "banned"
	default:
		return "refused"
	}
}

func (t *mqtt5Transport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	t.gateMu.Lock()
	t.gate = newDeliveryGate(deliver)
	t.gateMu.Unlock()
	_, err := t.client.Subscribe(ctx, &paho5.Subscribe{
		Subscriptions: []paho5.SubscribeOptions{{Topic: t.topic, QoS: t.qos}},
	})
	return err
}

func (t *mqtt5Transport) Publish(ctx context.Context, payload []byte) error {
	_, err := t.client.Publish(ctx, &paho5.Publish{Topic: t.topic, QoS: t.qos, Payload: payload})
	return err
}

// Alive implements aliveChecker.
func (t *mqtt5Transport) Alive() bool {
	if !t.connected {
		return false
	}
	select {
	case <-t.client.Done():
		return false
	default:
		return true
	}
}

func (t *mqtt5Transport) Close() error {
	t.currentGate().close()
	if !t.connected {
		if t.conn != nil {
			t.conn.Close()
		}
		return nil
	}
	var err error
	if t.Alive() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if _, uerr := t.client.Unsubscribe(ctx, &paho5.Unsubscribe{Topics: []string{t.topic}}); uerr != nil {
			err = fmt.Errorf("unsubscribe: %w", uerr)
		}
		cancel()
	}
	// Disconnect closes the connection and waits for the client's goroutines,
	// also when writing the DISCONNECT packet fails on a dead connection.
	_ = t.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = t.client.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	return err
}
