package msgprobe

import (
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// TestMain fails the package's tests if any goroutine outlives them: transports
// must stop everything they start at Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Default broker addresses on this machine; each can be overridden by its env var.
const (
	envMQTT      = "VIGIL_TEST_MQTT_URL"
	envNATS      = "VIGIL_TEST_NATS_URL"
	envAMQP      = "VIGIL_TEST_AMQP_URL"
	envRedis     = "VIGIL_TEST_REDIS_URL"
	defaultMQTT  = "tcp://127.0.0.1:1883"
	defaultNATS  = "nats://127.0.0.1:4222"
	defaultAMQP  = "amqp://guest:guest@127.0.0.1:5672/"
	defaultRedis = "redis://127.0.0.1:6379/0"
)

// requireBroker returns the broker url from envVar (or defaultURL) once a TCP
// connection to it succeeds. An unreachable broker skips the test loudly, or
// fails it when CI=true, where every broker must run.
func requireBroker(t testing.TB, envVar, defaultURL string) string {
	t.Helper()
	raw := os.Getenv(envVar)
	if raw == "" {
		raw = defaultURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s=%q: cannot parse: %v", envVar, raw, err)
	}
	testenv.NeedTCP(t, u.Host, "broker "+redactURL(raw)+" ("+envVar+"; start it or point "+envVar+" at one)")
	return raw
}

// testOptions are the probe options of a test check: a fixed agent and a check
// id named after the test.
func testOptions(t testing.TB) probes.Options {
	return probes.Options{AgentID: "test-agent/127.0.0.1", CheckID: "test/msgprobe/" + sanitizeID(t.Name(), 64)}
}

// uniqueTopic returns a topic no other test uses; dots only, which every
// protocol accepts in names.
func uniqueTopic(t testing.TB) string {
	return "vigil.test." + sanitizeID(t.Name(), 24) + "." + strconv.FormatUint(rand.Uint64()>>16, 36)
}

// runRoundTrip validates cfg, runs one probe through the real core with a 10s
// deadline and closes the Prober, returning the Result.
func runRoundTrip(t testing.TB, cfg *Config) *probes.Result {
	t.Helper()
	return runRoundTripWith(t, cfg, testOptions(t), 10*time.Second)
}

// runRoundTripWith is runRoundTrip with chosen options and timeout.
func runRoundTripWith(t testing.TB, cfg *Config, opts probes.Options, timeout time.Duration) *probes.Result {
	t.Helper()
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return runOnce(t, p, timeout)
}

// runRoundTripTable is runRoundTrip with a transport table of the test's own
// (fake protocols) and a timeout.
func runRoundTripTable(t testing.TB, cfg *Config, table map[string]compileFunc, timeout time.Duration) *probes.Result {
	t.Helper()
	p, err := newProber(cfg, testOptions(t), table)
	if err != nil {
		t.Fatalf("newProber: %v", err)
	}
	return runOnce(t, p, timeout)
}

// runOnce runs p once within timeout and closes it.
func runOnce(t testing.TB, p *Prober, timeout time.Duration) *probes.Result {
	t.Helper()
	defer func() {
		if err := p.Close(); err != nil {
			t.Logf("close prober: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx)
}

// assertRoundTrip checks a passing run of n messages: all sent and received
// once, nothing lost, duplicated, reordered or corrupted, n round trips, and
// the four phases in order.
func assertRoundTrip(t testing.TB, r *probes.Result, n int) {
	t.Helper()
	if !r.Success || r.Err != nil {
		t.Fatalf("run failed: success=%v err=%v", r.Success, r.Err)
	}
	m := r.Messaging
	if m == nil {
		t.Fatal("Result.Messaging is nil")
	}
	if m.Sent != n || m.Received != n || m.Lost != 0 || m.Duplicated != 0 || m.Reordered != 0 || m.Corrupted != 0 {
		t.Errorf("counts = sent %d received %d lost %d dup %d reordered %d corrupted %d, want sent=received=%d and zeros",
			m.Sent, m.Received, m.Lost, m.Duplicated, m.Reordered, m.Corrupted, n)
	}
	if len(m.RoundTrips) != n {
		t.Errorf("len(RoundTrips) = %d, want %d", len(m.RoundTrips), n)
	}
	for i, rt := range m.RoundTrips {
		if rt <= 0 || rt > r.Duration {
			t.Errorf("RoundTrips[%d] = %v, want in (0, %v]", i, rt, r.Duration)
		}
	}
	assertPhases(t, r)
}

// assertPhases checks the messaging phases are present in order.
func assertPhases(t testing.TB, r *probes.Result) {
	t.Helper()
	var names []string
	for _, ph := range r.Phases {
		names = append(names, ph.Name)
		if ph.Duration < 0 {
			t.Errorf("phase %s has negative duration %v", ph.Name, ph.Duration)
		}
	}
	if want := []string{"connect", "subscribe", "publish", "deliver"}; !slices.Equal(names, want) {
		t.Errorf("phases = %v, want %v", names, want)
	}
}

// closedPortAddr returns 127.0.0.1:port where nothing listens (a listener was
// opened and closed), for broker-down tests.
func closedPortAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// buildTransport compiles cfg as New does and opens one Transport from it,
// for tests that drive a transport directly.
func buildTransport(cfg *Config, opts probes.Options) (Transport, error) {
	connect, _, err := cfg.compile(opts, transports)
	if err != nil {
		return nil, err
	}
	return connect(), nil
}
