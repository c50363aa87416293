// Package expotest checks an expo.Source against client_golang: what the
// source writes, parsed by client_golang's text parser and encoded again by
// client_golang's encoders, must come out byte for byte the same, in text
// 0.0.4 and in OpenMetrics.
package expotest

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// Render returns what s writes in one format.
func Render(t testing.TB, s expo.Source, openMetrics bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := expo.NewWriter(&buf, openMetrics)
	s.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// CheckEquivalent fails t unless s's output in both formats is exactly what
// client_golang makes of the same families. It returns the text output.
func CheckEquivalent(t testing.TB, s expo.Source) []byte {
	t.Helper()
	text := Render(t, s, false)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("client_golang cannot parse the exposition: %v\n%s", err, text)
	}
	// Families in the order written (the parser returns a map).
	var order []string
	for line := range strings.Lines(string(text)) {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			order = append(order, strings.Fields(name)[0])
		}
	}
	if len(order) != len(parsed) {
		t.Fatalf("%d TYPE lines but %d families parsed", len(order), len(parsed))
	}
	for _, om := range []bool{false, true} {
		want := encode(t, order, parsed, om)
		got := text
		if om {
			got = Render(t, s, true)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("openMetrics=%v: output differs from client_golang's encoding of the same families:\n%s", om, FirstDiff(string(want), string(got), "client_golang", "expo"))
		}
	}
	return text
}

func encode(t testing.TB, order []string, parsed map[string]*dto.MetricFamily, om bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, name := range order {
		mf := parsed[name]
		var err error
		if om {
			_, err = expfmt.MetricFamilyToOpenMetrics(&buf, mf)
		} else {
			_, err = expfmt.MetricFamilyToText(&buf, mf)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// FirstDiff names the first line where got differs from want, each shown
// after its name.
func FirstDiff(want, got, wantName, gotName string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- client_golang: " + wl + "\n+ expo:          " + gl
		}
	}
	return "(no line differs)"
}

// RenderProto returns what s writes in the delimited protobuf format.
func RenderProto(t testing.TB, s expo.Source) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := expo.NewProtoWriter(&buf)
	s.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// CheckProtoEquivalent fails t unless s's protobuf output is exactly what
// protobuf-go marshals of the families client_golang parses from s's text
// (less the +Inf buckets, which client_golang's protobuf leaves to the
// count). It holds for sources whose histograms have no native part and
// whose families fit in one message (expo.Writer splits big ones).
func CheckProtoEquivalent(t testing.TB, s expo.Source) {
	t.Helper()
	text := Render(t, s, false)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("client_golang cannot parse the exposition: %v\n%s", err, text)
	}
	var want bytes.Buffer
	for line := range strings.Lines(string(text)) {
		name, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		mf := parsed[strings.Fields(name)[0]]
		for _, m := range mf.Metric {
			if h := m.Histogram; h != nil && len(h.Bucket) > 0 && math.IsInf(h.Bucket[len(h.Bucket)-1].GetUpperBound(), 1) {
				h.Bucket = h.Bucket[:len(h.Bucket)-1]
			}
		}
		if _, err := protodelim.MarshalTo(&want, mf); err != nil {
			t.Fatal(err)
		}
	}
	if got := RenderProto(t, s); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("protobuf output differs from protobuf-go's encoding of the same families:\n got %x\nwant %x", got, want.Bytes())
	}
}

// DecodeProto decodes a delimited protobuf exposition with expfmt's decoder,
// merging the messages a family is split into.
func DecodeProto(t testing.TB, data []byte) map[string]*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(data), expfmt.NewFormat(expfmt.TypeProtoDelim))
	out := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decode the protobuf exposition: %v", err)
		}
		if have, ok := out[mf.GetName()]; ok {
			if have.GetHelp() != mf.GetHelp() || have.GetType() != mf.GetType() {
				t.Fatalf("family %s: a message with help %q type %v after one with %q %v", mf.GetName(), mf.GetHelp(), mf.GetType(), have.GetHelp(), have.GetType())
			}
			have.Metric = append(have.Metric, mf.Metric...)
			continue
		}
		out[mf.GetName()] = &mf
	}
}
