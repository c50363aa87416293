package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on what loading one config may cost, so that neither `vigil
// --config.check` nor a reload (which holds the reload lock) can be made to run
// for minutes or fill memory.
const (
	// MaxConfigBytes is the largest config file read: about 80,000 checks.
	MaxConfigBytes = 16 << 20
	// A config may expand through aliases to at most max(minAliasNodes,
	// aliasNodesPerNode × its written nodes) nodes more than it has as
	// written: enough to share an http block among every check, not enough for
	// a "billion laughs". yaml.v3's own guard comes too late: it allows 99%
	// aliasing up to 400,000 decoded nodes and a tenth up to 4 million, and our
	// walk and type errors cost memory per expanded node before it.
	minAliasNodes     = 1 << 16
	aliasNodesPerNode = 10
)

// bound counts the nodes doc expands to, aliases standing for the nodes they
// name, and refuses a document that aliases make too large, naming the file,
// line and key of the alias that passed the limit. It expands nothing: the size
// of each anchored node is counted once, so the count costs one pass over the
// document as written.
func (p *parser) bound(doc *yaml.Node) *Error {
	p.written = countWritten(doc)
	x := &expansion{limit: p.written + max(minAliasNodes, aliasNodesPerNode*p.written),
		sizes: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	if !x.visit(doc) {
		return &Error{File: p.file, Line: x.failed.Line, Key: x.path(), Msg: x.msg}
	}
	p.nodes = x.total
	return nil
}

// countWritten counts the nodes of n as written: an alias is one node.
func countWritten(n *yaml.Node) int {
	c := 1
	for _, child := range n.Content {
		c += countWritten(child)
	}
	return c
}

// expansion counts the expanded size of a document.
type expansion struct {
	total, limit int
	sizes        map[*yaml.Node]int  // expanded size of each anchored node counted
	open         map[*yaml.Node]bool // anchored nodes being counted (an alias to one is a cycle)
	stack        []pathElem          // where the count is, rendered only on failure
	failed       *yaml.Node
	msg          string
}

// pathElem is one step of a key path: a mapping key or a list index.
type pathElem struct {
	key   string
	index int // -1 for a key
}

// visit adds the expanded size of n to the total; false once over the limit.
func (x *expansion) visit(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return x.alias(n)
	}
	before := x.total
	x.total++
	if x.total > x.limit {
		return x.fail(n, fmt.Sprintf("config expands to more than %d nodes through aliases (alias bomb?)", x.limit))
	}
	if n.Anchor != "" {
		x.open[n] = true
		defer delete(x.open, n)
	}
	for i, child := range n.Content {
		switch n.Kind {
		case yaml.MappingNode:
			if i%2 == 1 {
				x.stack = append(x.stack, pathElem{key: n.Content[i-1].Value, index: -1})
			}
		case yaml.SequenceNode:
			x.stack = append(x.stack, pathElem{index: i})
		}
		if !x.visit(child) {
			return false
		}
		if n.Kind == yaml.SequenceNode || (n.Kind == yaml.MappingNode && i%2 == 1) {
			x.stack = x.stack[:len(x.stack)-1]
		}
	}
	if n.Anchor != "" {
		x.sizes[n] = x.total - before
	}
	return true
}

// alias adds what alias n stands for: the counted size of its anchor.
func (x *expansion) alias(n *yaml.Node) bool {
	target := n.Alias
	if target == nil || x.open[target] {
		return x.fail(n, fmt.Sprintf("alias *%s refers to a node that contains it", n.Value))
	}
	size, ok := x.sizes[target]
	if !ok { // not met before the alias (yaml.v3 does not allow that); count it here
		before := x.total
		if !x.visit(target) {
			return false
		}
		size = x.total - before
		x.total = before
	}
	x.total += size
	if x.total > x.limit {
		return x.fail(n, fmt.Sprintf("config expands to more than %d nodes through aliases (alias bomb?)", x.limit))
	}
	return true
}

func (x *expansion) fail(n *yaml.Node, msg string) bool {
	x.failed, x.msg = n, msg
	return false
}

// path renders where the count failed, as the walk names keys.
func (x *expansion) path() string {
	var b strings.Builder
	for _, e := range x.stack {
		if e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}
