package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// fingerprints sets each check's Fingerprint, so that a reload can tell changed
// checks from unchanged ones. It hashes what the check resolves to, not how it
// is written: aliases are followed (editing an anchor changes every check that
// uses it), and every file a `*_file` key names (a bearer token, a password, a
// CA) enters by its contents, so a rewritten secret file rebuilds its checks on
// the next reload. Inherited settings that shape a check enter too: the
// defaults, the agent labels and its feature's own keys (a canary has no
// feature). Styles, comments and
// lines do not. The hash is written straight from the node tree, with each
// anchored node and each file hashed once per load.
func (p *parser) fingerprints(doc *yaml.Node, cfg *Config) {
	fp := &fingerprinter{anchors: map[*yaml.Node][sha256.Size]byte{}, files: map[string][sha256.Size]byte{}}
	w := &hashWriter{h: sha256.New()}
	fp.node(w, mapValue(doc, "defaults"), "")
	fp.node(w, mapValue(mapValue(doc, "agent"), "labels"), "")
	inherited := w.sum()

	services := mapValue(doc, "services")
	for si := range cfg.Services {
		features := mapValue(seqItem(services, si), "features")
		for fi := range cfg.Services[si].Features {
			f := seqItem(features, fi)
			w.reset()
			w.bytes(inherited[:])
			fp.mapping(w, resolve(f), "checks")
			fp.checks(w, w.sum(), mapValue(f, "checks"), cfg.Services[si].Features[fi].Checks)
		}
	}
	// The canaries have no feature: what they inherit is the defaults'.
	fp.checks(w, inherited, mapValue(mapValue(doc, "agent"), "canaries"), cfg.Agent.Canaries)
}

// checks sets the Fingerprint of each of checks (written as the sequence
// node) from parent, the sum of what they inherit, and the check's own node.
func (f *fingerprinter) checks(w *hashWriter, parent [sha256.Size]byte, node *yaml.Node, checks []Check) {
	for ci := range checks {
		w.reset()
		w.bytes(parent[:])
		f.node(w, seqItem(node, ci), "")
		sum := w.sum()
		var text [24]byte
		hex.Encode(text[:], sum[:12])
		checks[ci].Fingerprint = string(text[:])
	}
}

// fingerprinter hashes resolved nodes, remembering anchored nodes and files.
type fingerprinter struct {
	anchors map[*yaml.Node][sha256.Size]byte
	files   map[string][sha256.Size]byte
}

// node hashes n as resolved: an alias as the node it names. key is the mapping
// key n is the value of, if any ("bearer_token_file" brings in the file).
func (f *fingerprinter) node(w *hashWriter, n *yaml.Node, key string) {
	n = resolve(n)
	if n == nil {
		w.str("\x00")
		return
	}
	if n.Anchor != "" && n.Kind != yaml.ScalarNode {
		sum, ok := f.anchors[n]
		if !ok {
			f.anchors[n] = sum // a cycle, refused by bound, would end here
			sub := &hashWriter{h: sha256.New()}
			f.contents(sub, n, key)
			sum = sub.sum()
			f.anchors[n] = sum
		}
		w.str("&")
		w.bytes(sum[:])
		return
	}
	f.contents(w, n, key)
}

// contents hashes n's kind, tag, value and children.
func (f *fingerprinter) contents(w *hashWriter, n *yaml.Node, key string) {
	w.uint(uint64(n.Kind))
	w.str(n.Tag)
	w.str(n.Value)
	if n.Kind == yaml.ScalarNode && n.Value != "" && strings.HasSuffix(key, "_file") {
		sum := f.file(n.Value)
		w.bytes(sum[:])
	}
	if n.Kind == yaml.MappingNode {
		f.mapping(w, n, "")
		return
	}
	w.uint(uint64(len(n.Content)))
	for _, c := range n.Content {
		f.node(w, c, "")
	}
}

// mapping hashes the pairs of mapping n, less the key skip.
func (f *fingerprinter) mapping(w *hashWriter, n *yaml.Node, skip string) {
	if n == nil || n.Kind != yaml.MappingNode {
		f.node(w, n, "")
		return
	}
	w.uint(uint64(len(n.Content)))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if skip != "" && k.Value == skip {
			continue
		}
		f.node(w, k, "")
		f.node(w, v, resolve(k).Value)
	}
}

// file is the hash of the file at path; an unreadable file hashes its error,
// so that it changes when the file appears.
func (f *fingerprinter) file(path string) [sha256.Size]byte {
	if sum, ok := f.files[path]; ok {
		return sum
	}
	b, err := probeconfig.ReadConfigFile(path)
	if err != nil {
		b = []byte("error: " + err.Error())
	}
	sum := sha256.Sum256(b)
	f.files[path] = sum
	return sum
}

// hashWriter frames values into a hash through a reused buffer, so hashing a
// check allocates nothing.
type hashWriter struct {
	h           hash.Hash
	buf, sumBuf []byte
}

func (w *hashWriter) str(s string) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(s)))
	w.buf = append(w.buf, s...)
	w.flushIfFull()
}

func (w *hashWriter) bytes(b []byte) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(b)))
	w.buf = append(w.buf, b...)
	w.flushIfFull()
}

func (w *hashWriter) uint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }

func (w *hashWriter) flushIfFull() {
	if len(w.buf) >= 4096 {
		w.h.Write(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *hashWriter) reset() {
	w.h.Reset()
	w.buf = w.buf[:0]
}

func (w *hashWriter) sum() [sha256.Size]byte {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
	w.sumBuf = w.h.Sum(w.sumBuf[:0])
	return [sha256.Size]byte(w.sumBuf)
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapValue is the value of key in mapping n (aliases followed, merge keys
// searched after the mapping's own keys), or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i].ShortTag() != "!!merge" {
			return resolve(n.Content[i+1])
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].ShortTag() != "!!merge" {
			continue
		}
		merged := resolve(n.Content[i+1])
		if merged != nil && merged.Kind == yaml.SequenceNode {
			for _, m := range merged.Content {
				if v := mapValue(m, key); v != nil {
					return v
				}
			}
		} else if v := mapValue(merged, key); v != nil {
			return v
		}
	}
	return nil
}

// seqItem is item i of sequence n (aliases followed), or nil.
func seqItem(n *yaml.Node, i int) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return resolve(n.Content[i])
}
