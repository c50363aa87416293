package blackboximport

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing the import could not carry over (or, for a Note,
// carried over with a remark), at a line of an input file.
type Problem struct {
	File string
	Line int
	// Subject says what it is about: `module "icmp"`, `job "blackbox"`,
	// `target "example.com" of job "web"`.
	Subject string
	Msg     string
	// Note is true when nothing was lost: the remark explains a translation.
	Note bool
}

// Error renders the problem as "file:line: subject: message" (with "note: "
// before the message for a note).
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Subject != "" {
		b.WriteString(p.Subject)
		b.WriteString(": ")
	}
	if p.Note {
		b.WriteString("note: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// report collects problems as the import goes.
type report struct {
	problems []Problem
}

func (r *report) add(file string, n *yaml.Node, subject, format string, args ...any) {
	r.problems = append(r.problems, Problem{File: file, Line: line(n), Subject: subject, Msg: fmt.Sprintf(format, args...)})
}

func (r *report) note(file string, n *yaml.Node, subject, format string, args ...any) {
	r.problems = append(r.problems, Problem{File: file, Line: line(n), Subject: subject, Msg: fmt.Sprintf(format, args...), Note: true})
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

// pair is one key and its value in a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs lists a mapping's keys and values in order, with merge keys (<<)
// expanded as YAML says: explicit keys win over merged ones.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			for _, src := range mergeSources(v) {
				merged = append(merged, pairs(src)...)
			}
			continue
		}
		own = append(own, pair{k, resolve(v)})
		seen[k.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			own = append(own, p)
			seen[p.key.Value] = true
		}
	}
	return own
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(n) {
		if p.key.Value == key {
			return p.value
		}
	}
	return nil
}

// items lists a sequence's items (resolved); nil for anything else.
func items(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// isNull says whether n is absent or an explicit null (`key:` with no value).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// scalar returns n's text when it is a scalar.
func scalar(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// copyNode deep-copies n with aliases resolved, merge keys expanded and
// comments dropped, so it can be placed in the output.
func copyNode(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	out := &yaml.Node{Kind: n.Kind, Style: n.Style &^ (yaml.TaggedStyle), Tag: n.Tag, Value: n.Value}
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			out.Content = append(out.Content, copyNode(p.key), copyNode(p.value))
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out.Content = append(out.Content, copyNode(c))
		}
	}
	return out
}

// Node builders for the output.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func mapping(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// set puts key: value in mapping m, replacing an existing value.
func set(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, str(key), value)
}

// del removes key from mapping m.
func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// parseFile parses one YAML (or JSON) document, keeping line numbers.
func parseFile(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return resolve(&doc), nil
}
