package grpcprobe

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of a grpc run: resolve only for a host name, tls only with tls, and
// check, the health call once the connection was ready.
const (
	phaseConnect = "connect"
	phaseTLS     = "tls"
	phaseCheck   = "check"
)

// Bounds on what a server may send: a health answer is a few bytes, its
// headers a few hundred.
const (
	maxRecvMsgBytes    = 4 << 10
	maxHeaderListBytes = 16 << 10
)

// Prober runs grpc checks. It keeps nothing between runs but its plan: each
// run opens and closes its own connection, as blackbox_exporter does, so a
// run sees the server as a new client would.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger
	what    string // "service \"x\"" or "the server", for errors
}

// New builds a Prober from a validated Config.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("grpc probe %s: %w", opts.CheckID, err)
	}
	what := "the server"
	if p.service != "" {
		what = fmt.Sprintf("service %q", p.service)
	}
	return &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger, what: what}, nil
}

// Probe makes one health check call. It returns by ctx's deadline, and at
// once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "grpc", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and GRPC and TLS info.
func (p *Prober) run(ctx context.Context, r *probes.Result) error {
	ep := p.plan.endpoint
	ip, target, err := probes.Resolve(ctx, r, ep)
	if err != nil {
		return err
	}
	trace := &connTrace{}
	// The :authority is the configured host:port, not the address dialed;
	// over TLS it is the TLS server name, as gRPC requires.
	creds, authority := insecure.NewCredentials(), grpc.WithAuthority(ep.String())
	if p.plan.tlsConfig != nil {
		creds, authority = &timedCreds{TransportCredentials: credentials.NewTLS(p.plan.tlsConfig), trace: trace}, grpc.EmptyDialOption{}
	}
	// The dialer connects to ip whatever the target; passthrough keeps gRPC
	// from resolving it again.
	conn, err := grpc.NewClient("passthrough:///"+netip.AddrPortFrom(ip, ep.Port).String(),
		grpc.WithContextDialer(trace.dialer(ep, ip)),
		grpc.WithTransportCredentials(creds),
		authority,
		grpc.WithUserAgent("vigil"),
		grpc.WithDisableRetry(),
		grpc.WithMaxHeaderListSize(maxHeaderListBytes),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgBytes)),
	)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer conn.Close()

	if len(p.plan.metadata) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, p.plan.metadata...)
	}
	rpcStart := time.Now()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.plan.service})
	trace.record(r, rpcStart, time.Now())
	code := status.Code(err)
	r.GRPC = &probes.GRPCInfo{StatusCode: code.String(), Code: int(code)}
	if err != nil {
		return p.callError(ctx, trace, target, err)
	}
	r.GRPC.ServingStatus = resp.GetStatus().String()
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%s: %s is %s", target, p.what, r.GRPC.ServingStatus)
	}
	return nil
}

// callError says why the health call failed: the connection's own error when
// it never opened, else the call's status.
func (p *Prober) callError(ctx context.Context, trace *connTrace, target string, err error) error {
	trace.mu.Lock()
	connectErr, tlsErr := trace.connectErr, trace.tlsErr
	trace.mu.Unlock()
	switch {
	case connectErr != nil:
		return fmt.Errorf("connect %s: %w", target, probes.NetCause(connectErr))
	case tlsErr != nil:
		return fmt.Errorf("handshake %s: %w", target, probes.DescribeTLSError(probes.NetCause(tlsErr)))
	}
	st := status.Convert(err)
	if (st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled) && ctx.Err() != nil {
		// The status hides the context's error; RunCause needs it.
		return fmt.Errorf("%s: health check of %s: %w", target, p.what, ctx.Err())
	}
	return fmt.Errorf("%s: health check of %s: code %s: %s", target, p.what, st.Code(), st.Message())
}
