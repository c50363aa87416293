package expo

import (
	"io"
	"testing"
)

// TestLabelsProtoFromText: the protobuf label fields, encoded from the text
// pairs at the first protobuf scrape, hold the values as given, whatever the
// text escaped; a Labels scraped in text only never encodes them.
func TestLabelsProtoFromText(t *testing.T) {
	schema := NewSchema("a", "b", "c")
	for _, values := range [][]string{
		{"plain", "", "한국어"},
		{`quo"te`, `back\slash`, "new\nline"},
		{`\n is not a newline`, `ends with \`, `\\"`},
		{`\`, `"`, "\n"},
	} {
		l := NewLabels(schema, values...)
		w := NewWriter(io.Discard, false)
		w.Family(&Family{Name: "x", Help: "A gauge.", Type: Gauge})
		w.Sample(&l, 1)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if l.proto.Load() != nil {
			t.Errorf("%q: protobuf pairs encoded by a text scrape", values)
		}
		var want []byte
		for i, v := range values {
			if got := l.value(i); got != v {
				t.Errorf("value %d: %q from the text %q, want %q", i, got, l.pairs(), v)
			}
			want = appendProtoPair(want, schema.names[i], v)
		}
		if got := l.protoPairs(); got != string(want) {
			t.Errorf("%q: protobuf pairs %q, want %q", values, got, want)
		}
		if l.proto.Load() == nil {
			t.Errorf("%q: protobuf pairs not kept", values)
		}
	}
}
