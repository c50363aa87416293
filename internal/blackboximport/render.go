package blackboximport

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// outputName names the output in the loader's messages.
const outputName = "vigil.yml"

// checkKeyRe finds the check an error of the loader is about.
var checkKeyRe = regexp.MustCompile(`^services\[(\d+)\]\.features\[(\d+)\]\.checks\[(\d+)\]\.?(.*)$`)

// render writes the config and checks it with the real loader; a check the
// loader refuses is left out and reported, and the rest written again.
func (p *plan) render() ([]byte, int, error) {
	for {
		doc, index := p.document()
		if len(index) == 0 {
			p.r.add(p.opts.PrometheusFile, nil, "", "no check could be imported: no config written")
			return nil, 0, nil
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return nil, 0, err
		}
		_, err := config.Parse(outputName, buf.Bytes())
		if err == nil {
			return buf.Bytes(), len(index), nil
		}
		var errs config.Errors
		if !errors.As(err, &errs) {
			return nil, 0, err
		}
		if !p.dropRefused(errs, index) {
			return nil, 0, fmt.Errorf("the imported config does not load (an importer bug):\n%w", err)
		}
	}
}

// dropRefused marks the checks the loader refused; false when an error is
// about something else than a check.
func (p *plan) dropRefused(errs config.Errors, index map[[3]int]*check) bool {
	for _, e := range errs {
		m := checkKeyRe.FindStringSubmatch(e.Key)
		if m == nil {
			return false
		}
		var at [3]int
		for i := range at {
			at[i], _ = strconv.Atoi(m[i+1])
		}
		c := index[at]
		if c == nil {
			return false
		}
		if !c.dropped {
			c.dropped = true
			res := c.res
			p.r.add(res.module.file, res.module.keyNode, res.module.subject(),
				"not imported for target %q of job %q (%s:%d): Vigil refuses the check: %s: %s",
				res.target, res.job.name, res.raw.file, line(res.raw.node), m[4], e.Msg)
		}
	}
	return true
}

// document builds the YAML document of the checks not dropped, and indexes
// them by position.
func (p *plan) document() (*yaml.Node, map[[3]int]*check) {
	index := map[[3]int]*check{}
	services := seq()
	for _, s := range p.services {
		features := seq()
		for _, f := range s.features {
			checks := seq()
			for _, c := range f.checks {
				if c.dropped {
					continue
				}
				index[[3]int{len(services.Content), len(features.Content), len(checks.Content)}] = c
				checks.Content = append(checks.Content, c.node())
			}
			if len(checks.Content) > 0 {
				features.Content = append(features.Content, f.node(checks))
			}
		}
		if len(features.Content) > 0 {
			services.Content = append(services.Content, s.node(features))
		}
	}
	root := mapping(str("agent"), mapping(str("region"), str(p.region)), str("defaults"), p.defaults(), str("services"), services)
	root.HeadComment = fmt.Sprintf("Imported by `vigil import blackbox` from %s (modules) and %s (targets).\n"+
		"Each service is a Prometheus job, each feature a target, each check a module;\n"+
		"the comments say where each came from.", p.opts.ModulesFile, p.opts.PrometheusFile)
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}, index
}

func (p *plan) defaults() *yaml.Node {
	d := mapping(str("interval"), duration(p.prom.interval))
	d.Content[1].LineComment = "global.scrape_interval"
	if t := p.defaultTimeout(); t > 0 {
		v := duration(t)
		v.LineComment = "global.scrape_timeout"
		d.Content = append(d.Content, str("timeout"), v)
	}
	return d
}

func duration(d time.Duration) *yaml.Node { return str(model.Duration(d).String()) }

func (s *service) node(features *yaml.Node) *yaml.Node {
	n := mapping(str("name"), str(s.name), str("title"), str(s.job.name), str("features"), features)
	n.HeadComment = fmt.Sprintf("job %q (%s:%d)", s.job.name, s.job.file, line(s.job.node))
	return n
}

func (f *feature) node(checks *yaml.Node) *yaml.Node {
	n := mapping(str("name"), str(f.name), str("title"), str(f.target))
	if len(f.labels) > 0 {
		labels := mapping()
		keys := make([]string, 0, len(f.labels))
		for k := range f.labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			labels.Content = append(labels.Content, str(k), str(f.labels[k]))
		}
		n.Content = append(n.Content, str("labels"), labels)
	}
	n.Content = append(n.Content, str("checks"), checks)
	n.HeadComment = fmt.Sprintf("target %q (%s:%d)", f.first.address, f.first.file, line(f.first.node))
	return n
}

func (c *check) node() *yaml.Node {
	n := mapping(str("name"), str(c.name))
	if c.interval > 0 {
		n.Content = append(n.Content, str("interval"), duration(c.interval))
	}
	if c.timeout > 0 {
		n.Content = append(n.Content, str("timeout"), duration(c.timeout))
	}
	n.Content = append(n.Content, str(c.kind), c.block)
	m := c.res.module
	n.HeadComment = fmt.Sprintf("module %q (%s:%d), prober %s", m.name, m.file, line(m.keyNode), c.kind)
	if c.res.raw != nil && c.res.target != c.res.raw.address {
		n.HeadComment += fmt.Sprintf(", target %q from %s:%d", c.res.target, c.res.raw.file, line(c.res.raw.node))
	}
	return n
}
