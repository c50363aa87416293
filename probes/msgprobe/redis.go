package msgprobe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// RedisOptions are the Redis-specific keys of a messaging block. With protocol
// redis the topic is a Pub/Sub channel; with redis-stream it is a stream key.
type RedisOptions struct {
	// StreamMaxLen trims the stream to about this many entries on every XADD
	// (MAXLEN ~), so a shared stream never grows without bound. Default 1000;
	// at least messages.
	StreamMaxLen int64 `yaml:"stream_maxlen,omitempty" json:"stream_maxlen,omitempty"`
}

const defaultStreamMaxLen = 1000

// streamField is the field of the stream entries the probe adds.
const streamField = "payload"

// redisTransport is Pub/Sub (PUBLISH, SUBSCRIBE) or, with stream set, a stream
// (XADD with MAXLEN ~ trimming; XREAD BLOCK from the last id before the first
// publish; the probe deletes the entries it added once read, and the rest at
// Close).
type redisTransport struct {
	*redisSettings

	client *redis.Client
	pubsub *redis.PubSub
	gate   *deliveryGate
	done   chan struct{} // closed when the reader goroutine ends
	dead   atomic.Bool   // the reader stopped on a connection error
	// stopReader cancels the stream reader.
	stopReader context.CancelFunc

	mu    sync.Mutex
	added map[string]bool // stream entry ids this transport added, not yet deleted
}

// redisSettings are a Redis check's settings, compiled once.
type redisSettings struct {
	// options are every client's options but its name, which names the
	// connection (uniqueName: with a fresh suffix each time).
	options          *redis.Options
	topic            string
	stream           bool
	maxLen           int64
	agentID, checkID string
	uniqueName       bool
}

func compileRedis(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	if cfg.StreamMaxLen < 0 {
		errs = append(errs, probeconfig.Errorf("stream_maxlen", "must not be negative, got %d", cfg.StreamMaxLen))
	}
	if cfg.StreamMaxLen != 0 && cfg.Protocol != "redis-stream" {
		errs = append(errs, probeconfig.Errorf("stream_maxlen", "only for protocol redis-stream"))
	}
	if cfg.StreamMaxLen > 0 && cfg.StreamMaxLen < int64(cfg.messages()) {
		// Trimming would drop the run's own entries before the reader gets them.
		errs = append(errs, probeconfig.Errorf("stream_maxlen", "must be at least messages (%d), or the probe trims away its own messages", cfg.messages()))
	}
	options, err := redis.ParseURL(cfg.URL)
	if err != nil {
		errs = append(errs, probeconfig.Errorf("url", "not a Redis url: %v", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Username != "" {
		options.Username = cfg.Username
	}
	if sh.password != "" {
		options.Password = sh.password.Reveal()
	}
	if sh.tls != nil {
		options.TLSConfig = sh.tls
	}
	// The core retries on its own terms (next run, new connection).
	options.MaxRetries = -1
	options.DialerRetries = 1
	// Without this go-redis ignores the run's deadline and waits its own
	// 3s-5s timeouts.
	options.ContextTimeoutEnabled = true
	options.PoolSize = 2 // publisher and stream reader
	options.DisableIdentity = true
	maxLen := cfg.StreamMaxLen
	if maxLen == 0 {
		maxLen = defaultStreamMaxLen
	}
	s := &redisSettings{options: options, topic: cfg.topic(), stream: cfg.Protocol == "redis-stream", maxLen: maxLen,
		agentID: sh.agentID, checkID: sh.checkID, uniqueName: !cfg.Persistent}
	return func() Transport { return &redisTransport{redisSettings: s} }, nil
}

func (t *redisTransport) Connect(ctx context.Context) error {
	options := *t.options // NewClient fills in defaults: a copy per client
	options.ClientName = clientID(t.agentID, t.checkID, t.uniqueName)
	t.client = redis.NewClient(&options)
	return t.client.Ping(ctx).Err()
}

func (t *redisTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	t.gate = newDeliveryGate(deliver)
	if t.stream {
		return t.subscribeStream(ctx)
	}
	t.pubsub = t.client.Subscribe(ctx, t.topic)
	// SUBSCRIBE is confirmed by a subscription message; only then will a
	// PUBLISH reach us.
	msg, err := t.pubsub.Receive(ctx)
	if err != nil {
		return err
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		return fmt.Errorf("unexpected reply %T to SUBSCRIBE", msg)
	}
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		for {
			// No client-side reconnect: an error ends the reader, marks the
			// transport dead and the core reconnects on the next run.
			m, err := t.pubsub.ReceiveMessage(context.Background())
			if err != nil {
				t.dead.Store(true)
				return
			}
			t.gate.send([]byte(m.Payload))
		}
	}()
	return nil
}

func (t *redisTransport) subscribeStream(ctx context.Context) error {
	// Start after the newest entry now in the stream ("0-0" when it is empty or
	// missing): everything added from here on is read, nothing before.
	last := "0-0"
	entries, err := t.client.XRevRangeN(ctx, t.topic, "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("read last entry of stream %s: %w", t.topic, err)
	}
	if len(entries) == 1 {
		last = entries[0].ID
	}
	t.added = map[string]bool{}
	readCtx, cancel := context.WithCancel(context.Background())
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		defer cancel()
		for readCtx.Err() == nil {
			streams, err := t.client.XRead(readCtx, &redis.XReadArgs{Streams: []string{t.topic, last}, Count: 100, Block: time.Second}).Result()
			if errors.Is(err, redis.Nil) {
				continue // BLOCK timed out with nothing new
			}
			if err != nil {
				if readCtx.Err() == nil {
					t.dead.Store(true)
				}
				return
			}
			var ours []string
			for _, s := range streams {
				for _, m := range s.Messages {
					last = m.ID
					if p, ok := m.Values[streamField].(string); ok {
						t.gate.send([]byte(p))
					}
					if t.forget(m.ID) {
						ours = append(ours, m.ID)
					}
				}
			}
			if len(ours) > 0 {
				// Entries read back are worthless; delete them in one
				// command. Not under readCtx: Close cancels that to end the
				// read, and a delete cut short would leave the entries in
				// the stream, forgotten. One that fails leaves them to Close.
				delCtx, cancelDel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := t.client.XDel(delCtx, t.topic, ours...).Err(); err != nil {
					t.remember(ours)
				}
				cancelDel()
			}
		}
	}()
	t.stopReader = cancel
	return nil
}

// remember puts ids back in the added set, for Close to delete.
func (t *redisTransport) remember(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		t.added[id] = true
	}
}

// forget removes id from the added set and reports whether it was there.
func (t *redisTransport) forget(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.added[id] {
		delete(t.added, id)
		return true
	}
	return false
}

func (t *redisTransport) Publish(ctx context.Context, payload []byte) error {
	if !t.stream {
		return t.client.Publish(ctx, t.topic, payload).Err()
	}
	// The id is recorded under the lock before the reader can see it read back:
	// the reader takes the same lock in forget.
	t.mu.Lock()
	defer t.mu.Unlock()
	id, err := t.client.XAdd(ctx, &redis.XAddArgs{
		Stream: t.topic,
		MaxLen: t.maxLen,
		Approx: true,
		Values: []any{streamField, payload},
	}).Result()
	if err != nil {
		return err
	}
	t.added[id] = true
	return nil
}

// Alive implements aliveChecker.
func (t *redisTransport) Alive() bool { return t.client != nil && !t.dead.Load() }

func (t *redisTransport) Close() error {
	t.gate.close()
	if t.client == nil {
		return nil
	}
	var errs []error
	if t.pubsub != nil {
		// Closing the connection ends ReceiveMessage, and with it the reader.
		if err := t.pubsub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close subscription: %w", err))
		}
	}
	if t.stopReader != nil {
		t.stopReader()
	}
	if t.done != nil {
		select {
		case <-t.done:
		case <-time.After(3 * time.Second):
			errs = append(errs, errors.New("reader did not end within 3s"))
		}
	}
	if t.stream {
		t.mu.Lock()
		ids := make([]string, 0, len(t.added))
		for id := range t.added {
			ids = append(ids, id)
		}
		t.mu.Unlock()
		if len(ids) > 0 && !t.dead.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := t.client.XDel(ctx, t.topic, ids...).Err(); err != nil {
				errs = append(errs, fmt.Errorf("delete %d entries from stream %s: %w", len(ids), t.topic, err))
			}
			cancel()
		}
	}
	if err := t.client.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
