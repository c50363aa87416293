package sshprobe

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of an ssh run: resolve only for a host name; handshake (the key
// exchange up to the host key check) with host_key or a username; auth with a
// username.
const (
	phaseConnect   = "connect"
	phaseBanner    = "banner"
	phaseHandshake = "handshake"
	phaseAuth      = "auth"
)

// clientVersion is what the probe tells servers it is.
const clientVersion = "SSH-2.0-Vigil"

// Prober runs ssh checks. It keeps nothing between runs but its plan.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger
}

// New builds a Prober from a validated Config, reading its secret files.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("ssh probe %s: %w", opts.CheckID, err)
	}
	return &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger}, nil
}

// Probe reads the banner and, as configured, checks the host key and logs in.
// It returns by ctx's deadline, and at once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "ssh", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and SSH info.
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
	stop := probes.BindConn(ctx, conn)
	defer stop()

	start = time.Now()
	rest := bufio.NewReader(conn)
	banner, consumed, err := readBanner(rest)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseBanner, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("banner of %s: %w", target, err)
	}
	r.SSH = &probes.SSHInfo{Banner: banner}
	if re := p.plan.bannerMatch; re != nil && !re.MatchString(banner) {
		return fmt.Errorf("banner of %s: %q does not match fail_if_banner_not_matches_regexp %q", target, banner, re)
	}
	if !p.plan.handshake() {
		return nil
	}
	return p.login(newReplayConn(conn, consumed, rest), target, r)
}

// login makes the key exchange, checking the host key, and authenticates when
// a username is set.
func (p *Prober) login(conn net.Conn, target string, r *probes.Result) error {
	var (
		keyErr   error
		verified time.Time
	)
	start := time.Now()
	config := &ssh.ClientConfig{
		User:          p.plan.username,
		Auth:          p.plan.auth,
		ClientVersion: clientVersion,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			verified = time.Now()
			r.SSH.HostKeyFingerprint = ssh.FingerprintSHA256(key)
			if (p.plan.pinned != nil || p.plan.pinnedFingerprint != "") && !p.plan.matches(key) {
				keyErr = fmt.Errorf("host key %s %s is not the pinned host_key", key.Type(), r.SSH.HostKeyFingerprint)
			}
			return keyErr
		},
	}
	if config.User == "" {
		config.User = "vigil" // offers only "none"; the run ends after the host key
	}
	sshConn, chans, reqs, err := ssh.NewClientConn(conn, target, config)
	if verified.IsZero() {
		r.Phases = append(r.Phases, probes.Phase{Name: phaseHandshake, Duration: time.Since(start)})
		return fmt.Errorf("handshake %s: %w", target, probes.NetCause(err))
	}
	r.Phases = append(r.Phases, probes.Phase{Name: phaseHandshake, Duration: verified.Sub(start)})
	if keyErr != nil {
		return fmt.Errorf("handshake %s: %w", target, keyErr)
	}
	if p.plan.username == "" {
		if err == nil {
			sshConn.Close() // a server that let "none" in
		}
		return nil
	}
	r.Phases = append(r.Phases, probes.Phase{Name: phaseAuth, Duration: time.Since(verified)})
	if err != nil {
		return fmt.Errorf("login %s as %s: %w", target, p.plan.username, probes.NetCause(err))
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		for ch := range chans {
			_ = ch.Reject(ssh.Prohibited, "vigil opens no channels")
		}
	}()
	r.SSH.Authenticated = true
	sshConn.Close() // the login was the check; how the server takes the close is not
	return nil
}
