// Package expo reads the few series the harness needs out of a Prometheus text
// exposition. At 10,000 checks Vigil's /metrics holds hundreds of thousands of
// series; a line filter that keeps only the wanted names costs the harness (and
// the 2-core machine it shares with the agent) far less than a full parse.
package expo

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Sample is one series' value.
type Sample struct {
	Name   string
	Labels []Label
	Value  float64
}

// Get returns the value of label name, or "".
func (s *Sample) Get(name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Parse reads a text exposition (format 0.0.4) and returns the samples whose
// metric name is in names, in order. Comments and other series are skipped
// without being parsed.
func Parse(r io.Reader, names ...string) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []Sample
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		end := 0
		for end < len(line) && line[end] != '{' && line[end] != ' ' {
			end++
		}
		if !slices.Contains(names, string(line[:end])) {
			continue
		}
		s, err := parseLine(string(line), end)
		if err != nil {
			return nil, fmt.Errorf("exposition line %d: %w", lineNo, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read exposition: %w", err)
	}
	return out, nil
}

// parseLine parses `name{a="x",b="y"} value [timestamp]`; nameEnd is the index
// just past the name.
func parseLine(line string, nameEnd int) (Sample, error) {
	s := Sample{Name: line[:nameEnd]}
	rest := line[nameEnd:]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label in %q", line)
			}
			name := rest[:eq]
			value, n, err := unquote(rest[eq+2:])
			if err != nil {
				return s, fmt.Errorf("label %s in %q: %w", name, line, err)
			}
			s.Labels = append(s.Labels, Label{Name: name, Value: value})
			rest = rest[eq+2+n:]
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, fmt.Errorf("value in %q: %w", line, err)
	}
	s.Value = v
	return s, nil
}

// unquote reads an escaped label value up to its closing quote and returns it
// with the number of bytes consumed (closing quote included).
func unquote(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			i++
			if i == len(s) {
				return "", 0, fmt.Errorf("unterminated escape")
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default: // \\ and \"
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated label value")
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}
