package config

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, at a line, under a key path such as
// "services[0].features[1].checks[0].http.url".
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file; Error prints one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes, applies defaults to and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPath(err))}}
	}
	return Parse(path, data)
}

// Parse is Load for bytes already read; file names them in errors.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file, lines: map[string]int{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{File: file, Msg: "config is empty: it needs at least agent.region and one service"}}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 || !utf8.Valid(data) {
		if i < 0 {
			i = firstInvalidUTF8(data)
		}
		return nil, Errors{{File: file, Msg: fmt.Sprintf("config is not YAML text (binary data at byte %d)", i)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, p.yamlError(err)
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: file, Msg: "config is empty: it needs at least agent.region and one service"}}
	}
	doc := root.Content[0]
	p.walk(doc, reflect.TypeOf(Config{}), "")
	var cfg Config
	if err := doc.Decode(&cfg); err != nil {
		if len(p.errs) > 0 { // the walk already explained what decoding tripped on
			return nil, p.sorted()
		}
		return nil, p.yamlError(err)
	}
	cfg.File = file
	p.fingerprints(doc, &cfg)
	p.validate(&cfg)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return &cfg, nil
}

type parser struct {
	file  string
	errs  Errors
	lines map[string]int // key path -> line of the key
}

func (p *parser) add(path, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(path), Key: path, Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of path, or of its nearest ancestor that has one.
func (p *parser) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (p *parser) sorted() Errors {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into Errors with lines.
func (p *parser) yamlError(err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out Errors
	for _, m := range msgs {
		e := &Error{File: p.file, Msg: strings.TrimPrefix(m, "yaml: ")}
		if g := yamlLineRe.FindStringSubmatch(m); g != nil {
			e.Line, _ = strconv.Atoi(g[1])
			e.Msg = g[2]
		}
		out = append(out, e)
	}
	return out
}

var (
	unmarshalerType     = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// walk checks node against type t before decoding: unknown keys (yaml.v3 drops
// KnownFields inside custom unmarshalers, so we do it ourselves), wrong shapes, and
// values whose own unmarshaler fails, each with its line and key path. It also
// records every key's line for later validation errors.
func (p *parser) walk(node *yaml.Node, t reflect.Type, path string) {
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, ok := p.lines[path]; !ok {
			p.lines[path] = node.Line
		}
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		v := reflect.New(t)
		if err := node.Decode(v.Interface()); err != nil {
			msg := err.Error()
			if g := yamlLineRe.FindStringSubmatch(msg); g != nil {
				msg = g[2]
			}
			p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: msg})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: "must be a mapping of keys to values"})
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			key := join(path, k.Value)
			p.lines[key] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				p.errs = append(p.errs, &Error{File: p.file, Line: k.Line, Key: key, Msg: unknownKey(k.Value, fields)})
				continue
			}
			p.walk(v, ft, key)
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: "must be a list"})
			return
		}
		for i, item := range node.Content {
			p.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: "must be a mapping of keys to values"})
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			key := join(path, k.Value)
			p.lines[key] = k.Line
			p.walk(v, t.Elem(), key)
		}
	default:
		if node.Kind != yaml.ScalarNode {
			p.errs = append(p.errs, &Error{File: p.file, Line: node.Line, Key: path, Msg: fmt.Sprintf("must be a single %s value", t.Kind())})
		}
	}
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

// fingerprints hashes each check's YAML source plus the inherited settings that
// shape its schedule, so a reload can tell changed checks from unchanged ones.
func (p *parser) fingerprints(doc *yaml.Node, cfg *Config) {
	services := mapValue(doc, "services")
	inherited, _ := yaml.Marshal(struct {
		D  *yaml.Node `yaml:"d"`
		AL *yaml.Node `yaml:"al"`
	}{mapValue(doc, "defaults"), mapValue(mapValue(doc, "agent"), "labels")})
	for si := range cfg.Services {
		fs := mapValue(seqItem(services, si), "features")
		for fi := range cfg.Services[si].Features {
			f := seqItem(fs, fi)
			cs := mapValue(f, "checks")
			featureSrc := shallow(f, "checks")
			for ci := range cfg.Services[si].Features[fi].Checks {
				src, _ := yaml.Marshal(seqItem(cs, ci))
				fsrc, _ := yaml.Marshal(featureSrc)
				h := sha256.New()
				h.Write(inherited)
				h.Write(fsrc)
				h.Write(src)
				cfg.Services[si].Features[fi].Checks[ci].Fingerprint = hex.EncodeToString(h.Sum(nil)[:12])
			}
		}
	}
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func seqItem(n *yaml.Node, i int) *yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return n.Content[i]
}

// shallow returns mapping n without key skip (so a feature's own settings, not its
// sibling checks, enter a check's fingerprint).
func shallow(n *yaml.Node, skip string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	c := *n
	c.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != skip {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &c
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
