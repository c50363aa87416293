// Package expo writes the agent's big metric families, one set of series per
// check and per feature, straight into the Prometheus text formats (0.0.4 and
// OpenMetrics 1.0.0), byte for byte as client_golang's encoders would, and
// into the delimited protobuf format with native histograms (proto.go).
//
// Why not client_golang's registry for these: at 10,000 checks and features a
// scrape is 620,000 series. Gather builds a protobuf per series, hashes and
// sorts them, and the encoder formats them again: 1.5 s and hundreds of
// megabytes of garbage per scrape, which the GC then pays for in probe timing.
// Here each check and feature renders its label pairs once, when it is
// configured, and a scrape appends values to a reused buffer that is streamed
// out. The agent's small families (go_*, process_*, config, scheduler,
// incidents) stay on the client_golang registry; Exposition serves both.
package expo

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Type is a family's metric type.
type Type uint8

// The types the big families use.
const (
	Gauge Type = iota
	Counter
	Histogram
)

func (t Type) String() string {
	switch t {
	case Counter:
		return "counter"
	case Histogram:
		return "histogram"
	}
	return "gauge"
}

// Family is one metric family's name, help and type. Counters' names end in
// _total, as the sample names do in both formats.
type Family struct {
	Name string
	Help string
	Type Type
}

// Schema is a sorted set of label names that many Labels share (all checks
// have the same names, all features too), so a sample with one more label
// (result, phase, state, window) knows where in the sorted order it goes.
type Schema struct {
	names []string
}

// NewSchema returns the schema of names (in any order; they must be unique).
func NewSchema(names ...string) *Schema {
	return &Schema{names: slices.Sorted(slices.Values(names))}
}

// offsetsLen is the length of the pair offsets at the end of a Labels' text.
func (s *Schema) offsetsLen() int { return 4 * len(s.names) }

// Names returns the sorted names.
func (s *Schema) Names() []string { return s.names }

// Pos is where a label called name goes among the schema's pairs.
func (s *Schema) Pos(name string) int {
	// A handful of names: a scan beats a binary search's calls, once per sample.
	for i, n := range s.names {
		if n >= name {
			return i
		}
	}
	return len(s.names)
}

// Labels are one entity's label pairs, rendered once: `a="x",b="y"`, sorted by
// name, values escaped.
type Labels struct {
	schema *Schema
	// text is the pairs, then the byte offset of each pair in them, 4 bytes
	// each, little-endian: every check and feature has its Labels, and one
	// string is smaller than a string and a slice.
	text string
	// proto is the pairs as a protobuf Metric's label fields (proto.go),
	// encoded from text at the first protobuf scrape (protoPairs): an agent
	// scraped in text only does not hold them.
	proto atomic.Pointer[string]
}

// NewLabels renders values (in the order of schema.Names()).
func NewLabels(schema *Schema, values ...string) Labels {
	if len(values) != len(schema.names) {
		panic("expo: " + strconv.Itoa(len(values)) + " label values for " + strconv.Itoa(len(schema.names)) + " names")
	}
	// Written once at its exact size: grown by appending and then copied to
	// a string, the labels of 50,000 checks left 11 MB of a start's garbage.
	size := schema.offsetsLen() + max(len(values)-1, 0) // the commas
	for i, v := range values {
		size += len(schema.names[i]) + len(`=""`) + escapedLen(v)
	}
	var startsBuf [8]uint32
	starts := startsBuf[:0]
	var b strings.Builder
	b.Grow(size)
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		starts = append(starts, uint32(b.Len()))
		b.WriteString(schema.names[i])
		b.WriteString(`="`)
		if escapedLen(v) == len(v) {
			b.WriteString(v)
		} else {
			b.Write(appendEscaped(nil, v, true))
		}
		b.WriteByte('"')
	}
	for _, s := range starts {
		for shift := 0; shift < 32; shift += 8 {
			b.WriteByte(byte(s >> shift))
		}
	}
	return Labels{schema: schema, text: b.String()}
}

// escapedLen is the length of label value s escaped (appendEscaped).
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' {
			n++
		}
	}
	return n
}

// pairs returns the rendered pairs.
func (l *Labels) pairs() string {
	if l.schema == nil {
		return "" // the zero Labels
	}
	return l.text[:len(l.text)-l.schema.offsetsLen()]
}

// value returns the value of pair i, unescaped.
func (l *Labels) value(i int) string {
	pairs := l.pairs()
	end := len(pairs)
	if i+1 < len(l.schema.names) {
		end = l.start(i+1) - 1 // the comma
	}
	v := pairs[l.start(i)+len(l.schema.names[i])+2 : end-1] // inside the quotes
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			if v[i] == 'n' {
				b.WriteByte('\n')
				continue
			}
		}
		b.WriteByte(v[i]) // the escaped backslash or quote, or a plain byte
	}
	return b.String()
}

// start returns the byte offset of pair i in the pairs.
func (l *Labels) start(i int) int {
	s := l.text[len(l.text)-l.schema.offsetsLen()+4*i:]
	_ = s[3]
	return int(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

// Pair is one more label for samples (result, phase, state, window), rendered
// once: name="value".
type Pair struct {
	name, text string
	proto      string // as a protobuf label field (proto.go)
}

// NewPair renders name="value".
func NewPair(name, value string) Pair {
	return Pair{name: name, text: string(appendPair(nil, name, value)), proto: string(appendProtoPair(nil, name, value))}
}

func appendPair(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes backslash and newline, and the double quote when
// quote is set, as the text formats want in label values (and in OpenMetrics
// help text).
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// flushAt is how much a Writer buffers before it writes out: a scrape at
// 10,000 checks is 65 MB, which must not sit in memory whole.
const flushAt = 64 << 10

// Writer appends samples in one of the two text formats, or in the
// delimited protobuf format (proto.go), and streams them to an io.Writer. A
// family's HELP and TYPE lines are written with its first sample, so a family
// with no samples does not appear, as with client_golang. The first write
// error stops all further writing; Flush returns it.
type Writer struct {
	out         io.Writer
	openMetrics bool
	buf         []byte
	err         error

	proto protoState // the protobuf format's (proto.go)

	fam     *Family
	pending bool // fam's header is not written yet

	workers int        // Each's goroutines (SetParallel)
	slots   []eachSlot // Each's chunks, kept with their buffers

	// The last extra label's place among a schema's pairs (extraPos): a
	// family's samples come with one schema and one extra name after
	// another (Schema.Pos was 8% of a render at 50,000 checks).
	posSchema *Schema
	posName   string
	pos       int
}

// extraPos is s.Pos(name), remembered for the next sample.
func (w *Writer) extraPos(s *Schema, name string) int {
	if s != w.posSchema || name != w.posName {
		w.posSchema, w.posName, w.pos = s, name, s.Pos(name)
	}
	return w.pos
}

// NewWriter returns a Writer to out; openMetrics selects OpenMetrics 1.0.0
// over text 0.0.4.
func NewWriter(out io.Writer, openMetrics bool) *Writer {
	return &Writer{out: out, openMetrics: openMetrics, buf: make([]byte, 0, flushAt+4096)}
}

// Reset points the Writer at a new output, keeping its buffer.
func (w *Writer) Reset(out io.Writer, openMetrics bool) {
	w.out, w.openMetrics, w.buf, w.err, w.fam, w.pending = out, openMetrics, w.buf[:0], nil, nil, false
	w.workers = 0
	w.proto.on, w.proto.open = false, 0
}

// Family starts family f; its samples follow.
func (w *Writer) Family(f *Family) {
	if w.proto.on {
		w.protoFamily(f)
		return
	}
	w.fam, w.pending = f, true
}

func (w *Writer) header() {
	w.pending = false
	f := w.fam
	name := f.Name
	if w.openMetrics && f.Type == Counter {
		name = strings.TrimSuffix(name, "_total")
	}
	if f.Help != "" {
		w.buf = append(w.buf, "# HELP "...)
		w.buf = append(w.buf, name...)
		w.buf = append(w.buf, ' ')
		w.buf = appendEscaped(w.buf, f.Help, w.openMetrics)
		w.buf = append(w.buf, '\n')
	}
	w.buf = append(w.buf, "# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, f.Type.String()...)
	w.buf = append(w.buf, '\n')
}

// begin writes a sample's name and labels up to the value; extra, if not
// nil, goes at its sorted place among l's pairs.
func (w *Writer) begin(suffix string, l *Labels, extra *Pair) {
	if w.pending {
		w.header()
	}
	b := append(w.buf, w.fam.Name...)
	b = append(b, suffix...)
	pairs := l.pairs()
	switch {
	case extra == nil && pairs == "":
	case extra == nil:
		b = append(b, '{')
		b = append(b, pairs...)
		b = append(b, '}')
	default:
		b = append(b, '{')
		s := l.schema
		if at := w.extraPos(s, extra.name); at < len(s.names) {
			start := l.start(at)
			b = append(b, pairs[:start]...)
			b = append(b, extra.text...)
			b = append(b, ',')
			b = append(b, pairs[start:]...)
		} else {
			b = append(b, pairs...)
			if pairs != "" {
				b = append(b, ',')
			}
			b = append(b, extra.text...)
		}
		b = append(b, '}')
	}
	w.buf = append(b, ' ')
}

func (w *Writer) end() {
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= flushAt {
		w.flush()
	}
}

// Sample writes one sample of the current family.
func (w *Writer) Sample(l *Labels, v float64) {
	if w.proto.on {
		w.protoSample(l, nil, v)
		return
	}
	w.begin("", l, nil)
	w.buf = w.appendFloat(w.buf, v)
	w.end()
}

// SampleWith writes one sample with one more label.
func (w *Writer) SampleWith(l *Labels, extra *Pair, v float64) {
	if w.proto.on {
		w.protoSample(l, extra, v)
		return
	}
	w.begin("", l, extra)
	w.buf = w.appendFloat(w.buf, v)
	w.end()
}

// Buckets are a histogram's upper bounds, with their le values formatted
// once for each format.
type Buckets struct {
	upper    []float64
	text, om [][]byte // +Inf last
}

// NewBuckets returns the buckets with these upper bounds (sorted, without +Inf).
func NewBuckets(upper ...float64) *Buckets {
	b := &Buckets{upper: upper}
	for _, om := range []bool{false, true} {
		w := Writer{openMetrics: om}
		les := make([][]byte, 0, len(upper)+1)
		for _, u := range upper {
			les = append(les, w.appendFloat(nil, u))
		}
		les = append(les, []byte("+Inf"))
		if om {
			b.om = les
		} else {
			b.text = les
		}
	}
	return b
}

// Upper returns the upper bounds.
func (b *Buckets) Upper() []float64 { return b.upper }

// Histogram writes one histogram: counts holds the observations per bucket,
// not cumulative, with one more entry than the bounds, for +Inf.
func (w *Writer) Histogram(l *Labels, buckets *Buckets, counts []uint64, sum float64) {
	if w.proto.on {
		w.protoHistogram(l, buckets, counts, sum, nil)
		return
	}
	les := buckets.text
	if w.openMetrics {
		les = buckets.om
	}
	pairs := l.pairs()
	var cumulative uint64
	for i, le := range les {
		cumulative += counts[i]
		if w.pending {
			w.header()
		}
		// le goes last, after the sorted pairs, where client_golang puts it.
		b := append(w.buf, w.fam.Name...)
		b = append(b, "_bucket{"...)
		if pairs != "" {
			b = append(b, pairs...)
			b = append(b, ',')
		}
		b = append(b, `le="`...)
		b = append(b, le...)
		b = append(b, `"} `...)
		w.buf = w.appendCount(b, cumulative)
		w.end()
	}
	w.begin("_sum", l, nil)
	w.buf = w.appendFloat(w.buf, sum)
	w.end()
	w.begin("_count", l, nil)
	w.buf = w.appendCount(w.buf, cumulative)
	w.end()
}

// appendFloat formats v as client_golang does in each format.
func (w *Writer) appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 1:
		if w.openMetrics {
			return append(b, "1.0"...)
		}
		return append(b, '1')
	case v == 0:
		if w.openMetrics {
			return append(b, "0.0"...)
		}
		return append(b, '0')
	case v == -1:
		if w.openMetrics {
			return append(b, "-1.0"...)
		}
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	n := len(b)
	if v == math.Trunc(v) && v > -1e6 && v < 1e6 {
		// What 'g' gives for these (no exponent below 1e6), without its cost:
		// counters, codes, counts.
		b = strconv.AppendInt(b, int64(v), 10)
	} else {
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	if w.openMetrics && !containsAny(b[n:], 'e', '.') {
		b = append(b, '.', '0')
	}
	return b
}

// appendCount formats a histogram count: an integer in OpenMetrics, a float
// in text 0.0.4 (where client_golang writes it through its float formatter).
func (w *Writer) appendCount(b []byte, n uint64) []byte {
	if w.openMetrics {
		return strconv.AppendUint(b, n, 10)
	}
	return w.appendFloat(b, float64(n))
}

func containsAny(b []byte, c1, c2 byte) bool {
	for _, c := range b {
		if c == c1 || c == c2 {
			return true
		}
	}
	return false
}

func (w *Writer) flush() {
	if w.out == nil {
		return // one of Each's chunks: merge takes the buffer
	}
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
	w.proto.open = 0
}

// Flush writes out what is buffered and returns the first write error.
func (w *Writer) Flush() error {
	if w.proto.on {
		w.endMessage()
	}
	w.flush()
	return w.err
}

// Write lets other encoders (client_golang's, for the small families) write
// through the same buffer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.proto.on {
		w.endMessage()
	}
	w.buf = append(w.buf, p...)
	w.proto.open = len(w.buf) // p is whole messages, or part of one
	if len(w.buf) >= flushAt {
		w.flush()
	}
	return len(p), nil
}
