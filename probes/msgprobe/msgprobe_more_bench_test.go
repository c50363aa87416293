package msgprobe

// Benchmarks of the Kafka, WebSocket, HTTP and mail transports, and the small
// harness their tests share: a transport connected and subscribed with a
// collecting deliver function.

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// collector gathers delivered payloads; deliver may be called from any
// goroutine.
type collector struct {
	mu      sync.Mutex
	got     [][]byte
	arrived chan struct{} // a token after each delivery
}

func newCollector() *collector { return &collector{arrived: make(chan struct{}, 1)} }

func (c *collector) deliver(payload []byte) {
	c.mu.Lock()
	c.got = append(c.got, bytes.Clone(payload))
	c.mu.Unlock()
	select {
	case c.arrived <- struct{}{}:
	default:
	}
}

// payloads returns what arrived so far, as strings.
func (c *collector) payloads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.got))
	for i, p := range c.got {
		out[i] = string(p)
	}
	return out
}

// waitFor waits until at least n payloads arrived or timeout passed, and
// returns what arrived.
func (c *collector) waitFor(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if got := c.payloads(); len(got) >= n {
			return got
		}
		select {
		case <-c.arrived:
		case <-deadline.C:
			return c.payloads()
		}
	}
}

// testPayloadsMore returns n distinct payloads shaped like the core's
// ("vigil1.<agent>.<run>.<seq>.<nanos>.<crc>"), unique per call.
func testPayloadsMore(n int) [][]byte {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "vigil1.test-agent.%s.%d.%d.deadbeef", run, i+1, time.Now().UnixNano())
	}
	return out
}

func asStrings(payloads [][]byte) []string {
	out := make([]string, len(payloads))
	for i, p := range payloads {
		out[i] = string(p)
	}
	return out
}

// startTransport builds the transport of cfg, connects and subscribes it with
// a collector, and closes it when the test ends.
func startTransport(t testing.TB, cfg *Config) (Transport, *collector) {
	t.Helper()
	tr, err := buildTransport(cfg, testOptions(t))
	if err != nil {
		t.Fatalf("build %s transport: %v", cfg.Protocol, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c := newCollector()
	if err := tr.Subscribe(ctx, c.deliver); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return tr, c
}

// publishAll publishes every payload, failing the test on the first error.
func publishAll(t testing.TB, tr Transport, payloads [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, p := range payloads {
		if err := tr.Publish(ctx, p); err != nil {
			t.Fatalf("Publish %d: %v", i+1, err)
		}
	}
}

// assertSame fails unless got equals want element by element (so in order).
func assertSame(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d payloads %q, want %d %q", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("payload %d = %q, want %q (all: %q)", i, got[i], want[i], got)
		}
	}
}

// benchRoundTrip measures one publish-to-delivery on a connected transport.
func benchRoundTrip(b *testing.B, cfg *Config) {
	b.Helper()
	tr, err := buildTransport(cfg, testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := tr.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	arrived := make(chan struct{}, 16)
	if err := tr.Subscribe(ctx, func([]byte) { arrived <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	// Distinct payloads, as in real runs: poll-based transports tell new
	// messages from old ones by their text.
	prefix := testPayloadsMore(1)[0]
	payload := make([]byte, 0, len(prefix)+20)
	seq := 0
	timeout := time.NewTimer(time.Hour)
	defer timeout.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seq++
		payload = strconv.AppendInt(append(payload[:0], prefix...), int64(seq), 10)
		if err := tr.Publish(ctx, payload); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(10 * time.Second)
		select {
		case <-arrived:
		case <-timeout.C:
			b.Fatal("payload did not come back within 10s")
		}
	}
}

func BenchmarkTransportRoundTripKafka(b *testing.B) {
	benchRoundTrip(b, kafkaTestConfig(b, newKafkaCluster(b, 1), ""))
}

func BenchmarkTransportRoundTripWebSocket(b *testing.B) {
	srv := newEchoServer(b, echoPlain)
	benchRoundTrip(b, &Config{Protocol: "websocket", URL: srv.url})
}

func BenchmarkTransportRoundTripHTTP(b *testing.B) {
	for _, mode := range []string{"poll", "long-poll", "sse"} {
		b.Run(mode, func(b *testing.B) {
			chat := newChatServer(b)
			benchRoundTrip(b, chat.config(mode))
		})
	}
}

func BenchmarkTransportRoundTripMail(b *testing.B) {
	benchRoundTrip(b, newMailServers(b, mailTLSStartTLS).config())
}

// With persistent: true the connection and subscription outlive a run; the
// next run must still see exactly its own messages.
func TestMoreTransportsPersistent(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) *Config
	}{
		{name: "kafka", cfg: func(t *testing.T) *Config { return kafkaTestConfig(t, newKafkaCluster(t, 1), "") }},
		{name: "websocket", cfg: func(t *testing.T) *Config {
			return &Config{Protocol: "websocket", URL: newEchoServer(t, echoPlain).url}
		}},
		{name: "http poll", cfg: func(t *testing.T) *Config { return newChatServer(t).config("poll") }},
		{name: "http sse", cfg: func(t *testing.T) *Config { return newChatServer(t).config("sse") }},
		{name: "mail", cfg: func(t *testing.T) *Config { return newMailServers(t, mailTLSStartTLS).config() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			cfg.Persistent = true
			p, err := New(cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for run := 1; run <= 2; run++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				r := p.Probe(ctx)
				cancel()
				assertRoundTrip(t, r, 3)
				if d, _ := r.Phase("connect"); run == 2 && d != 0 {
					t.Errorf("run 2 connect phase = %v, want 0 (connection kept)", d)
				}
			}
		})
	}
}
