package journeyprobe

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Variables. A step's block may name ${name} in any scalar value (never in a
// key). A name is looked up, in order, among the builtins (run.*), the
// journey's vars, the variables extracted by earlier steps, and last the
// environment; values from the environment are secrets.

// refRe matches one ${name}; names may hold dots (run.token).
var refRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.]*)\}`)

// The builtins: a token unique to the run, the run's start as RFC 3339 (UTC)
// and as Unix seconds.
const (
	builtinToken = "run.token"
	builtinTime  = "run.time"
	builtinUnix  = "run.unix"
)

var builtinNames = []string{builtinToken, builtinTime, builtinUnix}

func isBuiltin(name string) bool {
	return name == builtinToken || name == builtinTime || name == builtinUnix
}

// builtinSample is a value of the builtin's shape, for validation.
func builtinSample(name string) (string, bool) {
	switch name {
	case builtinToken:
		return "0123456789abcdef0123", true
	case builtinTime:
		return "2026-01-01T00:00:00Z", true
	case builtinUnix:
		return "1767225600", true
	}
	return "", false
}

// builtins returns the builtins of a run that starts at start.
func builtins(start time.Time) map[string]string {
	var b [10]byte
	rand.Read(b[:])
	return map[string]string{
		builtinToken: hex.EncodeToString(b[:]),
		builtinTime:  start.UTC().Format(time.RFC3339),
		builtinUnix:  strconv.FormatInt(start.Unix(), 10),
	}
}

// lookupEnv reads an environment variable; a variable for a test to replace.
var lookupEnv = os.LookupEnv

// refNames lists the names s refers to, in order, repeats included.
func refNames(s string) []string {
	if !strings.Contains(s, "${") {
		return nil
	}
	var out []string
	for _, m := range refRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// expandEnv replaces each ${NAME} in s by the environment's value and returns
// the names it used; an unset one is an error naming it.
func expandEnv(s string) (string, []string, error) {
	var names, missing []string
	out := refRe.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := lookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		names = append(names, name)
		return v
	})
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, names, nil
}

// walkScalars calls fn for every scalar value under node (mapping keys are
// not values), with its key path below path: "http.headers.Authorization",
// "http.valid_status_codes[0]".
func walkScalars(node *yaml.Node, path string, fn func(n *yaml.Node, path string)) {
	switch node.Kind {
	case yaml.ScalarNode:
		fn(node, path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key := node.Content[i].Value
			at := path + "." + key
			if key == "<<" {
				at = path
			}
			walkScalars(node.Content[i+1], at, fn)
		}
	case yaml.SequenceNode:
		for i, c := range node.Content {
			walkScalars(c, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case yaml.DocumentNode:
		for _, c := range node.Content {
			walkScalars(c, path, fn)
		}
	}
}

// substitute returns a copy of node whose scalar values have each ${name}
// replaced by lookup's value. A name lookup does not know is an error naming
// it; so is a value that holds "${" itself (the kinds would expand it again
// from the environment: a response could make the agent send its secrets).
func substitute(node *yaml.Node, lookup func(name string) (string, bool)) (*yaml.Node, error) {
	out := copyNode(node)
	var err error
	walkScalars(out, "", func(n *yaml.Node, _ string) {
		if err != nil || !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = refRe.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := lookup(name)
			switch {
			case !ok:
				err = fmt.Errorf("variable ${%s} is not set", name)
			case strings.Contains(v, "${"):
				err = fmt.Errorf("the value of variable ${%s} holds \"${\", which is refused", name)
			}
			return v
		})
		// A substituted value is text: "${port}" read as a string stays one,
		// and a tag such as !!int would refuse text that is not a number.
		if n.Tag == "" || n.Tag == "!!null" {
			n.Tag = "!!str"
		}
		n.Style &^= yaml.TaggedStyle
	})
	return out, err
}

// copyNode copies node deeply, aliases replaced by copies of what they name.
func copyNode(node *yaml.Node) *yaml.Node {
	if node == nil {
		return nil
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		return copyNode(node.Alias)
	}
	out := *node
	out.Anchor = ""
	if len(node.Content) > 0 {
		out.Content = make([]*yaml.Node, len(node.Content))
		for i, c := range node.Content {
			out.Content[i] = copyNode(c)
		}
	}
	return &out
}
