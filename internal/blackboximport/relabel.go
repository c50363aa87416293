package blackboximport

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// relabelRule is one entry of a job's relabel_configs, with Prometheus'
// defaults applied.
type relabelRule struct {
	node         *yaml.Node
	sourceLabels []string
	separator    string
	regex        *regexp.Regexp
	targetLabel  string
	replacement  string
	action       string
}

// followed lists the actions the importer evaluates as Prometheus does.
// hashmod is left out on purpose: it splits targets between Prometheus
// servers (with a keep on the hash), and which share this Prometheus had
// says nothing about what one Vigil agent should probe (Vigil shards with
// agent.shard).
var followed = map[string]bool{"replace": true, "keep": true, "drop": true, "keepequal": true, "dropequal": true,
	"labelmap": true, "labeldrop": true, "labelkeep": true, "lowercase": true, "uppercase": true}

// readRelabel reads one rule; an error says why the importer cannot follow it.
func readRelabel(n *yaml.Node) (*relabelRule, error) {
	rule := &relabelRule{node: n, separator: ";", replacement: "$1", action: "replace"}
	regex := "(.*)"
	for _, p := range pairs(n) {
		v, _ := scalar(p.value)
		switch p.key.Value {
		case "source_labels":
			for _, item := range items(p.value) {
				rule.sourceLabels = append(rule.sourceLabels, item.Value)
			}
		case "separator":
			rule.separator = v
		case "regex":
			regex = v
		case "target_label":
			rule.targetLabel = v
		case "replacement":
			rule.replacement = v
		case "action":
			rule.action = strings.ToLower(v)
		case "modulus":
		default:
			return nil, fmt.Errorf("unknown relabel key %q", p.key.Value)
		}
	}
	re, err := regexp.Compile("^(?s:" + regex + ")$")
	if err != nil {
		return nil, fmt.Errorf("regex %q: %v", regex, err)
	}
	rule.regex = re
	switch {
	case rule.action == "hashmod":
		return nil, fmt.Errorf("action hashmod shards targets between Prometheus servers; the importer cannot know which share to import: remove the rule to import every target (and shard Vigil agents with agent.shard)")
	case !followed[rule.action]:
		return nil, fmt.Errorf("unknown relabel action %q", rule.action)
	}
	return rule, nil
}

// apply runs the rule on labels as Prometheus' relabel.Process does; false
// means the target is dropped.
func (r *relabelRule) apply(labels map[string]string) bool {
	values := make([]string, len(r.sourceLabels))
	for i, name := range r.sourceLabels {
		values[i] = labels[name]
	}
	val := strings.Join(values, r.separator)
	switch r.action {
	case "drop":
		return !r.regex.MatchString(val)
	case "keep":
		return r.regex.MatchString(val)
	case "dropequal":
		return labels[r.targetLabel] != val
	case "keepequal":
		return labels[r.targetLabel] == val
	case "replace":
		r.replace(labels, val)
	case "lowercase":
		setLabel(labels, r.targetLabel, strings.ToLower(val))
	case "uppercase":
		setLabel(labels, r.targetLabel, strings.ToUpper(val))
	case "labelmap":
		for _, name := range sortedKeys(labels) {
			if r.regex.MatchString(name) {
				labels[r.regex.ReplaceAllString(name, r.replacement)] = labels[name]
			}
		}
	case "labeldrop", "labelkeep":
		for _, name := range sortedKeys(labels) {
			if r.regex.MatchString(name) == (r.action == "labeldrop") {
				delete(labels, name)
			}
		}
	}
	return true
}

func (r *relabelRule) replace(labels map[string]string, val string) {
	idx := r.regex.FindStringSubmatchIndex(val)
	if idx == nil {
		return
	}
	target := string(r.regex.ExpandString(nil, r.targetLabel, val, idx))
	if !model.LegacyValidation.IsValidLabelName(target) {
		return
	}
	setLabel(labels, target, string(r.regex.ExpandString(nil, r.replacement, val, idx)))
}

// setLabel sets a label; an empty value removes it, as in Prometheus.
func setLabel(labels map[string]string, name, value string) {
	if value == "" {
		delete(labels, name)
		return
	}
	labels[name] = value
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
