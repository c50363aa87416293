package blackboximport

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes/kinds"
)

// Which Go type each YAML key of a kind's block decodes into, read from the
// kinds' own config structs, so a key a kind learns is known here at once.

var (
	blocksType      = reflect.TypeFor[kinds.Blocks]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// kindType returns the config struct of the kind whose block key is kind.
func kindType(kind string) (reflect.Type, bool) {
	t, ok := yamlFields(blocksType)[kind]
	if !ok {
		return nil, false
	}
	return deref(t), true
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// yamlFields maps the YAML keys of struct t (inlined structs included) to
// their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(deref(f.Type)) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// isLeaf says whether t decodes from a node as a whole (a scalar, or a type
// with its own UnmarshalYAML such as a regexp, a duration or a secret).
func isLeaf(t reflect.Type) bool {
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return true
	}
	switch deref(t).Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map:
		return false
	}
	return true
}

// unknownKeys lists the keys under n (at any depth) that type t does not
// have, as (node, path) with paths like "tls_config.ca" relative to n.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []keyProblem {
	n = resolve(n)
	if n == nil || isLeaf(t) {
		return nil
	}
	t = deref(t)
	var out []keyProblem
	switch t.Kind() {
	case reflect.Struct:
		fields := yamlFields(t)
		for _, p := range pairs(n) {
			ft, ok := fields[p.key.Value]
			if !ok {
				out = append(out, keyProblem{p.key, join(path, p.key.Value)})
				continue
			}
			out = append(out, unknownKeys(p.value, ft, join(path, p.key.Value))...)
		}
	case reflect.Slice:
		for i, item := range items(n) {
			out = append(out, unknownKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		for _, p := range pairs(n) {
			out = append(out, unknownKeys(p.value, t.Elem(), join(path, p.key.Value))...)
		}
	}
	return out
}

// keyProblem is a key some type does not know, at its node.
type keyProblem struct {
	node *yaml.Node
	path string
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
