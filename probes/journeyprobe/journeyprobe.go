package journeyprobe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes"
)

// DefaultAlwaysTimeout bounds a step that runs after a failure or once the
// journey's time is up (always: true) and sets no timeout of its own. Such a
// step runs on its own clock, detached from the journey's deadline, so that
// clean-up happens even when the journey timed out; the run then ends at most
// the clean-up steps' timeouts after the check's timeout.
const DefaultAlwaysTimeout = 5 * time.Second

// redacted replaces a secret's value in everything a run reports.
const redacted = "<secret>"

// Prober runs the steps of one journey check in order. It implements
// probes.Closer: it holds the probers of the steps built once.
type Prober struct {
	checkID string
	log     *slog.Logger
	c       *compiled
	steps   []*stepRunner
}

// stepRunner is one step ready to run: built once (fixed), or built from its
// block substituted for each run (build).
type stepRunner struct {
	compiledStep
	fixed probes.Prober
	build func(block *yaml.Node) (probes.Prober, error)
}

var _ probes.Prober = (*Prober)(nil)
var _ probes.Closer = (*Prober)(nil)

// New builds a journey's Prober. It validates cfg, builds the steps whose
// blocks hold no variables once, and prepares the others to be built per run
// with kit; it does no network I/O.
func New[B any](cfg *Config[B], opts probes.Options, kit Kit[B]) (*Prober, error) {
	c, err := cfg.compile(kit)
	if err != nil {
		return nil, fmt.Errorf("journey probe %s: invalid config: %w", opts.CheckID, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Prober{checkID: opts.CheckID, log: log, c: c}
	for i, cs := range c.steps {
		stepOpts := opts
		stepOpts.CheckID = opts.CheckID + "/" + cs.name
		stepOpts.Capture = len(cs.extract) > 0
		sr := &stepRunner{compiledStep: cs}
		if cs.templated {
			key := cs.kindKey
			sr.build = func(block *yaml.Node) (probes.Prober, error) {
				var b B
				if err := decodeBlock(key, block, &b); err != nil {
					return nil, err
				}
				return kit.Build(&b, stepOpts)
			}
		} else {
			sr.fixed, err = kit.Build(&cfg.Steps[i].Blocks, stepOpts)
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("journey probe %s: step %d %s: %w", opts.CheckID, i+1, cs.name, err)
			}
		}
		p.steps = append(p.steps, sr)
	}
	return p, nil
}

// Close closes the probers of the steps built once.
func (p *Prober) Close() error {
	var errs []error
	for _, s := range p.steps {
		if c, ok := s.fixed.(probes.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// run is the state of one run: its variables and the secrets to redact.
type run struct {
	values  map[string]string
	secrets []string
}

func (r *run) lookup(name string) (string, bool) {
	if v, ok := r.values[name]; ok {
		return v, true
	}
	if strings.HasPrefix(name, "run.") {
		return "", false
	}
	v, ok := lookupEnv(name)
	if ok {
		r.addSecret(v)
	}
	return v, ok
}

// addSecret adds a value to redact, with the forms a URL or a query gives it.
func (r *run) addSecret(v string) {
	if v == "" {
		return
	}
	for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
		if !slices.Contains(r.secrets, form) {
			r.secrets = append(r.secrets, form)
		}
	}
	// The longest first, so that a secret holding another goes whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// redact replaces every secret of the run in s.
func (r *run) redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// Probe runs the steps in order until one fails, then only the always: true
// steps. The Result's phases are the steps' durations, named after them;
// Result.Journey holds each step's outcome; the error names the first
// failing step. Nothing it reports holds a secret.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	start := time.Now()
	res := &probes.Result{Start: start, Phases: make([]probes.Phase, 0, len(p.steps))}
	info := &probes.JourneyInfo{Steps: make([]probes.StepInfo, len(p.steps))}
	res.Journey = info
	r := &run{values: maps.Clone(p.c.vars)}
	maps.Copy(r.values, builtins(start))
	for name, v := range p.c.vars {
		if p.c.secret[name] {
			r.addSecret(v)
		}
	}
	for _, name := range p.c.envNames {
		if v, ok := lookupEnv(name); ok {
			r.addSecret(v)
		}
	}

	var failure string
	for i, s := range p.steps {
		si := &info.Steps[i]
		si.Name, si.Kind = s.name, s.kind
		if failure != "" && !s.always {
			si.Skipped = true
			res.Phases = append(res.Phases, probes.Phase{Name: s.name})
			continue
		}
		stepRes, skipped := p.runStep(ctx, s, r, failure != "")
		si.Duration, si.Success, si.Phases = stepRes.Duration, stepRes.Success, stepRes.Phases
		res.Phases = append(res.Phases, probes.Phase{Name: s.name, Duration: stepRes.Duration})
		if !stepRes.Success {
			si.Err = r.redact(stepError(stepRes.ErrorString(), p.checkID+"/"+s.name))
		}
		if skipped {
			si.Skipped = true
			p.log.Debug("journey step skipped", "check", p.checkID, "step", s.name, "reason", si.Err)
			continue
		}
		p.log.Debug("journey step", "check", p.checkID, "step", s.name, "success", si.Success, "duration", si.Duration, "err", si.Err)
		if !si.Success && failure == "" {
			failure = fmt.Sprintf("step %d %s: %s", i+1, s.name, si.Err)
			info.FailedStep = s.name
			res.TimedOut = stepRes.TimedOut && deadlinePassed(ctx)
		}
	}
	res.Duration = time.Since(start)
	if failure == "" {
		res.Success = true
		return res
	}
	// A plain error: the steps' errors are not wrapped, so that nothing
	// reaches a secret through Unwrap.
	return res.Fail(errors.New(r.redact(fmt.Sprintf("journey %s: %s", p.checkID, failure))))
}

// runStep runs one step with its timeout and extracts its variables. An
// always step after a failure (afterFailure) or past the journey's deadline
// runs on its own clock (DefaultAlwaysTimeout unless it sets one); any other
// step past the deadline fails at once as timed out. skipped is true when
// the step could not run because a variable it needs was never set (the step
// that extracts it did not run): nothing was done, nothing failed.
func (p *Prober) runStep(ctx context.Context, s *stepRunner, r *run, afterFailure bool) (res *probes.Result, skipped bool) {
	var cancel context.CancelFunc
	switch {
	case s.always && (afterFailure || ctx.Err() != nil):
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(time.Duration(s.timeout), DefaultAlwaysTimeout))
	case s.timeout > 0:
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.timeout))
	default:
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	prober := s.fixed
	if prober == nil {
		for _, name := range s.refs {
			if _, ok := r.values[name]; !ok && p.c.extracted[name] != "" {
				return failed(time.Now(), fmt.Errorf("not run: variable ${%s} was never set (step %s, which extracts it, did not pass)", name, p.c.extracted[name])), true
			}
		}
		begin := time.Now()
		block, err := substitute(s.block, r.lookup)
		if err != nil {
			return failed(begin, err), false
		}
		prober, err = s.build(block)
		if err != nil {
			return failed(begin, fmt.Errorf("build: %w", err)), false
		}
		if c, ok := prober.(probes.Closer); ok {
			defer c.Close()
		}
	}
	res = prober.Probe(ctx)
	if !res.Success {
		return res, false
	}
	for _, ex := range s.extract {
		v, err := ex.extract(res.Captured)
		if err != nil {
			res.Fail(err)
			break
		}
		if ex.secret {
			r.addSecret(v)
		}
		r.values[ex.name] = v
	}
	res.Captured = nil // may hold secrets; nothing downstream needs it
	return res, false
}

// failed is the Result of a step that could not start.
func failed(start time.Time, err error) *probes.Result {
	return (&probes.Result{Start: start, Duration: time.Since(start)}).Fail(err)
}

// stepError drops the step prober's "<kind> probe <check>/<step>: " prefix:
// the journey's error names the check and the step already.
func stepError(msg, stepID string) string {
	marker := " probe " + stepID + ": "
	if i := strings.Index(msg, marker); i >= 0 && !strings.Contains(msg[:i], " ") {
		return msg[i+len(marker):]
	}
	return msg
}

// deadlinePassed reports whether ctx's deadline has come.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}
