// Package expotest checks an expo.Source against client_golang: what the
// source writes, parsed by client_golang's text parser and encoded again by
// client_golang's encoders, must come out byte for byte the same, in text
// 0.0.4 and in OpenMetrics.
package expotest

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
