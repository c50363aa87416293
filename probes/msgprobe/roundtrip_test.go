package msgprobe

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// relay wraps a real transport and misbehaves on delivery the way a faulty
// broker might, so the real core's counting can be checked. Modes:
// dup delivers each payload again just before the next one (a duplicate after
// the last message could come after the run completed, so it is not made);
// swap delivers each pair in reverse order;
// corrupt flips a byte of the 2nd payload; drop loses the 2nd payload; nosub
// never subscribes.
type relay struct {
	Transport
	mode string

	mu   sync.Mutex
	seen int
	held []byte
}

func (r *relay) Subscribe(ctx context.Context, deliver func([]byte)) error {
	if r.mode == "nosub" {
		return nil
	}
	return r.Transport.Subscribe(ctx, func(p []byte) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen++
		switch r.mode {
		case "dup":
			if r.held != nil {
				deliver(r.held)
			}
			deliver(p)
			r.held = bytes.Clone(p)
		case "swap":
			if r.held == nil {
				r.held = bytes.Clone(p)
				return
			}
			deliver(p)
			deliver(r.held)
			r.held = nil
		case "corrupt":
			if r.seen == 2 {
				p = bytes.Clone(p)
				p[len(p)-12] ^= 0x01
			}
			deliver(p)
		case "drop":
			if r.seen != 2 {
				deliver(p)
			}
		default:
			deliver(p)
		}
	})
}

// relayTransports is the transport table with the relay's protocols added:
// test-<inner>-<mode> is protocol inner behind a relay in mode.
func relayTransports() map[string]compileFunc {
	table := maps.Clone(transports)
	for _, inner := range []string{"nats", "amqp"} {
		for _, mode := range []string{"dup", "swap", "corrupt", "drop", "nosub"} {
			table["test-"+inner+"-"+mode] = func(s *shared) (connector, error) {
				c := *s.cfg
				c.Protocol = inner
				innerShared := *s
				innerShared.cfg = &c
				connect, err := transports[inner](&innerShared)
				if err != nil {
					return nil, err
				}
				return func() Transport { return &relay{Transport: connect(), mode: mode} }, nil
			}
		}
	}
	return table
}

// TestCounting drives the real core through a misbehaving relay over real
// brokers and checks every count and the verdict.
func TestCounting(t *testing.T) {
	natsURL := requireBroker(t, envNATS, defaultNATS)
	amqpURL := requireBroker(t, envAMQP, defaultAMQP)
	type counts struct{ sent, received, lost, dup, reordered, corrupted int }
	tests := []struct {
		protocol string
		messages int
		maxLoss  int
		want     counts
		pass     bool
		wantErr  []string
	}{
		{protocol: "test-nats-dup", messages: 3, want: counts{3, 3, 0, 2, 0, 0}, pass: true},
		{protocol: "test-nats-swap", messages: 4, want: counts{4, 4, 0, 0, 2, 0}, pass: true},
		{protocol: "test-nats-corrupt", messages: 3, want: counts{3, 2, 1, 0, 0, 1},
			wantErr: []string{"1 of 3 messages lost after 1", "1 corrupted messages received"}},
		{protocol: "test-nats-drop", messages: 3, maxLoss: 1, want: counts{3, 2, 1, 0, 0, 0}, pass: true},
		{protocol: "test-nats-drop", messages: 3, want: counts{3, 2, 1, 0, 0, 0}, wantErr: []string{"1 of 3 messages lost after 1"}},
		{protocol: "test-nats-drop", messages: 5, maxLoss: 0, want: counts{5, 4, 1, 0, 0, 0}, wantErr: []string{"1 of 5 messages lost"}},
		{protocol: "test-nats-nosub", messages: 3, want: counts{3, 0, 3, 0, 0, 0}, wantErr: []string{"3 of 3 messages lost"}},
		{protocol: "test-amqp-dup", messages: 5, want: counts{5, 5, 0, 4, 0, 0}, pass: true},
		{protocol: "test-amqp-nosub", messages: 3, want: counts{3, 0, 3, 0, 0, 0},
			wantErr: []string{"3 of 3 messages lost after", "3 unroutable", "312 NO_ROUTE"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s n%d maxloss%d", tc.protocol, tc.messages, tc.maxLoss), func(t *testing.T) {
			url := natsURL
			if strings.Contains(tc.protocol, "amqp") {
				url = amqpURL
			}
			cfg := &Config{Protocol: tc.protocol, URL: url, Topic: uniqueTopic(t), Messages: tc.messages, MaxLoss: tc.maxLoss}
			begin := time.Now()
			r := runRoundTripTable(t, cfg, relayTransports(), time.Second)
			m := r.Messaging
			got := counts{m.Sent, m.Received, m.Lost, m.Duplicated, m.Reordered, m.Corrupted}
			if got != tc.want {
				t.Errorf("counts = %+v, want %+v", got, tc.want)
			}
			if len(m.RoundTrips) != tc.want.received {
				t.Errorf("%d round trips, want one per received message (%d)", len(m.RoundTrips), tc.want.received)
			}
			if r.Success != tc.pass {
				t.Errorf("Success = %v, want %v (err %v)", r.Success, tc.pass, r.Err)
			}
			if r.TimedOut {
				t.Error("TimedOut set: a lossy run is a failure, not a timeout")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(r.ErrorString(), want) {
					t.Errorf("error %q does not contain %q", r.ErrorString(), want)
				}
			}
			assertPhases(t, r)
			if took := time.Since(begin); took > 1500*time.Millisecond {
				t.Errorf("run took %v with a 1s timeout", took)
			}
		})
	}
}

// TestAgentsShareTopic runs two agents on one subject at the same time while a
// stranger publishes junk there: each counts only its own messages.
func TestAgentsShareTopic(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	subject := uniqueTopic(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stop := make(chan struct{})
	var junk sync.WaitGroup
	junk.Add(1)
	go func() {
		defer junk.Done()
		for i := 0; i < 2000; i++ { // bounded; stops early when the agents finish
			select {
			case <-stop:
				return
			default:
			}
			nc.Publish(subject, []byte(fmt.Sprintf("vigil1.stranger-00000000.run.%d.0.00000000", i)))
			nc.Publish(subject, []byte("not a probe message"))
			nc.Flush()
		}
	}()
	defer func() { close(stop); junk.Wait() }()

	var wg sync.WaitGroup
	results := make([][]*probes.Result, 2)
	for i, agent := range []string{"kr-central-1/agent-a", "kr-south-1/agent-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := &Config{Protocol: "nats", URL: url, Subject: subject, Messages: 20}
			opts := probes.Options{AgentID: agent, CheckID: "talk/send/nats"}
			p, err := New(cfg, opts)
			if err != nil {
				t.Error(err)
				return
			}
			defer p.Close()
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				results[i] = append(results[i], p.Probe(ctx))
				cancel()
			}
		}()
	}
	wg.Wait()
	for i, rs := range results {
		for j, r := range rs {
			t.Run(fmt.Sprintf("agent%d run%d", i, j), func(t *testing.T) { assertRoundTrip(t, r, 20) })
		}
	}
}

// countingFactory wraps p's connector and counts the transports it opens.
func countingFactory(p *Prober) *int {
	n := new(int)
	inner := p.connect
	p.connect = func() Transport {
		*n++
		return inner()
	}
	return n
}

// TestPersistentReusesConnection runs three probes per protocol with
// persistent: true; one transport serves them all.
func TestPersistentReusesConnection(t *testing.T) {
	urls := map[string]string{
		"nats":         requireBroker(t, envNATS, defaultNATS),
		"mqtt":         requireBroker(t, envMQTT, defaultMQTT),
		"amqp":         requireBroker(t, envAMQP, defaultAMQP),
		"redis":        requireBroker(t, envRedis, defaultRedis),
		"redis-stream": requireBroker(t, envRedis, defaultRedis),
	}
	urls["jetstream"] = urls["nats"]
	for _, protocol := range []string{"nats", "jetstream", "mqtt", "amqp", "redis", "redis-stream"} {
		for _, version := range []string{"3.1.1", "5"} {
			if protocol != "mqtt" && version == "5" {
				continue
			}
			name := protocol
			if protocol == "mqtt" {
				name += " v" + version
			}
			t.Run(name, func(t *testing.T) {
				topic := uniqueTopic(t)
				cfg := &Config{Protocol: protocol, URL: urls[protocol], Topic: topic, Persistent: true, Messages: 2,
					MQTTOptions: MQTTOptions{MQTTVersion: version}}
				if protocol == "jetstream" {
					cfg.Stream = "VIGIL_TEST_PERSISTENT"
					t.Cleanup(func() { deleteStream(t, urls["nats"], cfg.Stream) })
				}
				p, err := New(cfg, testOptions(t))
				if err != nil {
					t.Fatal(err)
				}
				built := countingFactory(p)
				for run := range 3 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					r := p.Probe(ctx)
					cancel()
					assertRoundTrip(t, r, 2)
					if run > 0 {
						for _, phase := range []string{"connect", "subscribe"} {
							if d, _ := r.Phase(phase); d != 0 {
								t.Errorf("run %d: %s phase %v on a kept connection, want 0", run, phase, d)
							}
						}
					}
				}
				if *built != 1 {
					t.Errorf("%d transports built for 3 persistent runs, want 1", *built)
				}
				if err := p.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if r := p.Probe(context.Background()); r.Success || !strings.Contains(r.ErrorString(), "closed") {
					t.Errorf("probe after Close: success=%v err=%v, want a closed error", r.Success, r.Err)
				}
			})
		}
	}
}

// TestPersistentRecoversFromKilledConnection kills the kept Redis connections
// with CLIENT KILL; the next run notices and reconnects.
func TestPersistentRecoversFromKilledConnection(t *testing.T) {
	url := requireBroker(t, envRedis, defaultRedis)
	admin := redisAdmin(t, url)
	ctx := context.Background()
	cfg := &Config{Protocol: "redis", URL: url, Topic: uniqueTopic(t), Persistent: true}
	opts := testOptions(t)
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	built := countingFactory(p)
	name := clientID(opts.AgentID, opts.CheckID, false)
	connIDs := func() []string {
		var ids []string
		for _, line := range strings.Split(admin.ClientList(ctx).Val(), "\n") {
			if strings.Contains(line, " name="+name+" ") {
				ids = append(ids, strings.TrimPrefix(strings.Fields(line)[0], "id="))
			}
		}
		return ids
	}
	run := func() *probes.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Probe(ctx)
	}
	var first []string
	for i := range 3 {
		assertRoundTrip(t, run(), 3)
		ids := connIDs()
		if i == 0 {
			first = ids
		}
		if len(ids) == 0 || strings.Join(ids, ",") != strings.Join(first, ",") {
			t.Fatalf("run %d: connections %v, want the same as run 0 (%v)", i, ids, first)
		}
	}
	for _, id := range first {
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", id, err)
		}
	}
	// The subscriber notices the closed socket on its own; wait for that.
	testenv.WaitFor(t, 5*time.Second, "the killed connection to look dead", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.kept == nil || !p.kept.(aliveChecker).Alive()
	})
	r := run()
	assertRoundTrip(t, r, 3)
	if d, _ := r.Phase("connect"); d == 0 {
		t.Error("run after the kill has no connect time: it did not reconnect")
	}
	if *built != 2 {
		t.Errorf("%d transports built, want 2 (one reconnect)", *built)
	}
	if ids := connIDs(); len(ids) == 0 || strings.Join(ids, ",") == strings.Join(first, ",") {
		t.Errorf("connections after reconnect = %v, want new ones (old %v)", ids, first)
	}
}

// TestPersistentFailureReconnects: a failed persistent run closes its transport
// and the next run builds a new one.
func TestPersistentFailureReconnects(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	cfg := &Config{Protocol: "test-nats-drop", URL: url, Topic: uniqueTopic(t), Persistent: true, Messages: 2}
	p, err := newProber(cfg, testOptions(t), relayTransports())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	built := countingFactory(p)
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		r := p.Probe(ctx)
		cancel()
		// The relay drops the 2nd message a transport sees: each fresh transport
		// loses one, so each run fails and is followed by a reconnect.
		if r.Success || r.Messaging.Lost != 1 {
			t.Errorf("run %d: success=%v lost=%d, want a failure losing 1", i, r.Success, r.Messaging.Lost)
		}
	}
	if *built != 2 {
		t.Errorf("%d transports built for 2 failed persistent runs, want 2", *built)
	}
}

// TestNoLeakAfterManyRuns runs 1,000 fresh-connection NATS round trips and
// checks goroutines and heap come back to where they were.
func TestNoLeakAfterManyRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs; skipped with -short")
	}
	url := requireBroker(t, envNATS, defaultNATS)
	cfg := &Config{Protocol: "nats", URL: url, Subject: uniqueTopic(t), Messages: 1}
	p, err := New(cfg, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const runs, warmup = 1000, 100
	budget := time.Now().Add(45 * time.Second)
	var goroutines int
	var heap uint64
	for i := range runs {
		if time.Now().After(budget) {
			t.Fatalf("only %d runs in 45s", i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r := p.Probe(ctx)
		cancel()
		if !r.Success || r.Messaging.Received != 1 {
			t.Fatalf("run %d: success=%v received=%d err=%v", i, r.Success, r.Messaging.Received, r.Err)
		}
		if i == warmup-1 {
			goroutines, heap = settledGoroutines(0), heapInUse()
		}
	}
	if g := settledGoroutines(goroutines); g > goroutines {
		t.Errorf("goroutines: %d after %d runs, %d after %d", g, runs, goroutines, warmup)
	}
	after := heapInUse()
	t.Logf("heap in use: %d KiB after %d runs, %d KiB after %d", heap/1024, warmup, after/1024, runs)
	if after > heap+2<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB over %d runs", heap/1024, after/1024, runs-warmup)
	}
}

// settledGoroutines returns the goroutine count once it is at most want, or,
// for want 0, once it stopped changing (closed connections' readers exited);
// after 2s it returns the count as it is.
func settledGoroutines(want int) int {
	last := -1
	testenv.Poll(2*time.Second, func() bool {
		n := runtime.NumGoroutine()
		settled := (want > 0 && n <= want) || (want == 0 && n == last)
		last = n
		return settled
	})
	return runtime.NumGoroutine()
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// mosquittoInstance is a private Mosquitto on a free loopback port, so the
// shared broker other tests use is never disturbed.
type mosquittoInstance struct {
	t    *testing.T
	conf string
	addr string
	cmd  *exec.Cmd
}

func startMosquitto(t *testing.T, extraConf ...string) *mosquittoInstance {
	t.Helper()
	bin := testenv.NeedTool(t, "mosquitto", "mosquitto")
	m := &mosquittoInstance{t: t, addr: closedPortAddr(t)}
	_, port, _ := net.SplitHostPort(m.addr)
	m.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
	// user root: the test's files are root's; mosquitto would otherwise drop to
	// its own user before reading them.
	conf := "user root\nlistener " + port + " 127.0.0.1\npersistence false\nlog_dest stderr\nlog_type error\n" + strings.Join(extraConf, "\n") + "\n"
	if len(extraConf) == 0 {
		conf += "allow_anonymous true\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(bin)
	t.Cleanup(m.stop)
	return m
}

func (m *mosquittoInstance) start(bin string) {
	m.t.Helper()
	m.cmd = exec.Command(bin, "-c", m.conf)
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	var err error
	listening := testenv.Poll(5*time.Second, func() bool {
		var conn net.Conn
		if conn, err = net.DialTimeout("tcp", m.addr, 100*time.Millisecond); err != nil {
			return false
		}
		conn.Close()
		return true
	})
	if !listening {
		m.t.Fatalf("mosquitto on %s not up after 5s: %v", m.addr, err)
	}
}

// stop kills the instance this test started (by its own pid) and reaps it.
func (m *mosquittoInstance) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

// publishHook wraps a transport so a test can act just before a given publish.
type publishHook struct {
	Transport
	seq    int
	before func(seq int)
}

func (h *publishHook) Publish(ctx context.Context, payload []byte) error {
	h.seq++
	h.before(h.seq)
	return h.Transport.Publish(ctx, payload)
}

// TestBrokerRestartDuringRun kills a private Mosquitto in the middle of a
// persistent run: the run fails fast with a clear error, and once the broker is
// back the next run reconnects and passes.
func TestBrokerRestartDuringRun(t *testing.T) {
	m := startMosquitto(t)
	bin := m.cmd.Path
	for _, version := range []string{"3.1.1", "5"} {
		t.Run(version, func(t *testing.T) {
			cfg := &Config{Protocol: "mqtt", URL: "tcp://" + m.addr, Topic: "vigil/restart", Messages: 5, Persistent: true,
				MQTTOptions: MQTTOptions{MQTTVersion: version}}
			p, err := New(cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			killAt := 0
			inner := p.connect
			p.connect = func() Transport {
				return &publishHook{Transport: inner(), before: func(seq int) {
					if seq == killAt {
						m.stop()
					}
				}}
			}
			run := func() *probes.Result {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				return p.Probe(ctx)
			}
			assertRoundTrip(t, run(), 5)

			killAt = 5 + 3 // the 3rd publish of the second run on the same transport
			begin := time.Now()
			r := run()
			if r.Success {
				t.Fatal("run passed though the broker died during it")
			}
			if took := time.Since(begin); took > 3500*time.Millisecond {
				t.Errorf("failing run took %v, want within its 3s timeout", took)
			}
			if !strings.Contains(r.ErrorString(), "mqtt probe "+testOptions(t).CheckID+": ") {
				t.Errorf("error %q does not name the check", r.ErrorString())
			}
			t.Logf("run during restart: %v (sent %d received %d)", r.Err, r.Messaging.Sent, r.Messaging.Received)

			m.start(bin)
			killAt = 0
			r = run()
			assertRoundTrip(t, r, 5)
			if d, _ := r.Phase("connect"); d == 0 {
				t.Error("run after the restart did not reconnect")
			}
		})
	}
}

// TestContextCancelledDuringConnect: a peer that accepts TCP but never speaks
// fails the run at the deadline, marked as a timeout.
func TestContextCancelledDuringConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	addr := ln.Addr().String()
	tests := []struct{ protocol, url string }{
		{"mqtt", "tcp://" + addr},
		{"nats", "nats://" + addr},
		{"amqp", "amqp://guest:guest@" + addr + "/"},
		{"redis", "redis://" + addr + "/0"},
	}
	for _, tc := range tests {
		t.Run(tc.protocol, func(t *testing.T) {
			cfg := &Config{Protocol: tc.protocol, URL: tc.url, Topic: "vigil.silent"}
			begin := time.Now()
			r := runRoundTripWith(t, cfg, testOptions(t), 500*time.Millisecond)
			took := time.Since(begin)
			if r.Success || !r.TimedOut {
				t.Errorf("success=%v timedOut=%v err=%v, want a timeout", r.Success, r.TimedOut, r.Err)
			}
			if took > 3*time.Second {
				t.Errorf("run took %v with a 500ms deadline", took)
			}
			if !strings.Contains(r.ErrorString(), "connect ") {
				t.Errorf("error %q does not say connect failed", r.ErrorString())
			}
			if strings.Contains(r.ErrorString(), "guest:guest") {
				t.Errorf("error %q shows credentials", r.ErrorString())
			}
		})
	}
}
