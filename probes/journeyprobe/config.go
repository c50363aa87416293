package journeyprobe

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Config is the `journey` block of a check. B is the type of a step's kind
// blocks (kinds.Blocks), inlined into each step, so that a step reads like a
// check: `{name: login, http: {...}, extract: [...]}`.
type Config[B any] struct {
	// Vars are constants the steps may use as ${name}. A value may itself
	// name environment variables (${NAME}), read when the check is built; such
	// a variable is a secret.
	Vars  map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
	Steps []Step[B]         `yaml:"steps" json:"steps"`
}

// Step is one step of a journey: a check block of any kind but journey, with
// a name, an optional timeout, what to extract from its response, and whether
// it runs even after an earlier step failed.
type Step[B any] struct {
	Name string `yaml:"name" json:"name"`
	// Timeout bounds the step; 0 leaves it the journey's remaining time (or,
	// for a step run after a failure or past the journey's deadline,
	// DefaultAlwaysTimeout).
	Timeout probeconfig.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Always runs the step even after an earlier step failed or the journey
	// ran out of time: clean-up (delete the test message, log out).
	Always  bool      `yaml:"always,omitempty" json:"always,omitempty"`
	Extract []Extract `yaml:"extract,omitempty" json:"extract,omitempty"`
	// Blocks is the step's check block, exactly one kind set.
	Blocks B `yaml:",inline" json:"check"`
	// Raw is the step as written, kept for substitution.
	Raw RawNode `yaml:",inline" json:"-"`
}

// Extract takes one variable from a step's response. The source is the JSON
// body at a JSONPath (json), a response header (header), a cookie (cookie), or
// else the body or received message itself; regexp, if set, is applied to the
// source and yields its first group (or the whole match without groups).
type Extract struct {
	Var    string `yaml:"var" json:"var"`
	JSON   string `yaml:"json,omitempty" json:"json,omitempty"`
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Cookie string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	Regexp string `yaml:"regexp,omitempty" json:"regexp,omitempty"`
	// Secret keeps the value out of every error, log and page: it reads
	// <secret> there.
	Secret bool `yaml:"secret,omitempty" json:"secret,omitempty"`
}

// RawNode keeps the YAML node of the mapping it is inlined into (yaml.v3 hands
// an inlined Unmarshaler the whole mapping). The copy resolves aliases, so
// the node stands alone.
type RawNode struct {
	node *yaml.Node
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *RawNode) UnmarshalYAML(node *yaml.Node) error {
	r.node = copyNode(node)
	return nil
}

// Node is the node kept, nil when none was decoded (a Step built in Go).
func (r RawNode) Node() *yaml.Node { return r.node }

// NewRawNode returns a RawNode holding a copy of node, for steps built in Go.
func NewRawNode(node *yaml.Node) RawNode { return RawNode{node: copyNode(node)} }

// Kit is what a journey needs from the table of kinds for its steps' blocks.
type Kit[B any] interface {
	// Kind names the kind b sets, "" when none.
	Kind(b *B) string
	// Validate checks that b sets exactly one kind, one a step may have (not
	// journey), and validates its block. Errors are FieldErrors relative to
	// the step ("http.url").
	Validate(b *B) error
	// Build builds b's Prober.
	Build(b *B, opts probes.Options) (probes.Prober, error)
}

var (
	stepNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	varNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxSteps bounds a journey: each step is a check of its own.
const maxSteps = 50

// Validate checks the block without network I/O: step names, extracts, every
// ${name} a step uses (defined by vars, a builtin, an earlier step's extract or
// the environment), and each step's block with its variables replaced by
// samples. Errors are FieldErrors relative to the block ("steps[1].http.url").
func (c *Config[B]) Validate(kit Kit[B]) error {
	_, err := c.compile(kit)
	return err
}

// compiled is a Config checked and resolved, what New builds steps from.
type compiled struct {
	vars   map[string]string
	secret map[string]bool // vars that are secrets (they name the environment)
	// envNames are the environment variables the steps or vars name: their
	// values are secrets.
	envNames []string
	// extracted maps each variable a step extracts to the first such step.
	extracted map[string]string
	steps     []compiledStep
}

type compiledStep struct {
	name    string
	kind    string
	timeout probeconfig.Duration
	always  bool
	extract []extractor
	// kindKey and block are the step's kind key ("http") and its value node
	// as written; templated is true when the block holds ${...}.
	kindKey   string
	block     *yaml.Node
	templated bool
	// refs are the variables the block names (each once).
	refs []string
}

func (c *Config[B]) compile(kit Kit[B]) (*compiled, error) {
	var errs []error
	out := &compiled{vars: map[string]string{}, secret: map[string]bool{}}
	env := map[string]bool{}
	errs = append(errs, c.compileVars(out, env)...)
	switch {
	case len(c.Steps) == 0:
		errs = append(errs, probeconfig.Errorf("steps", "required: at least one step"))
	case len(c.Steps) > maxSteps:
		errs = append(errs, probeconfig.Errorf("steps", "at most %d steps, got %d", maxSteps, len(c.Steps)))
	}
	defined := map[string]string{} // extracted variable -> step that extracts it
	seen := map[string]int{}
	for i := range c.Steps {
		step := &c.Steps[i]
		path := fmt.Sprintf("steps[%d]", i)
		cs := compiledStep{name: step.Name, kind: kit.Kind(&step.Blocks), timeout: step.Timeout, always: step.Always}
		if err := checkStepName(step.Name, path, i, seen); err != nil {
			errs = append(errs, err)
		}
		if step.Timeout < 0 {
			errs = append(errs, probeconfig.Errorf(path+".timeout", "must not be negative"))
		}
		node := step.Raw.Node()
		if node != nil {
			cs.kindKey, cs.block = cs.kind, mappingValue(node, cs.kind)
		}
		// late holds the keys whose values are known only at run time (an
		// extracted variable, a secret): their kinds check them then.
		late := map[string]bool{}
		if cs.block != nil {
			refs := map[string]bool{}
			walkScalars(cs.block, cs.kind, func(n *yaml.Node, at string) {
				for _, name := range refNames(n.Value) {
					cs.templated = true
					if !refs[name] {
						refs[name] = true
						cs.refs = append(cs.refs, name)
					}
					switch _, isVar := out.vars[name]; {
					case isBuiltin(name), isVar && !out.secret[name]:
					case isVar, defined[name] != "":
						late[at] = true
					default:
						late[at] = true
						if _, ok := lookupEnv(name); ok {
							env[name] = true
							continue
						}
						errs = append(errs, probeconfig.Errorf(path+"."+at, "unknown variable ${%s} in step %q: not in vars, not a builtin (%s), not extracted by an earlier step, and not set in the environment",
							name, step.Name, strings.Join(builtinNames, ", ")))
					}
				}
			})
		}
		if err := dropPaths(validateBlock(kit, step, &cs, out, node), late); err != nil {
			errs = append(errs, probeconfig.Prefix(path, err))
		}
		for j, x := range step.Extract {
			xpath := fmt.Sprintf("%s.extract[%d]", path, j)
			ex, err := compileExtract(x, cs.kind)
			if err != nil {
				errs = append(errs, probeconfig.Prefix(xpath, err))
				continue
			}
			if _, isVar := out.vars[x.Var]; isVar {
				errs = append(errs, probeconfig.Errorf(xpath+".var", "variable %q is already a constant in vars", x.Var))
			}
			if defined[x.Var] == "" {
				defined[x.Var] = step.Name
			}
			cs.extract = append(cs.extract, ex)
		}
		out.steps = append(out.steps, cs)
	}
	out.envNames = slices.Sorted(maps.Keys(env))
	out.extracted = defined
	return out, errors.Join(errs...)
}

// compileVars reads the journey's vars into out, each expanded from the
// environment (and then secret), noting the environment names used in env.
func (c *Config[B]) compileVars(out *compiled, env map[string]bool) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Vars)) {
		value := c.Vars[name]
		if !varNameRe.MatchString(name) {
			errs = append(errs, probeconfig.Errorf("vars."+name, "variable name %q must be letters, digits and _ (not starting with a digit)", name))
			continue
		}
		expanded, names, err := expandEnv(value)
		if err != nil {
			errs = append(errs, probeconfig.Errorf("vars."+name, "%v", err))
			continue
		}
		for _, n := range names {
			env[n] = true
		}
		out.vars[name] = expanded
		out.secret[name] = len(names) > 0
	}
	return errs
}

// checkStepName checks the name of step i (at path) and records it in seen,
// the steps named so far.
func checkStepName(name, path string, i int, seen map[string]int) error {
	switch first, dup := seen[name]; {
	case name == "":
		return probeconfig.Errorf(path+".name", "required")
	case !stepNameRe.MatchString(name):
		return probeconfig.Errorf(path+".name", "step name %q must be lower-case letters, digits, _ and -", name)
	case dup:
		return probeconfig.Errorf(path+".name", "step name %q is repeated (first at steps[%d])", name, first)
	}
	seen[name] = i
	return nil
}

// validateBlock validates the step's block: as decoded when it holds no
// variables, else decoded again from a copy whose variables read samples (a
// constant's value, a builtin's shape, "0" for the rest: secrets and values
// known only at run time), which fits a host, a port, a path or a number.
func validateBlock[B any](kit Kit[B], step *Step[B], cs *compiledStep, c *compiled, node *yaml.Node) error {
	if !cs.templated {
		return kit.Validate(&step.Blocks)
	}
	samples := func(name string) (string, bool) {
		if v, ok := c.vars[name]; ok && !c.secret[name] {
			return v, true
		}
		if v, ok := builtinSample(name); ok {
			return v, true
		}
		return "0", true
	}
	block, err := substitute(cs.block, samples)
	if err != nil {
		return err
	}
	// The whole step, so that a second kind set beside it is still seen.
	whole := *node
	whole.Content = slices.Clone(node.Content)
	replaced := false
	for i := 0; i+1 < len(whole.Content); i += 2 {
		if whole.Content[i].Value == cs.kindKey {
			whole.Content[i+1], replaced = block, true
		}
	}
	if !replaced { // merged in (<<: *step): a key of the step's own wins
		whole.Content = append(whole.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: cs.kindKey}, block)
	}
	var b B
	if err := whole.Decode(&b); err != nil {
		return probeconfig.Errorf(cs.kindKey, "%v", err)
	}
	return kit.Validate(&b)
}

// decodeBlock decodes the kind block node as the value of key into b.
func decodeBlock[B any](key string, block *yaml.Node, b *B) error {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, block}}
	return m.Decode(b)
}

// mappingValue is the value of key in mapping node, nil when absent. A key
// the mapping merges in (`<<: *step`) counts, its own keys first.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		switch {
		case k.Value == key:
			return v
		case k.Tag == "!!merge" || k.Value == "<<":
			if v.Kind == yaml.SequenceNode {
				merged = append(merged, v.Content...)
			} else {
				merged = append(merged, v)
			}
		}
	}
	for _, m := range merged {
		if v := mappingValue(m, key); v != nil {
			return v
		}
	}
	return nil
}

// dropPaths removes from err the FieldErrors at the keys in paths.
func dropPaths(err error, paths map[string]bool) error {
	if err == nil || len(paths) == 0 {
		return err
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, dropPaths(e, paths))
		}
		return errors.Join(out...)
	}
	var fe *probeconfig.FieldError
	if errors.As(err, &fe) && paths[fe.Path] {
		return nil
	}
	return err
}
