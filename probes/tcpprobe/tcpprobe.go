package tcpprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of a tcp run: resolve only when the target is a host name, tls with
// tls: true or at a starttls step, and one exchange_N per query_response step
// (N from 1) covering its expect and send.
const (
	phaseConnect = "connect"
	phaseTLS     = "tls"
)

func exchangePhase(i int) string { return "exchange_" + strconv.Itoa(i+1) }

// Prober runs tcp checks. It keeps nothing between runs but its plan.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger
}

// New builds a Prober from a validated Config.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("tcp probe %s: %w", opts.CheckID, err)
	}
	return &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger}, nil
}

// Probe connects and walks the dialogue. It returns by ctx's deadline, and at
// once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "tcp", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and TCP and TLS info.
func (p *Prober) run(ctx context.Context, r *probes.Result) error {
	ep := p.plan.endpoint
	ip, target, err := probes.Resolve(ctx, r, ep)
	if err != nil {
		return err
	}
	start := time.Now()
	var conn net.Conn
	conn, err = ep.DialTCP(ctx, ip)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseConnect, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("connect %s: %w", target, probes.NetCause(err))
	}
	defer func() { conn.Close() }() // conn may become a TLS conn
	stop := probes.BindConn(ctx, conn)
	defer stop()
	r.TCP = &probes.TCPInfo{Addr: conn.RemoteAddr().String()}

	if p.plan.tls {
		if conn, err = p.handshake(ctx, r, conn); err != nil {
			return fmt.Errorf("handshake %s: %w", target, err)
		}
	}
	s := &session{conn: conn, lines: newLineReader(conn, p.plan.maxRead)}
	defer func() { conn = s.conn }() // runs before the Close above
	for i, step := range p.plan.steps {
		if err := p.step(ctx, r, i, step, s); err != nil {
			return fmt.Errorf("%s: query_response[%d]: %w", target, i, err)
		}
		r.TCP.Exchanges++
	}
	return nil
}

// session is the connection of a run as the dialogue goes: plain, then TLS
// after a starttls step.
type session struct {
	conn  net.Conn
	lines *lineReader
}

// step does one query_response step: expect, send, starttls.
func (p *Prober) step(ctx context.Context, r *probes.Result, i int, step QueryResponse, s *session) error {
	start := time.Now()
	send := step.Send
	if re := step.Expect.Regexp; re != nil {
		line, match, err := s.lines.expect(re)
		if err != nil {
			return fmt.Errorf("expect %q: %w", re, err)
		}
		send = string(re.Expand(nil, []byte(send), line, match))
	}
	if send != "" {
		if _, err := s.conn.Write([]byte(send + "\n")); err != nil {
			return fmt.Errorf("send: %w", probes.NetCause(err))
		}
	}
	if step.Expect.Regexp != nil || send != "" {
		r.Phases = append(r.Phases, probes.Phase{Name: exchangePhase(i), Duration: time.Since(start)})
	}
	if !step.StartTLS {
		return nil
	}
	// Bytes the server sent ahead of the handshake would be read as if they
	// came over TLS (STARTTLS command injection): refuse them.
	if n := s.lines.r.Buffered(); n > 0 {
		return fmt.Errorf("starttls: the server sent %d bytes before the handshake", n)
	}
	tconn, err := p.handshake(ctx, r, s.conn)
	if err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	s.conn, s.lines = tconn, newLineReader(tconn, p.plan.maxRead)
	return nil
}

// handshake makes the TLS handshake over conn and records its phase and info.
func (p *Prober) handshake(ctx context.Context, r *probes.Result, conn net.Conn) (net.Conn, error) {
	start := time.Now()
	tconn := tls.Client(conn, p.plan.tlsConfig)
	err := tconn.HandshakeContext(ctx)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseTLS, Duration: time.Since(start)})
	if err != nil {
		return conn, probes.DescribeTLSError(probes.NetCause(err))
	}
	state := tconn.ConnectionState()
	r.TLS = probes.NewTLSInfo(&state)
	return tconn, nil
}
