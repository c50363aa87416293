package blackboximport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Prometheus' defaults for global: scrape_interval and scrape_timeout.
const (
	defaultScrapeInterval = time.Minute
	defaultScrapeTimeout  = 10 * time.Second
	probePath             = "/probe"
)

// promConfig is what the importer reads of a Prometheus config.
type promConfig struct {
	file       string
	dir        string
	interval   time.Duration
	timeout    time.Duration
	region     string // external_labels.region
	regionNode *yaml.Node
	jobs       []*job
	probeJobs  int // jobs scraping /probe, also those that cannot be imported
}

// job is one scrape config that sends targets to the exporter.
type job struct {
	name     string
	file     string
	node     *yaml.Node // its job_name value
	interval time.Duration
	timeout  time.Duration
	params   map[string]string // first value of each
	relabels []*relabelRule
	targets  []*rawTarget
}

func (j *job) subject() string { return fmt.Sprintf("job %q", j.name) }

// rawTarget is one entry of a target list with its group's labels.
type rawTarget struct {
	address string
	file    string
	node    *yaml.Node
	labels  map[string]string
}

// readPrometheus reads prometheus.yml, the scrape_config_files it names and
// the file_sd files of its jobs.
func readPrometheus(file string, data []byte, r *report) (*promConfig, error) {
	doc, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc == nil || doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a Prometheus config (no mapping)", file)
	}
	pc := &promConfig{file: file, dir: filepath.Dir(file), interval: defaultScrapeInterval, timeout: defaultScrapeTimeout}
	global := get(doc, "global")
	pc.interval = readDuration(file, get(global, "scrape_interval"), pc.interval, r)
	pc.timeout = readDuration(file, get(global, "scrape_timeout"), pc.timeout, r)
	pc.regionNode = get(get(global, "external_labels"), "region")
	pc.region, _ = scalar(pc.regionNode)
	pc.readJobs(file, get(doc, "scrape_configs"), r)
	for _, pattern := range items(get(doc, "scrape_config_files")) {
		pc.readScrapeConfigFiles(file, pattern, r)
	}
	if pc.probeJobs == 0 {
		return nil, fmt.Errorf("%s: no job scrapes %s: no target is sent to blackbox_exporter", file, probePath)
	}
	return pc, nil
}

func (pc *promConfig) readScrapeConfigFiles(file string, pattern *yaml.Node, r *report) {
	matches, err := filepath.Glob(pc.path(pattern.Value))
	if err != nil || len(matches) == 0 {
		r.add(file, pattern, "scrape_config_files", "%q matches no file", pattern.Value)
		return
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			r.add(file, pattern, "scrape_config_files", "%v", err)
			continue
		}
		doc, err := parseFile(data)
		if err != nil {
			r.add(m, nil, "", "%v", err)
			continue
		}
		pc.readJobs(m, get(doc, "scrape_configs"), r)
	}
}

// path makes a path in the config relative to the config's directory, as
// Prometheus does.
func (pc *promConfig) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(pc.dir, p)
}

func readDuration(file string, n *yaml.Node, def time.Duration, r *report) time.Duration {
	text, ok := scalar(n)
	if !ok {
		return def
	}
	d, err := model.ParseDuration(text)
	if err != nil || d <= 0 {
		r.add(file, n, "", "%q is not a positive duration; using %s", text, model.Duration(def))
		return def
	}
	return time.Duration(d)
}

func (pc *promConfig) readJobs(file string, list *yaml.Node, r *report) {
	for _, n := range items(list) {
		nameNode := get(n, "job_name")
		name, _ := scalar(nameNode)
		if name == "" {
			r.add(file, n, "", "scrape config without job_name")
			continue
		}
		j := &job{name: name, file: file, node: nameNode, params: map[string]string{}}
		path := "/metrics"
		if p, ok := scalar(get(n, "metrics_path")); ok {
			path = p
		}
		if path != probePath {
			r.note(file, nameNode, j.subject(), "not a blackbox_exporter job (metrics_path %s, not %s): nothing to import", path, probePath)
			continue
		}
		pc.probeJobs++
		if pc.readJob(j, n, r) {
			pc.jobs = append(pc.jobs, j)
		}
	}
}

// readJob fills j from its scrape config; false when it cannot be imported.
func (pc *promConfig) readJob(j *job, n *yaml.Node, r *report) bool {
	j.interval = readDuration(j.file, get(n, "scrape_interval"), pc.interval, r)
	j.timeout = readDuration(j.file, get(n, "scrape_timeout"), pc.timeout, r)
	for _, p := range pairs(get(n, "params")) {
		if first := items(p.value); len(first) > 0 {
			j.params[p.key.Value] = first[0].Value
		}
	}
	ok := true
	for _, rn := range items(get(n, "relabel_configs")) {
		rule, err := readRelabel(rn)
		if err != nil {
			r.add(j.file, rn, j.subject(), "relabel_configs: cannot follow this rule: %v; no target of the job is imported", err)
			ok = false
			continue
		}
		j.relabels = append(j.relabels, rule)
	}
	for _, p := range pairs(n) {
		key := p.key.Value
		switch {
		case key == "static_configs":
			for _, group := range items(p.value) {
				j.targets = append(j.targets, readGroup(j.file, group, nil)...)
			}
		case key == "file_sd_configs":
			for _, sd := range items(p.value) {
				j.targets = append(j.targets, pc.readFileSD(j, sd, r)...)
			}
		case strings.HasSuffix(key, "_sd_configs"):
			r.add(j.file, p.key, j.subject(), "%s: targets found by service discovery at run time cannot be imported: list them in static_configs or a file_sd file", key)
		}
	}
	return ok
}

// readGroup reads one target group ({targets, labels}) of a static config
// or a file_sd file.
func readGroup(file string, group *yaml.Node, extra map[string]string) []*rawTarget {
	labels := map[string]string{}
	for _, p := range pairs(get(group, "labels")) {
		labels[p.key.Value] = p.value.Value
	}
	for k, v := range extra {
		labels[k] = v
	}
	var out []*rawTarget
	for _, t := range items(get(group, "targets")) {
		out = append(out, &rawTarget{address: t.Value, file: file, node: t, labels: labels})
	}
	return out
}

func (pc *promConfig) readFileSD(j *job, sd *yaml.Node, r *report) []*rawTarget {
	var out []*rawTarget
	for _, pattern := range items(get(sd, "files")) {
		matches, err := filepath.Glob(pc.path(pattern.Value))
		if err != nil || len(matches) == 0 {
			r.add(j.file, pattern, j.subject(), "file_sd_configs: %q matches no file", pattern.Value)
			continue
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				r.add(j.file, pattern, j.subject(), "file_sd_configs: %v", err)
				continue
			}
			doc, err := parseFile(data)
			if err != nil {
				r.add(m, nil, j.subject(), "file_sd file: %v", err)
				continue
			}
			if doc != nil && doc.Kind != yaml.SequenceNode {
				r.add(m, doc, j.subject(), "file_sd file: want a list of {targets, labels}")
				continue
			}
			for _, group := range items(doc) {
				out = append(out, readGroup(m, group, map[string]string{"__meta_filepath": m})...)
			}
		}
	}
	return out
}
