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
// renderConfig is region r's vigil.yml. browser says whether a Chromium was
// found: without one the browser check of "Road view" is left out.
func renderConfig(r Region, l *Landscape, tm timing, natsURL string, browser bool) string {
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
			renderFeature(&b, r, s, f, l, tm, browser)
		}
	}
	return b.String()
}

func renderFeature(b *strings.Builder, r Region, s *Service, f *Feature, l *Landscape, tm timing, browser bool) {
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
		if f.Journey {
			renderJourney(b, t.Addr)
		}
		if f.Browser && browser {
			// A browser run costs a Chromium start (about a second of CPU):
			// every browserInterval at most, with the time a browser needs.
			recovery := 3         // the default's
			if f.TrustAfter > 0 { // trusted after the same time as the others
				recovery = int(math.Ceil(float64(tm.scaled(f.TrustAfter)) / float64(tm.browserInterval())))
			}
			fmt.Fprintf(b, `          - name: page
            interval: %s
            timeout: %s
            recovery_threshold: %d
            browser:
              url: "http://%s%s"
              steps:
                - wait_visible: "#roadview"
                - assert_text: {selector: "#roadview", contains: "Road view"}
`, duration(tm.browserInterval()), duration(browserTimeout), recovery, t.Addr, mapPath)
		}
		if f.Messaging {
			fmt.Fprintf(b, "          - name: nats\n            messaging: {protocol: nats, url: \"nats://%s\", topic: vigil.%s.%s.%s, messages: 3}\n",
				t.brokers.NATSAddr, s.Name, f.Name, r.Name)
			fmt.Fprintf(b, "          - name: mqtt\n            messaging: {protocol: mqtt, url: \"tcp://%s\", topic: vigil/%s/%s/%s, messages: 3}\n",
				t.brokers.MQTTAddr, s.Name, f.Name, r.Name)
		}
	}
}

// renderJourney writes the journey of "Messages: send / receive": log in,
// post a message with the token, read it back, delete it whatever happened.
func renderJourney(b *strings.Builder, addr string) {
	fmt.Fprintf(b, `          - name: journey
            journey:   # as a user: log in, send, read back, clean up
              steps:
                - name: login
                  http: {url: "http://%[1]s%[2]s", method: POST, valid_status_codes: [200]}
                  extract: [{var: token, json: "$.token", secret: true}]
                - name: send
                  http:
                    url: "http://%[1]s%[3]s"
                    method: POST
                    headers: {Authorization: "Bearer ${token}", Content-Type: application/json}
                    body: '{"text":"demo ${run.token}"}'
                    valid_status_codes: [201]
                  extract: [{var: id, json: "$.id"}]
                - name: read-back
                  http:
                    url: "http://%[1]s%[3]s/${id}"
                    headers: {Authorization: "Bearer ${token}"}
                    fail_if_body_not_matches_regexp: ['demo ${run.token}']
                - name: delete
                  always: true
                  http:
                    url: "http://%[1]s%[3]s/${id}"
                    method: DELETE
                    headers: {Authorization: "Bearer ${token}"}
                    valid_status_codes: [204]
`, addr, loginPath, messagesPath)
}

// browserTimeout is the browser check's: a Chromium start, a page, a panel.
const browserTimeout = 10 * time.Second

// browserInterval is the browser check's interval: 4 of the others', at
// least 15s.
func (tm timing) browserInterval() time.Duration { return max(4*tm.interval, 15*time.Second) }
