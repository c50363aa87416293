package blackboximport

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Options says what to import.
type Options struct {
	// ModulesFile is blackbox_exporter's config (blackbox.yml).
	ModulesFile string
	// PrometheusFile is the Prometheus config whose jobs send targets to the
	// exporter. Required: the modules say how to probe, never what.
	PrometheusFile string
	// Region is agent.region; "" takes the Prometheus config's
	// global.external_labels.region, else "default".
	Region string
}

// Result is an import's output.
type Result struct {
	// Config is the vigil.yml, accepted by the config loader; nil when no
	// check could be imported.
	Config []byte
	// Problems lists what could not be carried over (and notes on what was
	// translated), in the order of the input files.
	Problems []Problem
	// Checks counts the checks in Config.
	Checks int
}

// Failed says whether something could not be imported (notes aside).
func (r *Result) Failed() bool {
	for _, p := range r.Problems {
		if !p.Note {
			return true
		}
	}
	return r.Config == nil
}

// ErrNoPrometheus is returned when no Prometheus config is given.
var ErrNoPrometheus = errors.New("--prometheus is required: blackbox.yml holds modules (how to probe), not targets (what to probe); " +
	"the targets are in the Prometheus jobs that send /probe?module=...&target=... to the exporter")

// Import reads the files and builds the Vigil config. An error means an input
// file could not be read at all; everything else is in Result.Problems.
func Import(opts Options) (*Result, error) {
	if opts.PrometheusFile == "" {
		return nil, ErrNoPrometheus
	}
	var r report
	modData, err := os.ReadFile(opts.ModulesFile)
	if err != nil {
		return nil, err
	}
	mods, err := readModules(opts.ModulesFile, modData, &r)
	if err != nil {
		return nil, err
	}
	promData, err := os.ReadFile(opts.PrometheusFile)
	if err != nil {
		return nil, err
	}
	pc, err := readPrometheus(opts.PrometheusFile, promData, &r)
	if err != nil {
		return nil, err
	}
	p := &plan{opts: opts, prom: pc, r: &r}
	p.region = p.pickRegion()
	for _, j := range pc.jobs {
		p.addJob(j, mods)
	}
	p.noteUnused(mods)
	out, n, err := p.render()
	if err != nil {
		return nil, err
	}
	return &Result{Config: out, Problems: r.problems, Checks: n}, nil
}

// plan is the services, features and checks being built.
type plan struct {
	opts     Options
	prom     *promConfig
	r        *report
	region   string
	services []*service
	used     map[*module]bool
}

type service struct {
	name     string
	job      *job
	features []*feature
}

type feature struct {
	name   string
	target string
	first  *rawTarget
	labels map[string]string
	checks []*check
}

type check struct {
	name     string
	res      *resolved
	kind     string
	block    *yaml.Node
	interval time.Duration // 0: the defaults'
	timeout  time.Duration // 0: the defaults'
	dropped  bool
}

var regionRe = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (p *plan) pickRegion() string {
	switch {
	case p.opts.Region != "":
		return p.opts.Region
	case regionRe.MatchString(p.prom.region):
		return p.prom.region
	case p.prom.region != "":
		p.r.note(p.prom.file, p.prom.regionNode, "", "external_labels.region %q is not a Vigil region ([a-z0-9_-]+): using \"default\"; set --region", p.prom.region)
	default:
		p.r.note(p.prom.file, nil, "", "no --region and no global.external_labels.region: agent.region is \"default\"")
	}
	return "default"
}

// addJob makes the job's service: a feature per target, a check per module.
func (p *plan) addJob(j *job, mods map[string]*module) {
	s := &service{name: unique(slug(j.name), p.serviceNames()), job: j}
	byTarget := map[string]*feature{}
	for _, t := range j.targets {
		res, ok := j.resolve(t, mods, p.r)
		if !ok {
			continue
		}
		if p.used == nil {
			p.used = map[*module]bool{}
		}
		p.used[res.module] = true
		f := byTarget[res.target]
		c := p.check(res, f)
		if c == nil {
			continue
		}
		if f == nil {
			f = &feature{target: res.target, first: t, labels: featureLabels(res.labels)}
			f.name = unique(slug(res.target), s.featureNames())
			byTarget[res.target] = f
			s.features = append(s.features, f)
		}
		c.name = unique(slug(res.module.name), f.checkNames())
		f.checks = append(f.checks, c)
	}
	if len(s.features) == 0 {
		p.r.add(j.file, j.node, j.subject(), "no target of the job could be imported")
		return
	}
	p.services = append(p.services, s)
}

// check makes the check of one resolved target (for feature f, nil when the
// target has none yet), or reports why it cannot.
func (p *plan) check(res *resolved, f *feature) *check {
	m := res.module
	subject := fmt.Sprintf("target %q of job %q", res.raw.address, res.job.name)
	if m.block == nil {
		p.r.add(res.raw.file, res.raw.node, subject, "not imported: module %q cannot move (see %s:%d)", m.name, m.file, line(m.keyNode))
		return nil
	}
	for _, c := range f.checksOrNone() {
		if c.res.module == m {
			p.r.note(res.raw.file, res.raw.node, subject, "the job already sends this target to module %q (%s:%d): imported once", m.name, c.res.raw.file, line(c.res.raw.node))
			return nil
		}
	}
	value, host, err := kindTarget(m.kind, res.target)
	if err != nil {
		p.r.add(res.raw.file, res.raw.node, subject, "not imported: the target %q for module %q (prober %s) is %v", res.target, m.name, m.kind, err)
		return nil
	}
	block := copyNode(m.block)
	// The target first, as users write it.
	block.Content = append([]*yaml.Node{str(targetKeys[m.kind]), str(value)}, block.Content...)
	if !m.setsIPProtocol && !isIPLiteral(host) {
		v := str("ip6")
		v.LineComment = "blackbox_exporter's default; Vigil's is ip4"
		set(block, "preferred_ip_protocol", v)
	}
	c := &check{res: res, kind: m.kind, block: block}
	p.timing(c)
	return c
}

// timing sets the check's interval and timeout where they differ from the
// defaults: the job's scrape interval, and the shorter of the module's
// timeout and the job's scrape timeout (the exporter's rule).
func (p *plan) timing(c *check) {
	j, m := c.res.job, c.res.module
	if j.interval != p.prom.interval {
		c.interval = j.interval
	}
	t := j.timeout
	if m.timeout > 0 && m.timeout < t {
		t = m.timeout
	}
	switch {
	case t >= j.interval:
		p.r.note(c.res.raw.file, c.res.raw.node, fmt.Sprintf("target %q of job %q", c.res.raw.address, j.name),
			"timeout %s is not below the interval %s, as Vigil needs: the check takes half its interval", model.Duration(t), model.Duration(j.interval))
	case t != p.defaultTimeout() || c.interval != 0:
		c.timeout = t
	}
}

// defaultTimeout is what defaults.timeout says; 0 when it is left out.
func (p *plan) defaultTimeout() time.Duration {
	if p.prom.timeout < p.prom.interval {
		return p.prom.timeout
	}
	return 0
}

// noteUnused lists the modules no job sends a target to.
func (p *plan) noteUnused(mods map[string]*module) {
	for _, m := range inFileOrder(mods) {
		if !p.used[m] && m.block != nil {
			p.r.note(m.file, m.keyNode, m.subject(), "no job sends a target to it: nothing to import")
		}
	}
}

// featureLabels keeps the target's labels as the feature's metadata; a name
// Vigil sets itself is kept as label_<name>.
func featureLabels(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range labels {
		if reservedLabels[k] {
			k = "label_" + k
		}
		out[k] = v
	}
	return out
}

// reservedLabels are the label names Vigil sets itself (internal/config).
var reservedLabels = map[string]bool{"region": true, "service": true, "feature": true, "check": true, "kind": true,
	"state": true, "window": true, "result": true, "phase": true, "title": true, "le": true, "job": true, "instance": true}

var (
	schemeRe  = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://`)
	nonNameRe = regexp.MustCompile(`[^a-z0-9_-]+`)
)

// slug turns a target, job or module name into a Vigil name ([a-z0-9_-]+).
func slug(s string) string {
	s = schemeRe.ReplaceAllString(strings.ToLower(s), "")
	s = strings.Trim(nonNameRe.ReplaceAllString(s, "-"), "-")
	if s == "" {
		return "target"
	}
	return s
}

// unique returns name, or name-2, name-3... when taken.
func unique(name string, taken map[string]bool) string {
	if !taken[name] {
		return name
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s-%d", name, i); !taken[n] {
			return n
		}
	}
}

func (p *plan) serviceNames() map[string]bool {
	out := map[string]bool{}
	for _, s := range p.services {
		out[s.name] = true
	}
	return out
}

func (s *service) featureNames() map[string]bool {
	out := map[string]bool{}
	for _, f := range s.features {
		out[f.name] = true
	}
	return out
}

// checksOrNone lists the checks of f, which may be nil.
func (f *feature) checksOrNone() []*check {
	if f == nil {
		return nil
	}
	return f.checks
}

func (f *feature) checkNames() map[string]bool {
	out := map[string]bool{}
	for _, c := range f.checks {
		out[c.name] = true
	}
	return out
}
