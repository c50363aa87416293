package global

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
	"github.com/vigil-monitoring/vigil/sla/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	envNATS     = "VIGIL_TEST_NATS_URL"
	defaultNATS = "nats://127.0.0.1:4222"
	testAgent   = "kr-central-1-0"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// clock is a settable sla.Clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// agent is an SLA engine with the outbox on over a memory store, and the
// engine's clock: what an agent records, without probes.
type agent struct {
	mem   *store.Memory
	clock *clock
	e     *sla.Engine
	fails bool
}

func newAgent(t *testing.T, mem *store.Memory, c *clock) *agent {
	t.Helper()
	e, err := sla.New(mem, sla.Options{Region: "kr-central-1", Agent: testAgent, Clock: c, ScheduledHeartbeat: true, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := sla.FeatureSpec{Service: "talk", Feature: "message-send-receive", Objective: 0.999, Window: 30 * 24 * time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, Checks: []sla.CheckSpec{{Name: "api", Kind: "http"}}}
	if err := e.Configure([]sla.FeatureSpec{spec}); err != nil {
		t.Fatal(err)
	}
	return &agent{mem: mem, clock: c, e: e}
}

// flip feeds a result that changes the feature's state (each writes a
// transition and an outage record), then a heartbeat.
func (a *agent) flip(t *testing.T) {
	t.Helper()
	a.clock.Add(time.Second)
	a.fails = !a.fails
	o := sla.Observation{Start: a.clock.Now(), Success: !a.fails}
	if a.fails {
		o.Error = "connection refused"
	}
	a.e.Observe("talk", "message-send-receive", "api", o)
	if err := a.e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
}

func (a *agent) last(t *testing.T) uint64 {
	t.Helper()
	n, err := a.e.OutboxLast()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// uniqueNames are a stream and subject prefix no other test uses.
func uniqueNames(t *testing.T) (stream, prefix string) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return "VIGILTEST_" + strings.ToUpper(id), "vigiltest" + id
}

// startPublisher runs p until the test ends.
func startPublisher(t *testing.T, p *Publisher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return sync.OnceFunc(stop)
}

// streamRecord is one message of the stream as a consumer sees it.
type streamRecord struct {
	subject, msgID string
	header         sla.RecordHeader
}

// readStream returns every message of the stream in stream order.
func readStream(t *testing.T, url, stream string) []streamRecord {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []streamRecord
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		var h sla.RecordHeader
		if err := json.Unmarshal(m.Data, &h); err != nil {
			t.Fatalf("stream message %d: %v: %s", seq, err, m.Data)
		}
		out = append(out, streamRecord{m.Subject, m.Header.Get(jetstream.MsgIDHeader), h})
	}
	return out
}

// checkExactlyOnce asserts that the stream holds the agent's records 1..last
// once each (a consumer's check: by agent and seq), each with its message
// id and subject.
func checkExactlyOnce(t *testing.T, recs []streamRecord, prefix string, last uint64) {
	t.Helper()
	seen := map[uint64]int{}
	for _, r := range recs {
		seen[r.header.Seq]++
		if want := fmt.Sprintf("%s-%d", testAgent, r.header.Seq); r.msgID != want {
			t.Errorf("seq %d: Nats-Msg-Id %q, want %q", r.header.Seq, r.msgID, want)
		}
		if want := Subject(prefix, r.header); r.subject != want || !strings.HasPrefix(r.subject, prefix+".kr-central-1."+testAgent+".") {
			t.Errorf("seq %d: subject %q, want %q", r.header.Seq, r.subject, want)
		}
	}
	for seq := uint64(1); seq <= last; seq++ {
		if seen[seq] != 1 {
			t.Errorf("record %d is in the stream %d times, want once", seq, seen[seq])
		}
	}
	if len(recs) != int(last) {
		t.Errorf("stream holds %d messages, want %d", len(recs), last)
	}
}

func deleteStream(t *testing.T, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Log(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("delete stream %s: %v", stream, err)
	}
}

// metric returns a series' value from the publisher's collector.
func metric(t *testing.T, p *Publisher, name, result string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() != result {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// TestPublishRealServer: against the machine's nats-server, the publisher
// creates its stream, publishes every record once in order with its
// message id and subject, acknowledges the outbox and counts it.
func TestPublishRealServer(t *testing.T) {
	raw := os.Getenv(envNATS)
	if raw == "" {
		raw = defaultNATS
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s=%q: %v", envNATS, raw, err)
	}
	testenv.NeedTCP(t, u.Host, "NATS with JetStream ("+envNATS+")")
	stream, prefix := uniqueNames(t)
	t.Cleanup(func() { deleteStream(t, raw, stream) })

	a := newAgent(t, store.NewMemory(), &clock{t: t0})
	defer a.e.Close()
	for range 5 {
		a.flip(t)
	}
	p := NewPublisher(Config{URL: raw, Stream: stream, SubjectPrefix: prefix, Poll: 10 * time.Millisecond}, a.e)
	if got, want := metric(t, p, "vigil_global_outbox_pending", ""), float64(a.last(t)); got != want {
		t.Errorf("pending before publishing = %g, want %g", got, want)
	}
	startPublisher(t, p)
	last := a.last(t)
	testenv.WaitFor(t, 10*time.Second, "the outbox to drain", func() bool { return metric(t, p, "vigil_global_outbox_pending", "") == 0 })
	recs := readStream(t, raw, stream)
	checkExactlyOnce(t, recs, prefix, last)
	for i, r := range recs {
		if r.header.Seq != uint64(i+1) {
			t.Errorf("stream message %d has seq %d: out of order", i+1, r.header.Seq)
		}
	}
	if got := metric(t, p, "vigil_global_published_total", "ok"); got != float64(last) {
		t.Errorf("published ok = %g, want %d", got, last)
	}
	if got := metric(t, p, "vigil_global_last_publish_success_timestamp_seconds", ""); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success = %g, want about now", got)
	}
	if left, _ := a.e.OutboxAfter(0, 0); len(left) != 0 {
		t.Errorf("outbox still holds %d entries", len(left))
	}
}

// embedded is a nats-server with JetStream run by the test on a fixed
// loopback port, so that it can be stopped and started again.
type embedded struct {
	t    *testing.T
	port int
	dir  string
	opts func(*natsserver.Options)
	s    *natsserver.Server
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (e *embedded) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", e.port) }

func (e *embedded) start() {
	e.t.Helper()
	o := &natsserver.Options{Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir, NoLog: true, NoSigs: true}
	if e.opts != nil {
		e.opts(o)
	}
	s, err := natsserver.NewServer(o)
	if err != nil {
		e.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		e.t.Fatal("embedded nats-server not ready")
	}
	e.s = s
}

func (e *embedded) stop() {
	if e.s != nil {
		e.s.Shutdown()
		e.s.WaitForShutdown()
		e.s = nil
	}
}

func newEmbedded(t *testing.T) *embedded {
	e := &embedded{t: t, port: freePort(t), dir: t.TempDir()}
	t.Cleanup(e.stop)
	return e
}

// noAck is an outbox whose acknowledgements are lost: the agent dies
// after the stream stored a record and before the outbox heard of it.
type noAck struct {
	Outbox
	published chan uint64
}

func (n noAck) AckOutbox(upTo uint64) error {
	select {
	case n.published <- upTo:
	default:
	}
	return errors.New("killed before the acknowledgement")
}

// TestPublishWhileServerDown: with NATS down the engine goes on recording
// and the outbox grows; once NATS is up the outbox drains in order, every
// record once. An agent killed between publishing and acknowledging
// publishes again after its restart, and the stream keeps each record once
// (its duplicate window); the records of the restart follow.
func TestPublishWhileServerDown(t *testing.T) {
	srv := newEmbedded(t)
	stream, prefix := "VIGIL", "vigil"
	mem := store.NewMemory()
	a := newAgent(t, mem, &clock{t: t0})
	cfg := Config{URL: srv.url(), Stream: stream, SubjectPrefix: prefix, Poll: 5 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Page: 4}
	p := NewPublisher(cfg, a.e)
	stop := startPublisher(t, p)
	before := a.last(t)
	for range 6 {
		a.flip(t) // recording goes on while NATS is down
	}
	last := a.last(t)
	if last < before+12 {
		t.Fatalf("outbox last seq %d after 6 flips from %d: records were not written", last, before)
	}
	if got := metric(t, p, "vigil_global_outbox_pending", ""); got != float64(last) {
		t.Errorf("pending while NATS is down = %g, want %d", got, last)
	}
	srv.start()
	testenv.WaitFor(t, 10*time.Second, "the outbox to drain", func() bool { return metric(t, p, "vigil_global_outbox_pending", "") == 0 })
	stop()
	checkExactlyOnce(t, readStream(t, srv.url(), stream), prefix, last)

	// More records; the agent publishes them and is killed before it
	// acknowledges them (the engine is never closed).
	for range 3 {
		a.flip(t)
	}
	killed := make(chan uint64, 1)
	p2 := NewPublisher(cfg, noAck{a.e, killed})
	stop2 := startPublisher(t, p2)
	<-killed
	stop2()
	if n, _ := a.e.OutboxAfter(0, 0); len(n) == 0 {
		t.Fatal("the outbox was acknowledged by a killed agent")
	}
	// Restart on the same store: the gap and heartbeat are recorded, the
	// unacknowledged records published again.
	a.clock.Add(30 * time.Second)
	b := newAgent(t, mem, a.clock)
	defer b.e.Close()
	last = b.last(t)
	p3 := NewPublisher(cfg, b.e)
	startPublisher(t, p3)
	testenv.WaitFor(t, 10*time.Second, "the outbox to drain after the restart", func() bool { return metric(t, p3, "vigil_global_outbox_pending", "") == 0 })
	recs := readStream(t, srv.url(), stream)
	checkExactlyOnce(t, recs, prefix, last)
	var gaps int
	for _, r := range recs {
		if r.header.Type == sla.RecordGap {
			gaps++
		}
	}
	if gaps != 1 {
		t.Errorf("%d gap records in the stream, want 1 (the restart)", gaps)
	}
}

// TestStreamDeletedUnderAgent: a stream deleted while the agent publishes
// is created again and the records go on; nothing crashes.
func TestStreamDeletedUnderAgent(t *testing.T) {
	srv := newEmbedded(t)
	srv.start()
	a := newAgent(t, store.NewMemory(), &clock{t: t0})
	defer a.e.Close()
	cfg := Config{URL: srv.url(), Poll: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	p := NewPublisher(cfg, a.e)
	startPublisher(t, p)
	a.flip(t)
	testenv.WaitFor(t, 10*time.Second, "the first records", func() bool { return metric(t, p, "vigil_global_outbox_pending", "") == 0 })
	deleteStream(t, srv.url(), DefaultStream)
	a.flip(t)
	last := a.last(t)
	testenv.WaitFor(t, 10*time.Second, "the records after the deletion", func() bool { return metric(t, p, "vigil_global_outbox_pending", "") == 0 })
	recs := readStream(t, srv.url(), DefaultStream)
	if len(recs) == 0 || recs[len(recs)-1].header.Seq != last {
		t.Fatalf("stream after recreation holds %d records, the last %+v; want up to seq %d", len(recs), recs, last)
	}
}

// syncBuffer is a log destination tests read while the publisher writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestBadCredentials: malformed credentials or a refused password are a
// clear log line, logged once while they go on; the engine keeps
// recording and the outbox keeps the records.
func TestBadCredentials(t *testing.T) {
	badCreds := filepath.Join(t.TempDir(), "bad.creds")
	if err := os.WriteFile(badCreds, []byte("this is not a creds file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"malformed creds file", func(c *Config) { c.CredentialsFile = badCreds }, "connect: error signing nonce: unable to extract key pair from file"},
		{"wrong password", func(c *Config) { c.Username, c.Password = "vigil", "wrong" }, "Authorization Violation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEmbedded(t)
			srv.opts = func(o *natsserver.Options) { o.Username, o.Password = "vigil", "secret" }
			srv.start()
			var logs syncBuffer
			a := newAgent(t, store.NewMemory(), &clock{t: t0})
			defer a.e.Close()
			cfg := Config{URL: srv.url(), Poll: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			tc.cfg(&cfg)
			p := NewPublisher(cfg, a.e)
			stop := startPublisher(t, p)
			a.flip(t)
			if !testenv.Poll(10*time.Second, func() bool { return strings.Contains(logs.String(), tc.want) }) {
				t.Fatalf("no %q in the log:\n%s", tc.want, logs.String())
			}
			a.flip(t) // the engine records on
			stop()
			if got, want := metric(t, p, "vigil_global_outbox_pending", ""), float64(a.last(t)); got != want || want == 0 {
				t.Errorf("pending = %g, want %g (every record kept)", got, want)
			}
			if n := strings.Count(logs.String(), "cannot publish"); n != 1 {
				t.Errorf("the failure was logged %d times, want once (rate limited):\n%s", n, logs.String())
			}
			if strings.Contains(logs.String(), "secret") || strings.Contains(logs.String(), "=wrong") {
				t.Errorf("a password reached the log:\n%s", logs.String())
			}
		})
	}
}

// TestToken: names the config accepts are subject tokens as they are;
// anything else cannot break the subject.
func TestToken(t *testing.T) {
	for in, want := range map[string]string{"kr-central-1": "kr-central-1", "a_b": "a_b", "": "_", "a.b": "a%2Eb",
		"x*": "x%2A", ">": "%3E", "a b": "a%20b", "%": "%25"} {
		if got := Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	h := sla.RecordHeader{Region: "kr", Agent: "kr-0", Type: "heartbeat"}
	if got := Subject("vigil", h); got != "vigil.kr.kr-0._agent.heartbeat" {
		t.Errorf("heartbeat subject %q", got)
	}
	h.Service, h.Feature, h.Type = "talk", "send", "outage"
	if got := Subject("vigil", h); got != "vigil.kr.kr-0.talk.send.outage" {
		t.Errorf("outage subject %q", got)
	}
}
