package config

import (
	"os"
	"reflect"
	"testing"
)

// decodeBothWays decodes data as the walk does (walkDecoded) and as before,
// walking and then decoding with Node.Decode; it returns both, the errors of
// each and whether the walk decoded it itself.
func decodeBothWays[T any](t testing.TB, data []byte) (walked, decoded *T, walkErrs, decodeErrs Errors, fast bool) {
	t.Helper()
	p := newParser("x.yml")
	doc, err := p.document(data)
	if err != nil {
		return nil, nil, nil, nil, false
	}
	walked = walkDecoded[T](p, doc)
	walkErrs, fast = p.errs, p.fast && len(p.errs) == 0

	q := newParser("x.yml")
	doc, err = q.document(data)
	if err != nil {
		t.Fatalf("parsed once, not twice: %v", err)
	}
	q.walk(doc, reflect.TypeFor[T](), "")
	return walked, decodeAs[T](q, doc), walkErrs, q.errs, fast
}

func TestWalkDecodesAsNodeDecode(t *testing.T) {
	t.Setenv("PAY_HEALTH_TOKEN", "example-token")
	t.Setenv("JOURNEY_PASSWORD", "example-password")
	cases := map[string]struct {
		yaml string
		fast bool // decoded by the walk, not by Node.Decode
	}{
		"minimal":               {minimal, true},
		"confirmations":         {confirmations, true},
		"anchored":              {anchored, false},
		"errors":                {manyErrors, false},
		"null items and values": {nullItems, true},
		"tagged":                {"agent: {region: !!str r}\nservices: [{name: s, features: [{name: f, checks: [{name: c, http: {url: 'http://127.0.0.1/'}}]}]}]\n", false},
		"journey":               {mustRead(t, "../../examples/journey.yml"), true},
		"vigil":                 {mustRead(t, "../../examples/vigil.yml"), true},
		"example min":           {mustRead(t, "../../examples/minimal.yml"), true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			walked, decoded, walkErrs, decodeErrs, fast := decodeBothWays[Config](t, []byte(tc.yaml))
			if fast != tc.fast {
				t.Errorf("decoded by the walk: %v, want %v", fast, tc.fast)
			}
			if !reflect.DeepEqual(walked, decoded) {
				t.Errorf("the walk decoded\n%+v\nNode.Decode\n%+v", walked, decoded)
			}
			if !reflect.DeepEqual(walkErrs, decodeErrs) {
				t.Errorf("errors: the walk's %v, Node.Decode's %v", walkErrs, decodeErrs)
			}
		})
	}
}

const nullItems = `agent: {region: r, labels: {a: ~, b: "", c: 1}, canaries: ~}
defaults: {interval: 10s, timeout: ~, failure_threshold: 3, failure_window: ~, slo: {objective: 99.5}}
services:
  - ~
  - name: 42
    labels: {x: true, y: 1.5, "z": 'q'}
    features:
      - name: f
        require: quorum(2)
        interval: 1m
        flap: {changes: 4}
        maintenance: [{cron: "0 3 * * *", duration: 1h}]
        checks:
          - ~
          - {name: c, http: {url: "http://127.0.0.1/", valid_status_codes: [200, 204], headers: {Accept: x}}}
          - {name: d, dns: {server: 127.0.0.1:53, query_name: x, valid_rcodes: [NOERROR]}}
          - {name: e, tcp: {target: "127.0.0.1:80", preferred_ip_protocol: ip4}}
          - {name: m, messaging: {protocol: nats, url: "nats://127.0.0.1:4222", topic: t}}
  - {name: s2, features: []}
`

func mustRead(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// FuzzWalkDecodes: whatever the input, the walk decodes a config (and vigil
// global's file) to what Node.Decode does, with the same errors.
func FuzzWalkDecodes(f *testing.F) {
	addFileSeeds(f)
	for _, seed := range []string{minimal, anchored, manyErrors, confirmations,
		"agent: {labels: {a: ~, ~: b}}\nservices: [~, {name: 1, features: [{checks: [~]}]}]\n",
		"nats: {url: 'nats://127.0.0.1:4222'}\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		walked, decoded, walkErrs, decodeErrs, _ := decodeBothWays[Config](t, data)
		if !reflect.DeepEqual(walked, decoded) || !reflect.DeepEqual(walkErrs, decodeErrs) {
			t.Fatalf("the walk decoded\n%+v (%v)\nNode.Decode\n%+v (%v)", walked, walkErrs, decoded, decodeErrs)
		}
		role, roleDecoded, roleErrs, roleDecodeErrs, _ := decodeBothWays[GlobalRole](t, data)
		if !reflect.DeepEqual(role, roleDecoded) || !reflect.DeepEqual(roleErrs, roleDecodeErrs) {
			t.Fatalf("the walk decoded\n%+v (%v)\nNode.Decode\n%+v (%v)", role, roleErrs, roleDecoded, roleDecodeErrs)
		}
	})
}
