package demo

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Base timing at speed 1. Everything scales with the speed, so a test at
// speed 10 sees the same story, ten times faster, with the same number of
// check runs per beat.
const (
	baseInterval = 2 * time.Second
	minInterval  = 100 * time.Millisecond
)

// timing is the clock of one demo: how fast the script plays and how often the
// agents check.
type timing struct {
	speed    float64
	interval time.Duration // every check's interval
	timeout  time.Duration // every check's timeout: well under the interval
	latency  time.Duration // the latency objective of features that have one
	slow     time.Duration // how long a Slow target takes: over latency, under timeout
}

// newTiming derives the timing from the speed; interval 0 means baseInterval
// divided by the speed, at least minInterval.
func newTiming(speed float64, interval time.Duration) timing {
	if speed <= 0 {
		speed = 1
	}
	if interval <= 0 {
		interval = max(time.Duration(float64(baseInterval)/speed), minInterval)
	}
	interval = interval.Round(time.Millisecond) // config durations have ms resolution
	return timing{
		speed:    speed,
		interval: interval,
		timeout:  (interval * 9 / 10).Round(time.Millisecond),
		latency:  (interval / 5).Round(time.Millisecond),
		slow:     interval * 9 / 20,
	}
}

// scaled is d of the script (speed 1) in real time.
func (tm timing) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / tm.speed)
}

// recoveryThreshold is how many passing runs in a row cover trust (speed 1),
// at most 64 (the most a threshold may be; at short intervals trust is then
// shorter than the script's).
func (tm timing) recoveryThreshold(trust time.Duration) int {
	return min(int(math.Ceil(float64(tm.scaled(trust))/float64(tm.interval))), 64)
}

func duration(d time.Duration) string { return probeconfig.Duration(d).String() }

// renderConfig writes the vigil.yml of region r for the running landscape;
// with natsURL, the agent publishes its record there (the global view).
func renderConfig(r Region, l *Landscape, tm timing, natsURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by vigil demo for agent %s (%q). The targets listen on random
# loopback ports and live only while the demo runs: this file is here to read.
agent:
  region: %s
defaults:
  interval: %s
  timeout: %s
  failure_threshold: 2
  recovery_threshold: 3
web:   # / is the public page (no probe errors); /internal shows them
  public: true
  timezone: Asia/Seoul
`, r.Name, r.Nickname, r.Name, duration(tm.interval), duration(tm.timeout))
	if natsURL != "" {
		fmt.Fprintf(&b, "global:   # the record, for the view across regions\n  url: %s\n  stream: %s\n  agent_id: %s\n",
			natsURL, globalStream, r.Name)
	}
	b.WriteString("services:\n")
	for si := range catalog {
		s := &catalog[si]
		var features []*Feature
		for fi := range s.Features {
			if r.watches(&s.Features[fi]) {
				features = append(features, &s.Features[fi])
			}
		}
		if len(features) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n    title: {en: %q, ko: %q}\n    labels: {datacenter: %s}\n    features:\n", s.Name, s.Title, s.TitleKo, s.Datacenter)
		for _, f := range features {
			renderFeature(&b, r, s, f, l, tm)
		}
	}
	return b.String()
}

func renderFeature(b *strings.Builder, r Region, s *Service, f *Feature, l *Landscape, tm timing) {
	fmt.Fprintf(b, "      - name: %s\n        title: {en: %q, ko: %q}\n", f.Name, f.Title, f.TitleKo)
	sites := r.sitesOf(f)
	if len(sites) > 1 {
		fmt.Fprintf(b, "        require: any   # served from %s: passes while either answers, degraded with one\n", strings.Join(sites, " and "))
	}
	if f.TrustAfter > 0 {
		fmt.Fprintf(b, "        recovery_threshold: %d   # restored from backup: trusted after %s of passing runs\n",
			tm.recoveryThreshold(f.TrustAfter), tm.scaled(f.TrustAfter))
	}
	if f.Latency {
		fmt.Fprintf(b, "        slo: {objective: 99.9, window: 30d, latency: %s}\n", duration(tm.latency))
	} else {
		fmt.Fprintf(b, "        slo: {objective: 99.9, window: 30d}\n")
	}
	b.WriteString("        checks:\n")
	key := s.Key(f)
	for _, site := range sites {
		t := l.Target(key, site)
		name := "api"
		if len(sites) > 1 {
			name = "api-" + site
		}
		fmt.Fprintf(b, "          - name: %s\n            http: {url: \"http://%s%s\", valid_status_codes: [200], fail_if_body_not_matches_regexp: ['\"status\":\\s*\"ok\"']}\n",
			name, t.Addr, healthPath)
		if f.DNS {
			fmt.Fprintf(b, "          - name: dns\n            dns: {server: %q, query_name: %q, query_type: A, valid_rcodes: [NOERROR]}\n",
				l.DNSAddr, strings.TrimSuffix(t.DNSName, "."))
		}
		if f.WebSocket {
			fmt.Fprintf(b, "          - name: websocket\n            messaging: {protocol: websocket, url: \"ws://%s%s\", messages: 3}\n", t.Addr, echoPath)
		}
		if f.Messaging {
			fmt.Fprintf(b, "          - name: nats\n            messaging: {protocol: nats, url: \"nats://%s\", topic: vigil.%s.%s.%s, messages: 3}\n",
				t.brokers.NATSAddr, s.Name, f.Name, r.Name)
			fmt.Fprintf(b, "          - name: mqtt\n            messaging: {protocol: mqtt, url: \"tcp://%s\", topic: vigil/%s/%s/%s, messages: 3}\n",
				t.brokers.MQTTAddr, s.Name, f.Name, r.Name)
		}
	}
}
