package expo

import (
	"encoding/binary"
	"io"
	"math"
)

// The delimited protobuf exposition (io.prometheus.client.MetricFamily, each
// message after its length as a varint): what Prometheus asks for first when
// it scrapes native histograms. The Writer encodes the messages itself, as
// protobuf-go would marshal the client_model types (fields in number order,
// proto2: every set field written, zeros too), so nothing is built per
// sample: a Labels carries its pairs encoded once, next to their text, from
// the first protobuf scrape on.
//
// One difference from client_golang: a big family is sent as several
// MetricFamily messages with the same name, help and type, one per Each chunk
// (or per flushAt bytes), each with its share of the metrics. A message's length
// comes before it, and one message for a family of 10,000 histograms would
// have to be held whole (5 MB) before its first byte could go out. Prometheus
// and expfmt's decoder read each message's metrics as they come; what a
// family's messages hold is what one message would.

// protoState is a Writer's protobuf state.
type protoState struct {
	on bool
	// open is where the current family's metrics not yet in a message start
	// in buf; before it, buf holds whole messages.
	open int
	// head is the current family's name, help and type fields, which start
	// each of its messages.
	head []byte
	// scratch holds a histogram while it is encoded, spans its spans.
	scratch []byte
	spans   []span
}

// span is a run of native buckets: offset from the end of the run before
// (from index 0 for the first), and length.
type span struct {
	offset int32
	length uint32
}

// client_model's MetricType values.
const (
	protoCounter   = 0
	protoGauge     = 1
	protoHistogram = 4
)

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
)

// Field tags (field number << 3 | wire type) of the messages written here.
const (
	tagFamilyName   = 1<<3 | wireBytes
	tagFamilyHelp   = 2<<3 | wireBytes
	tagFamilyType   = 3<<3 | wireVarint
	tagFamilyMetric = 4<<3 | wireBytes

	tagMetricLabel     = 1<<3 | wireBytes
	tagMetricGauge     = 2<<3 | wireBytes
	tagMetricCounter   = 3<<3 | wireBytes
	tagMetricHistogram = 7<<3 | wireBytes

	tagLabelName  = 1<<3 | wireBytes
	tagLabelValue = 2<<3 | wireBytes

	tagValue = 1<<3 | wireFixed64 // Gauge.value, Counter.value: a double

	tagHistCount         = 1<<3 | wireVarint
	tagHistSum           = 2<<3 | wireFixed64
	tagHistBucket        = 3<<3 | wireBytes
	tagHistSchema        = 5<<3 | wireVarint
	tagHistZeroThreshold = 6<<3 | wireFixed64
	tagHistZeroCount     = 7<<3 | wireVarint
	tagHistPositiveSpan  = 12<<3 | wireBytes
	tagHistPositiveDelta = 13<<3 | wireVarint

	tagBucketCount = 1<<3 | wireVarint
	tagBucketUpper = 2<<3 | wireFixed64

	tagSpanOffset = 1<<3 | wireVarint
	tagSpanLength = 2<<3 | wireVarint
)

// NewProtoWriter returns a Writer of the delimited protobuf exposition to out.
func NewProtoWriter(out io.Writer) *Writer {
	w := NewWriter(out, false)
	w.proto.on = true
	return w
}

// ResetProto points the Writer at a new output in the protobuf format,
// keeping its buffers.
func (w *Writer) ResetProto(out io.Writer) {
	w.Reset(out, false)
	w.proto.on = true
}

// Protobuf reports whether the Writer writes the protobuf format: sources
// with a native histogram read it only then.
func (w *Writer) Protobuf() bool { return w.proto.on }

// Native is the sparse part of a native histogram, as Prometheus's protobuf
// exposition has it: bucket i holds the observations in
// (2^((i-1)/2^Schema), 2^(i/2^Schema)], the zero bucket those in
// [-ZeroThreshold, ZeroThreshold]. Only positive buckets: durations.
type Native struct {
	Schema        int32
	ZeroThreshold float64
	ZeroCount     uint64
	Offset        int32    // the bucket index of Counts[0]
	Counts        []uint64 // observations per bucket (not cumulative); zeros are left out
}

// NativeHistogram writes one histogram with both classic buckets (as
// Histogram; none but +Inf is none at all in protobuf) and a native part. The
// text formats have no native histograms: they get the classic one.
func (w *Writer) NativeHistogram(l *Labels, buckets *Buckets, counts []uint64, sum float64, native *Native) {
	if !w.proto.on {
		w.Histogram(l, buckets, counts, sum)
		return
	}
	w.protoHistogram(l, buckets, counts, sum, native)
}

// protoPairs returns l's pairs as protobuf label fields, encoded from the
// text pairs at the first call. Scrapes may call it at once: they encode
// equal strings and one is kept.
func (l *Labels) protoPairs() string {
	if p := l.proto.Load(); p != nil {
		return *p
	}
	if l.schema == nil {
		return "" // the zero Labels
	}
	var b []byte
	for i, name := range l.schema.names {
		b = appendProtoPair(b, name, l.value(i))
	}
	p := string(b)
	if !l.proto.CompareAndSwap(nil, &p) {
		return *l.proto.Load()
	}
	return p
}

func appendProtoPair(b []byte, name, value string) []byte {
	size := 2 + uvarintLen(len(name)) + len(name) + uvarintLen(len(value)) + len(value)
	b = append(b, tagMetricLabel)
	b = binary.AppendUvarint(b, uint64(size))
	b = appendProtoString(b, tagLabelName, name)
	return appendProtoString(b, tagLabelValue, value)
}

func appendProtoString(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendDouble(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func uvarintLen[T int | uint64](v T) int {
	n := 1
	for x := uint64(v); x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// protoFamily starts family f: what is open of the one before becomes a
// message.
func (w *Writer) protoFamily(f *Family) {
	w.endMessage()
	w.fam = f
	typ := protoGauge
	switch f.Type {
	case Counter:
		typ = protoCounter
	case Histogram:
		typ = protoHistogram
	}
	h := appendProtoString(w.proto.head[:0], tagFamilyName, f.Name)
	h = appendProtoString(h, tagFamilyHelp, f.Help)
	w.proto.head = append(h, tagFamilyType, byte(typ))
}

// appendMessageHead appends the length of a message of the current family
// whose metrics take size bytes, and its name, help and type.
func (w *Writer) appendMessageHead(b []byte, size int) []byte {
	b = binary.AppendUvarint(b, uint64(len(w.proto.head)+size))
	return append(b, w.proto.head...)
}

// endMessage makes the open metrics one message: its length and head go in
// before them.
func (w *Writer) endMessage() {
	open := w.proto.open
	size := len(w.buf) - open
	if size == 0 {
		return
	}
	k := uvarintLen(len(w.proto.head)+size) + len(w.proto.head)
	end := len(w.buf)
	for range k {
		w.buf = append(w.buf, 0)
	}
	copy(w.buf[open+k:], w.buf[open:end])
	w.appendMessageHead(w.buf[open:open], size)
	w.proto.open = len(w.buf)
}

// protoEnd is end for the protobuf format: past flushAt, the open metrics
// become a message and go out. A chunk of Each's (no out) stays whole:
// merge makes it a message.
func (w *Writer) protoEnd() {
	if len(w.buf) >= flushAt && w.out != nil {
		w.endMessage()
		w.flush()
	}
}

// appendLabels appends l's pairs with extra, if not nil, at its sorted place.
func appendLabels(b []byte, l *Labels, extra *Pair) []byte {
	pairs := l.protoPairs()
	if extra == nil {
		return append(b, pairs...)
	}
	at := 0
	if l.schema != nil {
		// Step over the pairs before extra's place: a tag, a length, the pair.
		for range l.schema.Pos(extra.name) {
			at++ // the tag
			var size, shift int
			for {
				c := pairs[at]
				at++
				size |= int(c&0x7f) << shift
				if c < 0x80 {
					break
				}
				shift += 7
			}
			at += size
		}
	}
	b = append(b, pairs[:at]...)
	b = append(b, extra.proto...)
	return append(b, pairs[at:]...)
}

// protoSample writes a gauge's or a counter's Metric.
func (w *Writer) protoSample(l *Labels, extra *Pair, v float64) {
	field := byte(tagMetricGauge)
	if w.fam.Type == Counter {
		field = tagMetricCounter
	}
	size := len(l.protoPairs()) + 11 // the value: field, length 9, double's tag and 8 bytes
	if extra != nil {
		size += len(extra.proto)
	}
	b := append(w.buf, tagFamilyMetric)
	b = binary.AppendUvarint(b, uint64(size))
	b = appendLabels(b, l, extra)
	b = append(b, field, 9, tagValue)
	w.buf = appendDouble(b, v)
	w.protoEnd()
}

// protoHistogram writes a histogram's Metric: count, sum, the classic buckets
// but +Inf (cumulative; the count is +Inf's), then the native part if any.
func (w *Writer) protoHistogram(l *Labels, buckets *Buckets, counts []uint64, sum float64, native *Native) {
	var total uint64
	for _, c := range counts {
		total += c
	}
	h := append(w.proto.scratch[:0], tagHistCount)
	h = binary.AppendUvarint(h, total)
	h = append(h, tagHistSum)
	h = appendDouble(h, sum)
	var cumulative uint64
	for i, upper := range buckets.upper {
		cumulative += counts[i]
		// At most 20 bytes: a one-byte length.
		h = append(h, tagHistBucket, byte(2+uvarintLen(cumulative)+8), tagBucketCount)
		h = binary.AppendUvarint(h, cumulative)
		h = append(h, tagBucketUpper)
		h = appendDouble(h, upper)
	}
	if native != nil {
		h = w.appendNative(h, native)
	}
	w.proto.scratch = h

	pairs := l.protoPairs()
	size := len(pairs) + 1 + uvarintLen(len(h)) + len(h)
	b := append(w.buf, tagFamilyMetric)
	b = binary.AppendUvarint(b, uint64(size))
	b = append(b, pairs...)
	b = append(b, tagMetricHistogram)
	b = binary.AppendUvarint(b, uint64(len(h)))
	w.buf = append(b, h...)
	w.protoEnd()
}

// appendNative appends n's fields. Buckets in use are grouped into spans as
// client_golang groups them: a gap of one or two empty buckets is sent as
// zero deltas, a wider one starts a new span.
func (w *Writer) appendNative(h []byte, n *Native) []byte {
	h = append(h, tagHistSchema)
	h = binary.AppendUvarint(h, zigzag(int64(n.Schema)))
	h = append(h, tagHistZeroThreshold)
	h = appendDouble(h, n.ZeroThreshold)
	h = append(h, tagHistZeroCount)
	h = binary.AppendUvarint(h, n.ZeroCount)

	spans := w.proto.spans[:0]
	next := int32(0) // the index after the last bucket in a span
	for k, c := range n.Counts {
		if c == 0 {
			continue
		}
		i := n.Offset + int32(k)
		if gap := i - next; len(spans) == 0 || gap > 2 {
			spans = append(spans, span{offset: gap})
		} else {
			spans[len(spans)-1].length += uint32(gap)
		}
		spans[len(spans)-1].length++
		next = i + 1
	}
	if len(spans) == 0 && n.ZeroThreshold == 0 && n.ZeroCount == 0 {
		// What client_golang sends so that an empty histogram is still
		// read as a native one.
		spans = append(spans, span{})
	}
	w.proto.spans = spans
	for _, s := range spans {
		size := 2 + uvarintLen(zigzag(int64(s.offset))) + uvarintLen(uint64(s.length))
		h = append(h, tagHistPositiveSpan, byte(size), tagSpanOffset)
		h = binary.AppendUvarint(h, zigzag(int64(s.offset)))
		h = append(h, tagSpanLength)
		h = binary.AppendUvarint(h, uint64(s.length))
	}
	// The deltas of the spans' buckets, empty ones in them included.
	var prev int64
	k := int(-n.Offset) // the first span's offset is from index 0
	for _, s := range spans {
		k += int(s.offset)
		for range s.length {
			c := int64(n.Counts[k])
			h = append(h, tagHistPositiveDelta)
			h = binary.AppendUvarint(h, zigzag(c-prev))
			prev = c
			k++
		}
	}
	return h
}
