package config

import (
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The walk decodes as it goes (walkDecoded): yaml.v3's Node.Decode walked
// the whole tree a second time by reflection and decoded every duration the
// walk had already decoded to check it (at 50,000 checks, 85 MB and 0.2 s of
// a start). It decodes only what it can decode exactly as Node.Decode would:
// a document with an alias, an anchor, a merge key, an explicit tag or an
// unusual key is decoded by Node.Decode as before (p.fast cleared), and so is
// any document the walk found a problem in. A value of a type the walk does
// not take apart (an inline unmarshaler, an interface) is decoded by
// Node.Decode on its own node, which in a document without aliases or merge
// keys is what the whole-document decode does there.

var nodeType = reflect.TypeFor[yaml.Node]()

// walkDecoded walks doc as type T and returns it decoded, or nil when
// decoding could not finish (see decodeAs).
func walkDecoded[T any](p *parser, doc *yaml.Node) *T {
	cfg := new(T)
	p.fast = true
	p.walkInto(doc, reflect.TypeFor[T](), "", reflect.ValueOf(cfg).Elem())
	if p.fast && len(p.errs) == 0 {
		return cfg
	}
	return decodeAs[T](p, doc)
}

// noDecode gives up decoding during the walk: parse decodes the tree
// afterwards with Node.Decode. It returns the no-target value for the walk.
func (p *parser) noDecode() reflect.Value {
	p.fast = false
	return reflect.Value{}
}

// target checks whether the walk may decode node into dst, and dereferences
// dst's pointers, allocating them, as yaml.v3 does before decoding a value
// that is not null.
func (p *parser) target(node *yaml.Node, t reflect.Type, dst reflect.Value) reflect.Value {
	if !dst.IsValid() || !p.fast {
		return reflect.Value{}
	}
	if node.Anchor != "" || node.Style&yaml.TaggedStyle != 0 {
		return p.noDecode()
	}
	for dst.Kind() == reflect.Pointer {
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		dst = dst.Elem()
	}
	if dst.Type() != t || t == nodeType {
		return p.noDecode()
	}
	return dst
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// setNull is what yaml.v3 does with a null value: pointers, maps, slices and
// interfaces are cleared, anything else is left; it reports which (a list
// drops the items that were not).
func setNull(dst reflect.Value) bool {
	switch dst.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
		dst.SetZero()
		return true
	}
	return false
}

// whole decodes node into dst with Node.Decode, for a value the walk does not
// take apart; the walk goes on below it without a target.
func (p *parser) whole(node *yaml.Node, dst reflect.Value) {
	if err := node.Decode(dst.Addr().Interface()); err != nil {
		p.noDecode()
	}
}

// keyOf is the string yaml.v3 decodes key to, when the walk can tell.
func (p *parser) keyOf(key *yaml.Node) (string, bool) {
	if key.Kind != yaml.ScalarNode || key.Anchor != "" || key.Style&yaml.TaggedStyle != 0 || key.Tag == "!!null" || key.Value == "<<" {
		p.noDecode()
		return "", false
	}
	return key.Value, true
}

// decodeFields is how yaml.v3 maps a struct's keys to its fields (its
// getStructInfo): the index path of each key, inline structs flattened.
// plain is false when yaml.v3 does more than set fields by key (an inline
// map, an inline unmarshaler, an inline pointer it allocates).
type decodeFields struct {
	index map[string][]int
	plain bool
}

func newDecodeFields(t reflect.Type) *decodeFields {
	out := &decodeFields{index: map[string][]int{}, plain: true}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !strings.Contains(","+opts+",", ",inline,") {
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			out.index[name] = []int{i}
			continue
		}
		if f.Type.Kind() != reflect.Struct || reflect.PointerTo(f.Type).Implements(unmarshalerType) {
			out.plain = false
			continue
		}
		inner := newDecodeFields(f.Type)
		out.plain = out.plain && inner.plain
		for k, idx := range inner.index {
			out.index[k] = append([]int{i}, idx...)
		}
	}
	return out
}

// structTarget is dst when the walk can set its fields, after decoding it
// whole when it cannot.
func (p *parser) structTarget(node *yaml.Node, dst reflect.Value) (reflect.Value, *decodeFields) {
	if !dst.IsValid() {
		return dst, nil
	}
	info, ok := p.decodeFields[dst.Type()]
	if !ok {
		info = newDecodeFields(dst.Type())
		p.decodeFields[dst.Type()] = info
	}
	if !info.plain {
		p.whole(node, dst)
		return reflect.Value{}, nil
	}
	return dst, info
}

// mapTarget is dst, made if nil, when the walk can set its entries (string
// keys, values of a concrete type), after decoding it whole when it cannot;
// isNew says the map was made here.
func (p *parser) mapTarget(node *yaml.Node, dst reflect.Value) (target reflect.Value, isNew bool) {
	if !dst.IsValid() {
		return dst, false
	}
	if dst.Type().Key() != reflect.TypeFor[string]() || dst.Type().Elem().Kind() == reflect.Interface || node.Kind != yaml.MappingNode {
		p.whole(node, dst)
		return reflect.Value{}, false
	}
	if dst.IsNil() {
		dst.Set(reflect.MakeMap(dst.Type()))
		isNew = true
	}
	return dst, isNew
}

// scalarInto decodes a scalar of a kind the walk does not check (a string, an
// interface) into dst.
func (p *parser) scalarInto(node *yaml.Node, dst reflect.Value) bool {
	if dst.Kind() == reflect.String {
		// No explicit tag (target): yaml.v3 sets any scalar's text.
		dst.SetString(node.Value)
		return true
	}
	p.whole(node, dst)
	return true
}
