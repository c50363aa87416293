package sla

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendSpecJSON appends the JSON that json.Marshal writes of
// toSpecRecord(s), byte for byte (TestSpecJSONIsMarshal), without its
// reflection: a first configuration encodes every feature's spec, and at
// 50,000 features json.Marshal's copies and boxing were 25 MB. The rare
// parts (a gate, maintenance windows, a calendar window) still go through
// json.Marshal.
func appendSpecJSON(b []byte, s FeatureSpec) []byte {
	b = append(b, `{"Service":`...)
	b = appendJSONString(b, s.Service)
	b = append(b, `,"Feature":`...)
	b = appendJSONString(b, s.Feature)
	b = append(b, `,"ServiceTitle":`...)
	b = appendJSONString(b, s.ServiceTitle)
	b = append(b, `,"Title":`...)
	b = appendJSONString(b, s.Title)
	b = append(b, `,"Labels":`...)
	b = appendJSONLabels(b, s.Labels)
	b = appendInt(b, `,"Require":{"Mode":`, int64(s.Require.Mode))
	b = appendInt(b, `,"N":`, int64(s.Require.N))
	b = append(b, `},"Objective":`...)
	b = appendJSONFloat(b, s.Objective)
	b = appendInt(b, `,"Window":`, int64(s.Window))
	b = appendInt(b, `,"Latency":`, int64(s.Latency))
	b = appendInt(b, `,"FailureThreshold":`, int64(s.FailureThreshold))
	b = appendInt(b, `,"RecoveryThreshold":`, int64(s.RecoveryThreshold))
	b = appendInt(b, `,"Flap":{"Changes":`, int64(s.Flap.Changes))
	b = appendInt(b, `,"Window":`, int64(s.Flap.Window))
	b = append(b, `},"Checks":`...)
	b = appendJSONChecks(b, s.Checks)
	b = append(b, `,"Calendar":`...)
	if s.Calendar.Enabled() {
		b = appendMarshaled(b, s.Calendar)
	} else {
		b = append(b, `{}`...)
	}
	b = append(b, `,"Gate":`...)
	if s.Gate == nil {
		b = append(b, `null`...)
	} else {
		b = appendMarshaled(b, s.Gate)
	}
	b = append(b, `,"Maintenance":`...)
	if r := toSpecRecord(s); r.Maintenance == nil {
		b = append(b, `null`...)
	} else {
		b = appendMarshaled(b, r.Maintenance)
	}
	return append(b, '}')
}

func appendJSONChecks(b []byte, checks []CheckSpec) []byte {
	if checks == nil {
		return append(b, `null`...)
	}
	b = append(b, '[')
	for i, c := range checks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendJSONString(b, c.Name)
		b = append(b, `,"Kind":`...)
		b = appendJSONString(b, c.Kind)
		b = appendInt(b, `,"Interval":`, int64(c.Interval))
		b = appendInt(b, `,"Timeout":`, int64(c.Timeout))
		b = appendInt(b, `,"FailureThreshold":`, int64(c.FailureThreshold))
		b = appendInt(b, `,"RecoveryThreshold":`, int64(c.RecoveryThreshold))
		b = appendInt(b, `,"FailureWindow":{"Failures":`, int64(c.FailureWindow.Failures))
		b = appendInt(b, `,"Runs":`, int64(c.FailureWindow.Runs))
		b = append(b, `}}`...)
	}
	return append(b, ']')
}

// appendJSONLabels writes a map as json.Marshal does: keys sorted.
func appendJSONLabels(b []byte, labels map[string]string) []byte {
	if labels == nil {
		return append(b, `null`...)
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, labels[k])
	}
	return append(b, '}')
}

// appendJSONString quotes s; a string json.Marshal would escape (quotes,
// backslashes, control characters, <, > and &, invalid UTF-8, U+2028 and
// U+2029) is left to it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			return appendMarshaled(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat is encoding/json's float64 encoding.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return appendMarshaled(b, f) // panics, as encodeSpec did
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		if n := len(b) - start; n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

// appendMarshaled appends json.Marshal's encoding of v.
func appendMarshaled(b []byte, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil { // a FeatureSpec is plain data: never
		panic("encode spec: " + err.Error())
	}
	return append(b, data...)
}

// appendInt appends key (the JSON before the value) and n.
func appendInt(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(b, key...), n, 10)
}
