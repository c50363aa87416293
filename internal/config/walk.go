package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walkKey is an anchored node walked as one type.
type walkKey struct {
	node *yaml.Node
	t    reflect.Type
}

// walk checks node against type t before decoding: unknown and repeated keys
// (yaml.v3 drops KnownFields inside custom unmarshalers, so we do it
// ourselves), wrong shapes, and values that do not decode, each with its line
// and key path. A value that does not decode is nulled after it is reported, so
// that decoding the whole goes on and validation sees the rest. The walk also
// records every key's line for later validation errors.
func (p *parser) walk(node *yaml.Node, t reflect.Type, path string) {
	p.walkInto(node, t, path, reflect.Value{})
}

// walkInto is walk that also decodes node into dst when dst is valid
// (decode.go). It returns whether yaml.v3 would count the value as decoded:
// a list keeps only those items.
func (p *parser) walkInto(node *yaml.Node, t reflect.Type, path string, dst reflect.Value) bool {
	if node.Kind == yaml.AliasNode {
		node = node.Alias
		dst = p.noDecode()
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A key's line is set by walkMapping, a list item's by walkSequence.
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		p.nulls[path] = true
		return dst.IsValid() && setNull(dst)
	}
	dst = p.target(node, t, dst)
	if node.Anchor != "" {
		// Errors inside an anchor are reported once, where it is written.
		key := walkKey{node, t}
		if p.walked[key] {
			return true
		}
		p.walked[key] = true
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return p.decodes(node, t, path, dst)
	}
	switch t.Kind() {
	case reflect.Struct:
		fields, ok := p.fields[t]
		if !ok {
			fields = yamlFields(t)
			p.fields[t] = fields
		}
		dst, info := p.structTarget(node, dst)
		p.walkMapping(node, path, fields, nil, dst, info)
	case reflect.Map:
		p.walkMapping(node, path, nil, t.Elem(), dst, nil)
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			p.reject(node, path, "must be a list")
			return false
		}
		p.walkSequence(node, t, path, dst)
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if node.Kind != yaml.ScalarNode {
			p.reject(node, path, fmt.Sprintf("must be a single %s value", t.Kind()))
			return false
		}
		return p.decodes(node, t, path, dst)
	default:
		if node.Kind != yaml.ScalarNode {
			p.reject(node, path, fmt.Sprintf("must be a single %s value", t.Kind()))
			return false
		}
		if dst.IsValid() {
			return p.scalarInto(node, dst)
		}
	}
	return true
}

// walkSequence walks the items of a list of t; decoding, it keeps in dst the
// items yaml.v3 would keep (not a null where a struct is expected).
func (p *parser) walkSequence(node *yaml.Node, t reflect.Type, path string, dst reflect.Value) {
	if dst.IsValid() && t.Elem().Kind() == reflect.Interface {
		p.whole(node, dst)
		dst = reflect.Value{}
	}
	var items reflect.Value
	if dst.IsValid() {
		items = reflect.MakeSlice(dst.Type(), len(node.Content), len(node.Content))
	}
	kept := 0
	for i, item := range node.Content {
		var into reflect.Value
		if items.IsValid() && p.fast {
			into = items.Index(kept)
		}
		itemPath := path + "[" + strconv.Itoa(i) + "]"
		if _, ok := p.lines[itemPath]; !ok {
			p.lines[itemPath] = item.Line
			if item.Kind == yaml.AliasNode {
				p.lines[itemPath] = item.Alias.Line
			}
		}
		if p.walkInto(item, t.Elem(), itemPath, into) && into.IsValid() {
			kept++
		} else if into.IsValid() {
			into.SetZero()
		}
	}
	if items.IsValid() && p.fast {
		dst.Set(items.Slice(0, kept))
	}
}

// walkMapping walks a mapping as a struct (fields set) or as a map whose values
// are of type elem. Merge keys (`<<: *base`) are walked as part of the mapping.
// Decoding, dst is the struct (info its fields) or the map.
func (p *parser) walkMapping(node *yaml.Node, path string, fields map[string]reflect.Type, elem reflect.Type, dst reflect.Value, info *decodeFields) {
	if node.Kind != yaml.MappingNode {
		p.reject(node, path, "must be a mapping of keys to values")
		return
	}
	var newMap bool
	if elem != nil {
		dst, newMap = p.mapTarget(node, dst)
	}
	seen := make(map[string]int, len(node.Content)/2)
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.ShortTag() == "!!merge" {
			p.noDecode()
			p.walkMerge(v, path, fields, elem)
			continue
		}
		key := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			p.errs = append(p.errs, &Error{File: p.file, Line: k.Line, Key: key, Msg: fmt.Sprintf("key %q is repeated (first at line %d)", k.Value, first)})
			// Dropped, so that decoding keeps the first and goes on.
			node.Content = append(node.Content[:i], node.Content[i+2:]...)
			i -= 2
			continue
		}
		seen[k.Value] = k.Line
		p.lines[key] = k.Line
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[k.Value]; !ok {
				p.errs = append(p.errs, &Error{File: p.file, Line: k.Line, Key: key, Msg: unknownKey(k.Value, fields)})
				continue
			}
		}
		if !dst.IsValid() || !p.fast {
			p.walkInto(v, ft, key, reflect.Value{})
		} else if fields != nil {
			p.walkField(k, v, ft, key, dst, info)
		} else {
			p.walkEntry(k, v, ft, key, dst, newMap)
		}
	}
}

// walkField walks the value of a struct's field and decodes it into the field.
func (p *parser) walkField(k, v *yaml.Node, ft reflect.Type, path string, dst reflect.Value, info *decodeFields) {
	var into reflect.Value
	if name, ok := p.keyOf(k); ok {
		if index, ok := info.index[name]; ok {
			into = dst.FieldByIndex(index)
		}
		if into.IsValid() && deref(into.Type()) != deref(ft) {
			into = reflect.Value{}
		}
		if !into.IsValid() {
			p.noDecode()
		}
	}
	p.walkInto(v, ft, path, into)
}

// walkEntry walks the value of a map's entry and sets it in the map, as
// yaml.v3 does: a null value too, unless the map had the key already.
func (p *parser) walkEntry(k, v *yaml.Node, elem reflect.Type, path string, dst reflect.Value, newMap bool) {
	name, ok := p.keyOf(k)
	if !ok {
		p.walkInto(v, elem, path, reflect.Value{})
		return
	}
	key := reflect.ValueOf(name)
	value := reflect.New(elem).Elem()
	decoded := p.walkInto(v, elem, path, value)
	if decoded || v.ShortTag() == "!!null" && (newMap || !dst.MapIndex(key).IsValid()) {
		dst.SetMapIndex(key, value)
	}
}

// walkMerge walks the mapping (or list of mappings) a merge key brings in.
func (p *parser) walkMerge(v *yaml.Node, path string, fields map[string]reflect.Type, elem reflect.Type) {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, item := range items {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item.Kind != yaml.MappingNode {
			p.errs = append(p.errs, &Error{File: p.file, Line: item.Line, Key: path, Msg: "a merge key (<<) takes a mapping or a list of mappings"})
			continue
		}
		p.walkMapping(item, path, fields, elem, reflect.Value{}, nil)
	}
}

// decodes decodes node as type t, into dst when it is valid, and reports what
// fails at path. A yaml.Unmarshaler is called as Node.Decode calls it, without
// a decoder of its own.
func (p *parser) decodes(node *yaml.Node, t reflect.Type, path string, dst reflect.Value) bool {
	into := dst
	if into.IsValid() {
		into = into.Addr()
	} else {
		into = reflect.New(t)
	}
	var err error
	if u, ok := into.Interface().(yaml.Unmarshaler); ok && node.ShortTag() != "!!null" {
		err = u.UnmarshalYAML(node)
	} else {
		err = node.Decode(into.Interface())
	}
	if err == nil {
		return true
	}
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		if g := yamlLineRe.FindStringSubmatch(strings.TrimSpace(m)); g != nil {
			msgs[i] = g[2]
		}
	}
	p.reject(node, path, strings.Join(msgs, "; "))
	return false
}

// reject reports node's value at path and nulls it, so that decoding goes
// past it and validation takes the key as absent.
func (p *parser) reject(node *yaml.Node, path, msg string) {
	p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: msg})
	p.bad[path] = true
	*node = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: node.Line, Column: node.Column}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct t (inline structs flattened) to types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// unknownKey words the error for a misspelled key, suggesting the closest one.
func unknownKey(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 4
	for k := range fields {
		if abs(len(key)-len(k)) > bestDist {
			continue // too far apart to suggest, and a long key costs no time
		}
		if d := editDistance(key, k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("unknown key %q (known: %s)", key, strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
