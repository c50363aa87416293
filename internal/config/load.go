package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	data, err := readConfig(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPath(err))}}
	}
	return Parse(path, data)
}

// readConfig reads at most one byte more than MaxConfigBytes, so that Parse can
// refuse a file too large without reading all of it.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized from the file's size (read on to EOF all the same): grown by
	// io.ReadAll's doubling, a 50,000-check file left 15 MB of copies.
	size := int64(512)
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		size = min(st.Size(), MaxConfigBytes) + 1 // the byte that ends the read
	}
	r := io.LimitReader(f, MaxConfigBytes+1)
	data := make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // the file grew since Stat
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

var typeOfConfig = reflect.TypeFor[Config]()

// Parse is Load for bytes already read; file names them in errors. Every problem
// is reported at once: a value that cannot be decoded is reported and then
// treated as absent, so that validation of the rest goes on.
func Parse(file string, data []byte) (*Config, error) {
	return newParser(file).parse(data)
}

func (p *parser) parse(data []byte) (*Config, error) {
	doc, err := p.document(data)
	if err != nil {
		return nil, err
	}
	// Every key and list item gets a line: about half the nodes written (an
	// anchor is walked once). Sized, the map is not rebuilt as it grows
	// (about 25 MB of a 50,000-check start).
	p.lines = make(map[string]int, p.written/2)
	cfg := walkDecoded[Config](p, doc)
	if cfg == nil {
		return nil, p.sorted()
	}
	cfg.File = p.file
	p.validate(cfg)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	p.fingerprints(doc, cfg)
	return cfg, nil
}

// document parses data into a YAML node tree within the size and alias bounds.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	if len(data) > MaxConfigBytes {
		return nil, Errors{{File: p.file, Msg: fmt.Sprintf("config is larger than %d MiB", MaxConfigBytes>>20)}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{File: p.file, Msg: "config is empty: it needs at least agent.region and one service"}}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 || !utf8.Valid(data) {
		if i < 0 {
			i = firstInvalidUTF8(data)
		}
		return nil, Errors{{File: p.file, Msg: fmt.Sprintf("config is not YAML text (binary data at byte %d)", i)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, p.yamlError(err)
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: p.file, Msg: "config is empty: it needs at least agent.region and one service"}}
	}
	doc := root.Content[0]
	if err := p.bound(doc); err != nil {
		return nil, Errors{err}
	}
	return doc, nil
}

// decode decodes the walked tree. The walk nulled every value it reported, so
// decoding gets past them; yaml.v3's own type errors at lines the walk did not
// already report are kept. It returns nil when decoding could not finish.
func (p *parser) decode(doc *yaml.Node) *Config { return decodeAs[Config](p, doc) }

// decodeAs is decode for any file's type (vigil.yml's Config, vigil
// global's GlobalRole).
func decodeAs[T any](p *parser, doc *yaml.Node) *T {
	var cfg T
	err := doc.Decode(&cfg)
	if err == nil {
		return &cfg
	}
	reported := make(map[int]bool, len(p.errs))
	for _, e := range p.errs {
		reported[e.Line] = true
	}
	for _, e := range p.yamlError(err) {
		if e.Line == 0 || !reported[e.Line] {
			p.errs = append(p.errs, e)
		}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) { // yaml.v3 went on past these
		return &cfg
	}
	return nil
}

type parser struct {
	file  string
	errs  Errors
	lines map[string]int // key path -> line of the key
	// scratch builds key paths to look up (has).
	scratch []byte
	// nulls holds the key paths written with no value (`interval:`), which
	// count as absent; bad holds the paths whose value was reported and
	// nulled, so that validation does not report what follows from that again.
	nulls, bad map[string]bool
	// walked holds the anchored nodes walked as a type, so that aliases to them
	// are not walked again (an alias bomb costs the walk nothing).
	walked map[walkKey]bool
	fields map[reflect.Type]map[string]reflect.Type // yamlFields, once per type
	// fast is set while the walk decodes as it goes (decode.go);
	// decodeFields is newDecodeFields once per type.
	fast         bool
	decodeFields map[reflect.Type]*decodeFields
	// nodes is what the document expands to, aliases counted as the nodes they
	// stand for (see bound); written is its size as written.
	nodes, written int
}

func newParser(file string) *parser {
	return &parser{file: file, lines: map[string]int{}, nulls: map[string]bool{}, bad: map[string]bool{}, walked: map[walkKey]bool{},
		fields: map[reflect.Type]map[string]reflect.Type{}, decodeFields: map[reflect.Type]*decodeFields{}}
}

// add reports a problem at path, unless path lies under a value already
// reported as undecodable.
func (p *parser) add(path, format string, args ...any) {
	if p.underBad(path) {
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(path), Key: path, Msg: fmt.Sprintf(format, args...)})
}

// underBad reports whether path or an ancestor holds a value already reported.
func (p *parser) underBad(path string) bool {
	for len(p.bad) > 0 && path != "" {
		if p.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return false
}

// present reports whether the config sets path to a value.
func (p *parser) present(path string) bool {
	_, ok := p.lines[path]
	return ok && !p.nulls[path]
}

// has is present for path+key without building the string: at 50,000
// checks, the lookups for default thresholds and durations are half a
// million.
func (p *parser) has(path, key string) bool {
	p.scratch = append(append(p.scratch[:0], path...), key...)
	_, ok := p.lines[string(p.scratch)]
	return ok && !p.nulls[string(p.scratch)]
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
func (p *parser) yamlError(err error) Errors {
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
