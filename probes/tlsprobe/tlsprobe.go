package tlsprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of a tls run; resolve only when the target is a host name.
const (
	phaseConnect = "connect"
	phaseTLS     = "tls"
)

// day is the unit of min_days_remaining.
const day = 24 * time.Hour

// Prober runs tls checks. It keeps nothing between runs but its plan.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger
	now     func() time.Time // the clock min_days_remaining is measured on
}

// New builds a Prober from a validated Config.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("tls probe %s: %w", opts.CheckID, err)
	}
	return &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger, now: time.Now}, nil
}

// Probe connects, makes the handshake and checks the certificates. It returns
// by ctx's deadline, and at once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "tls", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and TLS info.
func (p *Prober) run(ctx context.Context, r *probes.Result) error {
	ep := p.plan.endpoint
	ip, target, err := probes.Resolve(ctx, r, ep)
	if err != nil {
		return err
	}
	start := time.Now()
	conn, err := ep.DialTCP(ctx, ip)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseConnect, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("connect %s: %w", target, probes.NetCause(err))
	}
	defer conn.Close()

	start = time.Now()
	tconn := tls.Client(conn, p.plan.tlsConfig)
	err = tconn.HandshakeContext(ctx)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseTLS, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("handshake %s: %w", target, probes.DescribeTLSError(probes.NetCause(err)))
	}
	state := tconn.ConnectionState()
	r.TLS = probes.NewTLSInfo(&state)
	if err := p.plan.check(r.TLS, p.now()); err != nil {
		return fmt.Errorf("certificate of %s: %w", target, err)
	}
	return nil
}

// check applies min_days_remaining, required_sans and the issuer regexp.
func (pl *plan) check(info *probes.TLSInfo, now time.Time) error {
	if pl.minDays > 0 {
		left := info.CertExpiry.Sub(now)
		if left < time.Duration(pl.minDays)*day {
			return fmt.Errorf("chain expires at %s, in %.1f days, fewer than min_days_remaining %d",
				info.CertExpiry.UTC().Format(time.RFC3339), left.Hours()/24, pl.minDays)
		}
	}
	for _, san := range pl.sans {
		if !slices.ContainsFunc(info.SANs, func(s string) bool { return strings.EqualFold(s, san) }) {
			return fmt.Errorf("leaf has no SAN %s (has %s)", san, strings.Join(info.SANs, ", "))
		}
	}
	if pl.issuerMatch != nil && !pl.issuerMatch.MatchString(info.Issuer) {
		return fmt.Errorf("issuer %q does not match fail_if_issuer_not_matches_regexp %q", info.Issuer, pl.issuerMatch)
	}
	return nil
}
