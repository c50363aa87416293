package blackboximport

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// defaultModule is the module blackbox_exporter uses when a request names none.
const defaultModule = "http_2xx"

// proberKinds maps blackbox_exporter's probers to Vigil's kinds: the same
// names. (An https module is kept as an http check, never turned into a tls
// one: tls only makes the handshake, http also asks for the page and checks
// the answer, so neither is an exact fit for the other.)
var proberKinds = map[string]string{"http": "http", "tcp": "tcp", "dns": "dns", "icmp": "icmp", "grpc": "grpc"}

// knownProbers are blackbox_exporter's probers Vigil has no kind for.
var knownProbers = map[string]bool{"unix": true}

// module is one blackbox_exporter module, converted.
type module struct {
	name    string
	file    string
	keyNode *yaml.Node // its name, for the line
	kind    string     // Vigil's kind; "" when it cannot move
	// block is the kind's block without its target key; nil when it cannot move.
	block   *yaml.Node
	timeout time.Duration // 0 when the module sets none
	// setsIPProtocol is true when the module says preferred_ip_protocol;
	// without it blackbox_exporter prefers ip6 and Vigil ip4.
	setsIPProtocol bool
	dnsOverTLS     bool
}

func (m *module) subject() string { return fmt.Sprintf("module %q", m.name) }

// readModules reads blackbox.yml; every module is returned, those that
// cannot move with a nil block and their reasons in r.
func readModules(file string, data []byte, r *report) (map[string]*module, error) {
	doc, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	mods := get(doc, "modules")
	if mods == nil || mods.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: no modules: mapping (is this blackbox_exporter's config file?)", file)
	}
	for _, p := range pairs(doc) {
		if p.key.Value != "modules" {
			r.add(file, p.key, "", "key %q is not blackbox_exporter's (only modules: is read)", p.key.Value)
		}
	}
	out := map[string]*module{}
	for _, p := range pairs(mods) {
		m := &module{name: p.key.Value, file: file, keyNode: p.key}
		m.convert(p.value, r)
		out[m.name] = m
	}
	return out, nil
}

// convert fills kind, block and timeout from the module's node.
func (m *module) convert(n *yaml.Node, r *report) {
	if n == nil || n.Kind != yaml.MappingNode {
		r.add(m.file, m.keyNode, m.subject(), "not a mapping")
		return
	}
	proberNode := get(n, "prober")
	prober, _ := scalar(proberNode)
	kind, ok := proberKinds[prober]
	switch {
	case proberNode == nil:
		r.add(m.file, m.keyNode, m.subject(), "no prober")
		return
	case !ok && knownProbers[prober]:
		r.add(m.file, proberNode, m.subject(), "prober %q has no Vigil kind (Vigil's are http, dns, tcp, tls, ssh, grpc, icmp, messaging)", prober)
		return
	case !ok:
		r.add(m.file, proberNode, m.subject(), "unknown prober %q: blackbox_exporter's are http, tcp, dns, icmp, grpc", prober)
		return
	}
	broken := false
	var block *yaml.Node
	for _, p := range pairs(n) {
		switch key := p.key.Value; {
		case key == "prober":
		case key == "timeout":
			broken = !m.readTimeout(p.value, r) || broken
		case key == prober:
			block = p.value
		case proberKinds[key] != "" || knownProbers[key]:
			r.note(m.file, p.key, m.subject(), "%s: left out: blackbox_exporter ignores it too (the prober is %s)", key, prober)
		default:
			r.add(m.file, p.key, m.subject(), "unknown key %q", key)
			broken = true
		}
	}
	out, ok := convertBlock(m, kind, block, r)
	if broken || !ok {
		return
	}
	m.kind, m.block = kind, out
}

func (m *module) readTimeout(n *yaml.Node, r *report) bool {
	text, _ := scalar(n)
	d, err := model.ParseDuration(text)
	if err != nil || d <= 0 {
		r.add(m.file, n, m.subject(), "timeout: %q is not a positive duration", text)
		return false
	}
	m.timeout = time.Duration(d)
	return true
}

// convertBlock turns the prober's block into the kind's: keys the kind has
// are copied, the few that differ translated; any other key stops the module.
func convertBlock(m *module, kind string, block *yaml.Node, r *report) (*yaml.Node, bool) {
	out := mapping()
	if isNull(block) {
		return out, true
	}
	if block.Kind != yaml.MappingNode {
		r.add(m.file, block, m.subject(), "%s: not a mapping", kind)
		return nil, false
	}
	t, _ := kindType(kind)
	fields := yamlFields(t)
	ok := true
	for _, p := range pairs(block) {
		key := p.key.Value
		if key == "preferred_ip_protocol" {
			m.setsIPProtocol = true
		}
		if tr, found := translations[kind][key]; found {
			ok = tr(&translation{m: m, kind: kind, key: p.key, value: p.value, out: out, r: r}) && ok
			continue
		}
		ft, found := fields[key]
		if !found {
			r.add(m.file, p.key, m.subject(), "%s.%s: Vigil's %s check has no such key", kind, key, kind)
			ok = false
			continue
		}
		for _, u := range unknownKeys(p.value, ft, key) {
			r.add(m.file, u.node, m.subject(), "%s.%s: Vigil's %s check has no such key", kind, u.path, kind)
			ok = false
		}
		set(out, key, copyNode(p.value))
	}
	if !ok {
		return nil, false
	}
	if m.dnsOverTLS {
		set(out, "transport_protocol", str("tcp-tls"))
	}
	dropUnusedTLSConfig(m, kind, block, out, r)
	return out, true
}

// dropUnusedTLSConfig leaves out a tls_config blackbox_exporter would not use
// (tcp or grpc without tls, dns without dns_over_tls): Vigil refuses it.
func dropUnusedTLSConfig(m *module, kind string, block, out *yaml.Node, r *report) {
	tlsConfig := get(block, "tls_config")
	if tlsConfig == nil {
		return
	}
	var used bool
	switch kind {
	case "tcp":
		used = isTrue(get(block, "tls"))
		for _, step := range items(get(block, "query_response")) {
			used = used || isTrue(get(step, "starttls"))
		}
	case "grpc":
		used = isTrue(get(block, "tls"))
	case "dns":
		used = isTrue(get(block, "dns_over_tls"))
	default:
		return
	}
	if !used {
		del(out, "tls_config")
		r.note(m.file, tlsConfig, m.subject(), "%s.tls_config: left out: the module makes no TLS connection, so blackbox_exporter does not use it either", kind)
	}
}

func isTrue(n *yaml.Node) bool {
	s, _ := scalar(n)
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

// translation is one key whose name or value differs between the two.
type translation struct {
	m          *module
	kind       string
	key, value *yaml.Node
	out        *yaml.Node
	r          *report
}

var translations = map[string]map[string]func(*translation) bool{
	"http": {
		"no_follow_redirects":           noFollowRedirects,
		"skip_resolve_phase_with_proxy": skipResolvePhase,
		"body_size_limit":               bodySizeLimit,
	},
	"dns": {"dns_over_tls": dnsOverTLS},
}

func (t *translation) fail(format string, args ...any) bool {
	t.r.add(t.m.file, t.value, t.m.subject(), "%s.%s: "+format, append([]any{t.kind, t.key.Value}, args...)...)
	return false
}

// noFollowRedirects is blackbox_exporter's old spelling of follow_redirects: false.
func noFollowRedirects(t *translation) bool {
	s, _ := scalar(t.value)
	v, err := strconv.ParseBool(s)
	if err != nil {
		return t.fail("%q is not a boolean", s)
	}
	if get(t.out, "follow_redirects") == nil {
		set(t.out, "follow_redirects", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(!v)})
	}
	return true
}

// skipResolvePhase only changes how blackbox_exporter times phases.
func skipResolvePhase(t *translation) bool {
	t.r.note(t.m.file, t.key, t.m.subject(), "http.skip_resolve_phase_with_proxy: left out: Vigil never resolves a target it sends through a proxy, so it has no resolve phase to skip")
	return true
}

// bodySizeLimit reads blackbox_exporter's units (10MB, 512KiB: powers of 1024)
// into Vigil's bytes.
func bodySizeLimit(t *translation) bool {
	s, _ := scalar(t.value)
	n, ok := parseBase2Bytes(s)
	if !ok {
		return t.fail("%q is not a size such as 1048576, 512KB or 10MiB", s)
	}
	set(t.out, "body_size_limit", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)})
	return true
}

// dnsOverTLS becomes transport_protocol: tcp-tls (blackbox_exporter wants it
// with transport_protocol tcp).
func dnsOverTLS(t *translation) bool {
	s, _ := scalar(t.value)
	v, err := strconv.ParseBool(s)
	switch {
	case err != nil:
		return t.fail("%q is not a boolean", s)
	case v:
		// Set after the other keys: transport_protocol: tcp comes with it.
		t.m.dnsOverTLS = true
	}
	return true
}

var byteUnits = map[string]int64{"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20,
	"gb": 1 << 30, "gib": 1 << 30, "tb": 1 << 40, "tib": 1 << 40}

func parseBase2Bytes(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, err := strconv.ParseFloat(s[:i], 64)
	unit, ok := byteUnits[strings.ToLower(s[i:])]
	if err != nil || !ok || num < 0 || num*float64(unit) > 1<<62 {
		return 0, false
	}
	return int64(num * float64(unit)), true
}

// inFileOrder lists the modules as the file does.
func inFileOrder(mods map[string]*module) []*module {
	out := make([]*module, 0, len(mods))
	for _, m := range mods {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return line(out[i].keyNode) < line(out[j].keyNode) })
	return out
}
