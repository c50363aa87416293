package grpcprobe

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// connTrace records, for one run, the connect and TLS steps gRPC takes on
// its own goroutines through dial and the credentials below.
type connTrace struct {
	mu         sync.Mutex
	connect    time.Duration
	connectErr error
	tls        time.Duration
	tlsDone    bool
	tlsErr     error
	state      *tls.ConnectionState
	ready      time.Time // when the connection was ready for the call
}

// dialer returns gRPC's dialer for a run: it connects to ip whatever address
// gRPC asks for (the target was resolved by the run) and times it.
func (t *connTrace) dialer(ep *probeconfig.Endpoint, ip netip.Addr) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		start := time.Now()
		conn, err := ep.DialTCP(ctx, ip)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.connect, t.connectErr = time.Since(start), err
		t.ready = time.Now()
		return conn, err
	}
}

// timedCreds are TLS transport credentials that time the handshake and keep
// its state.
type timedCreds struct {
	credentials.TransportCredentials
	trace *connTrace
}

func (c *timedCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	start := time.Now()
	out, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, conn)
	c.trace.mu.Lock()
	defer c.trace.mu.Unlock()
	c.trace.tls, c.trace.tlsDone, c.trace.tlsErr = time.Since(start), true, err
	c.trace.ready = time.Now()
	if ti, ok := info.(credentials.TLSInfo); ok {
		c.trace.state = &ti.State
	}
	return out, info, err
}

// Clone keeps the trace: gRPC clones credentials per connection.
func (c *timedCreds) Clone() credentials.TransportCredentials {
	return &timedCreds{TransportCredentials: c.TransportCredentials.Clone(), trace: c.trace}
}

// record adds the connection's phases and TLS info to r.
func (t *connTrace) record(r *probes.Result, rpcStart, rpcEnd time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Phases = append(r.Phases, probes.Phase{Name: phaseConnect, Duration: t.connect})
	if t.tlsDone {
		r.Phases = append(r.Phases, probes.Phase{Name: phaseTLS, Duration: t.tls})
	}
	if t.state != nil {
		r.TLS = probes.NewTLSInfo(t.state)
	}
	start := rpcStart
	if t.ready.After(start) {
		start = t.ready
	}
	r.Phases = append(r.Phases, probes.Phase{Name: phaseCheck, Duration: rpcEnd.Sub(start)})
}
