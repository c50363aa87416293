package blackboximport

import (
	"maps"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRelabel applies single rules as Prometheus' relabel.Process does.
func TestRelabel(t *testing.T) {
	in := map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml"}
	tests := []struct {
		name string
		rule string
		want map[string]string // nil: dropped
	}{
		{"replace defaults copy", "{source_labels: [__address__], target_label: __param_target}",
			map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml", "__param_target": "http_2xx:example.com"}},
		{"replace with groups", `{source_labels: [__address__], regex: '([^:]+):(.*)', target_label: __param_module, replacement: '$1'}`,
			map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml", "__param_module": "http_2xx"}},
		{"replace anchored: no match, no change", `{source_labels: [env], regex: 'rod', target_label: x}`,
			map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml"}},
		{"replace to empty deletes", `{target_label: env, replacement: ''}`,
			map[string]string{"__address__": "http_2xx:example.com", "__meta_filepath": "a.yml"}},
		{"joined with separator", `{source_labels: [env, __address__], separator: '|', regex: 'Prod\|.*', target_label: ok, replacement: yes}`,
			map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml", "ok": "yes"}},
		{"keep matching", `{source_labels: [env], regex: Prod, action: keep}`, in},
		{"keep not matching drops", `{source_labels: [env], regex: prod, action: keep}`, nil},
		{"drop matching", `{source_labels: [env], regex: 'P.*', action: drop}`, nil},
		{"lowercase", `{source_labels: [env], target_label: env, action: lowercase}`,
			map[string]string{"__address__": "http_2xx:example.com", "env": "prod", "__meta_filepath": "a.yml"}},
		{"labelmap", `{regex: '__meta_(.*)', action: labelmap}`,
			map[string]string{"__address__": "http_2xx:example.com", "env": "Prod", "__meta_filepath": "a.yml", "filepath": "a.yml"}},
		{"labeldrop", `{regex: 'env', action: labeldrop}`,
			map[string]string{"__address__": "http_2xx:example.com", "__meta_filepath": "a.yml"}},
		{"keepequal", `{source_labels: [env], target_label: env, action: keepequal}`, in},
		{"dropequal", `{source_labels: [env], target_label: env, action: dropequal}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.rule), &n); err != nil {
				t.Fatal(err)
			}
			rule, err := readRelabel(resolve(&n))
			if err != nil {
				t.Fatal(err)
			}
			labels := maps.Clone(in)
			kept := rule.apply(labels)
			switch {
			case tt.want == nil && kept:
				t.Errorf("kept %v, want dropped", labels)
			case tt.want != nil && !kept:
				t.Errorf("dropped, want %v", tt.want)
			case tt.want != nil && !maps.Equal(labels, tt.want):
				t.Errorf("labels = %v, want %v", labels, tt.want)
			}
		})
	}
}

// TestKindTarget checks what each prober accepts as a target.
func TestKindTarget(t *testing.T) {
	tests := []struct {
		kind, target, want, wantErr string
	}{
		{"http", "example.com/health", "http://example.com/health", ""},
		{"http", "https://example.com", "https://example.com", ""},
		{"http", "ftp://example.com", "", "not an http:// or https:// URL"},
		{"http", "not a url", "", "not a URL"},
		{"tcp", "mail.example.com:25", "mail.example.com:25", ""},
		{"tcp", "mail.example.com", "", "not host:port, which the tcp prober needs"},
		{"grpc", "[::1]:8443", "[::1]:8443", ""},
		{"dns", "10.0.0.53", "10.0.0.53", ""},
		{"dns", "10.0.0.53:0", "", `bad port "0"`},
		{"icmp", "10.0.0.1", "10.0.0.1", ""},
		{"icmp", "https://example.com", "", "not a host (no port, no URL), which the icmp prober needs"},
	}
	for _, tt := range tests {
		got, _, err := kindTarget(tt.kind, tt.target)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tt.want || errText != tt.wantErr {
			t.Errorf("kindTarget(%s, %q) = %q, %q; want %q, %q", tt.kind, tt.target, got, errText, tt.want, tt.wantErr)
		}
	}
}
