package blackboximport

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// resolved is one (target, module) pair a job sends to the exporter, after
// relabeling.
type resolved struct {
	job    *job
	raw    *rawTarget
	target string
	module *module
	labels map[string]string // the target's labels Prometheus would keep
}

// resolve relabels one target as Prometheus would; ok false when it is
// dropped (by a rule: a note) or cannot be imported (a problem).
func (j *job) resolve(t *rawTarget, mods map[string]*module, r *report) (*resolved, bool) {
	labels := map[string]string{}
	for k, v := range t.labels {
		labels[k] = v
	}
	labels[model.AddressLabel] = t.address
	defaults := map[string]string{
		model.JobLabel: j.name, model.MetricsPathLabel: probePath, model.SchemeLabel: "http",
		model.ScrapeIntervalLabel: model.Duration(j.interval).String(), model.ScrapeTimeoutLabel: model.Duration(j.timeout).String(),
	}
	for k, v := range j.params {
		defaults[model.ParamLabelPrefix+k] = v
	}
	for k, v := range defaults {
		if _, set := labels[k]; !set {
			labels[k] = v
		}
	}
	subject := fmt.Sprintf("target %q of job %q", t.address, j.name)
	for _, rule := range j.relabels {
		if !rule.apply(labels) {
			r.note(t.file, t.node, subject, "dropped by the relabel rule at %s:%d, as Prometheus would", j.file, line(rule.node))
			return nil, false
		}
	}
	target := labels[model.ParamLabelPrefix+"target"]
	if target == "" {
		r.add(t.file, t.node, subject, "after relabel_configs it has no __param_target: the exporter would be asked to probe nothing (relabel __address__ into __param_target)")
		return nil, false
	}
	name := labels[model.ParamLabelPrefix+"module"]
	if name == "" {
		name = defaultModule
	}
	mod, ok := mods[name]
	if !ok {
		r.add(t.file, t.node, subject, "module %q is not in %s: the exporter would answer 400", name, firstFile(mods))
		return nil, false
	}
	kept := map[string]string{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "__") && k != model.JobLabel && k != model.InstanceLabel {
			kept[k] = v
		}
	}
	return &resolved{job: j, raw: t, target: target, module: mod, labels: kept}, true
}

func firstFile(mods map[string]*module) string {
	for _, m := range mods {
		return m.file
	}
	return "the modules file"
}

// targetKeys is the key of each kind's block that holds the target.
var targetKeys = map[string]string{"http": "url", "dns": "server", "tcp": "target", "grpc": "target", "icmp": "target"}

// kindTarget turns a target as the exporter reads it into the value of the
// kind's target key, and returns its host.
func kindTarget(kind, target string) (value, host string, err error) {
	switch kind {
	case "http":
		return httpTarget(target)
	case "tcp", "grpc":
		h, port, err := net.SplitHostPort(target)
		if err != nil || h == "" || !validPort(port) {
			return "", "", fmt.Errorf("not host:port, which the %s prober needs", kind)
		}
		return target, h, nil
	case "dns":
		h := target
		if sh, port, err := net.SplitHostPort(target); err == nil {
			if !validPort(port) {
				return "", "", fmt.Errorf("bad port %q", port)
			}
			h = sh
		}
		return hostTarget(target, h, "a DNS server: host or host:port")
	case "icmp":
		return hostTarget(target, strings.Trim(target, "[]"), "a host (no port, no URL), which the icmp prober needs")
	}
	return "", "", fmt.Errorf("no kind %q", kind)
}

// httpTarget adds http:// to a bare host, as the exporter does.
func httpTarget(target string) (string, string, error) {
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		if strings.Contains(target, "://") {
			return "", "", fmt.Errorf("not an http:// or https:// URL")
		}
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || strings.ContainsAny(target, " \t") {
		return "", "", fmt.Errorf("not a URL")
	}
	return target, u.Hostname(), nil
}

// hostTarget returns target when host is an IP address or a host name.
func hostTarget(target, host, want string) (string, string, error) {
	h, err := validHost(host, want)
	if err != nil {
		return "", "", err
	}
	return target, h, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// validHost returns h itself when it is an IP address or a host name.
func validHost(h, want string) (string, error) {
	if _, err := netip.ParseAddr(h); err == nil {
		return h, nil
	}
	if h == "" || strings.ContainsAny(h, " /\\:@?#") || len(h) > 253 {
		return "", fmt.Errorf("not %s", want)
	}
	return h, nil
}

// isIPLiteral says whether host needs no resolving (so the preferred IP
// protocol does not matter).
func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}
