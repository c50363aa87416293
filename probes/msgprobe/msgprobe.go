package msgprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Prober runs messaging round trips for one check. Each run subscribes,
// publishes cfg.Messages messages and waits for them until they all arrive or
// the run's context ends. A run passes when at most max_loss messages were lost
// and none arrived corrupted; duplicated and reordered messages are counted in
// Result.Messaging but do not fail the run. Messages still missing when ctx
// ends are lost: such a run is a failure, not a timeout (Result.TimedOut is
// set only when the deadline cut connect, subscribe or publish short).
//
// By default each run uses a fresh Transport and closes it at the end, whatever
// happened. With persistent: true the Transport and its subscription are kept
// across runs (the run id tells runs apart) until a run fails, when it is closed
// and the next run connects anew. Prober implements probes.Closer to release a
// kept Transport.
type Prober struct {
	cfg      *Config
	opts     probes.Options
	log      *slog.Logger
	agentTag string
	// connect opens a fresh Transport from the settings compiled in New.
	connect connector
	// secrets are the values scrub hides, resolved in New.
	secrets []string
	// awaiter is the compiled await block; nil for round trips.
	awaiter *awaiter

	// current is the run that dispatch feeds; nil between runs.
	current atomic.Pointer[tracker]

	// mu serializes runs and Close; Close waits for a run in progress, which
	// its context bounds.
	mu     sync.Mutex
	kept   Transport
	closed bool
}

// defaultRunTimeout bounds a run whose context has no deadline (the scheduler
// always sets one; this is the documented default timeout).
const defaultRunTimeout = 10 * time.Second

var _ probes.Prober = (*Prober)(nil)
var _ probes.Closer = (*Prober)(nil)

// New builds a Prober from a Config. It validates cfg and compiles its
// transport once (secrets and CA files read, clients' settings built), so a
// Prober is never built from a bad block and a run does no more than connect,
// subscribe, publish and receive. It does no network I/O.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	return newProber(cfg, opts, transports)
}

// newProber is New with the transport table to use: tests pass one with fake
// protocols in it.
func newProber(cfg *Config, opts probes.Options, table map[string]compileFunc) (*Prober, error) {
	own := *cfg // later edits of the caller's block must not reach a running check
	connect, s, err := own.compile(opts, table)
	if err != nil {
		return nil, err
	}
	return &Prober{
		cfg:      &own,
		opts:     opts,
		log:      s.log,
		agentTag: agentTag(opts.AgentID),
		connect:  connect,
		secrets:  secretsOf(&own, s.password),
		awaiter:  s.awaiter,
	}, nil
}

// Probe runs one round trip. It returns when the messages arrived or ctx is
// done, and never panics on a bad broker: every failure is in the Result.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	if _, ok := ctx.Deadline(); !ok {
		// Without a deadline a lost message would be waited for forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRunTimeout)
		defer cancel()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &probes.Result{Start: time.Now(), Messaging: &probes.MessagingInfo{Protocol: p.cfg.Protocol}}
	var err error
	switch {
	case p.closed:
		err = errors.New("prober is closed")
	case p.awaiter != nil:
		err = p.await(ctx, r)
	default:
		err = p.roundTrip(ctx, r)
	}
	r.Duration = time.Since(r.Start)
	if err != nil || !p.cfg.Persistent {
		p.closeTransport()
	}
	if err == nil {
		r.Success = true
		return r
	}
	var loss *lossError
	r.TimedOut = !errors.As(err, &loss) && deadlinePassed(ctx)
	return r.Fail(p.scrub(fmt.Errorf("%s probe %s: %w", p.cfg.Protocol, p.opts.CheckID, err)))
}

// Close releases a kept Transport; it is safe to call more than once.
func (p *Prober) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.closeTransport()
}

// closeTransport closes the current Transport, if any. Close errors only go to
// the debug log: the run's verdict is already made.
func (p *Prober) closeTransport() error {
	if p.kept == nil {
		return nil
	}
	err := p.kept.Close()
	p.kept = nil
	if err != nil {
		err = p.scrub(fmt.Errorf("%s probe %s: close: %w", p.cfg.Protocol, p.opts.CheckID, err))
		p.log.Debug("closing messaging transport failed", "check", p.opts.CheckID, "err", err)
	}
	return err
}

// scrub removes every secret this check knows from err's text, a safety net for
// client libraries that quote urls or credentials in their errors. errors.Is
// and errors.As still reach the original.
func (p *Prober) scrub(err error) error {
	msg := err.Error()
	clean := msg
	for _, secret := range p.secrets {
		if len(secret) > 0 {
			clean = strings.ReplaceAll(clean, secret, "<secret>")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// secretsOf lists the secrets of cfg that errors must not show: the password,
// and one in the url's userinfo.
func secretsOf(cfg *Config, password probeconfig.Secret) []string {
	var out []string
	if password != "" {
		out = append(out, password.Reveal())
	}
	if u, err := url.Parse(cfg.URL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
		}
	}
	return out
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// deadlinePassed reports whether ctx's deadline is over. It also holds when a
// client's socket deadline, set from the same instant, fired a moment before
// ctx's own timer.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}
