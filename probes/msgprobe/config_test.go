package msgprobe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func intPtr(i int) *int { return &i }

func TestValidate(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		// want maps each expected error path to a substring of its message;
		// empty means valid.
		want map[string]string
	}{
		{name: "nats minimal", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Subject: "vigil.talk"}},
		{name: "mqtt full", cfg: Config{Protocol: "mqtt", URL: "ssl://127.0.0.1:8883", Topic: "vigil/talk", Messages: 10, MaxLoss: 2,
			Username: "u", PasswordFile: pwFile, MQTTOptions: MQTTOptions{QoS: intPtr(2), MQTTVersion: "5"}}},
		{name: "amqp", cfg: Config{Protocol: "amqp", URL: "amqp://guest:guest@127.0.0.1:5672/", Topic: "vigil.talk", AMQPOptions: AMQPOptions{Exchange: "amq.direct"}}},
		{name: "redis-stream", cfg: Config{Protocol: "redis-stream", URL: "redis://127.0.0.1:6379/0", Topic: "vigil", RedisOptions: RedisOptions{StreamMaxLen: 10}}},
		{name: "jetstream stream", cfg: Config{Protocol: "jetstream", URL: "nats://127.0.0.1:4222", Subject: "vigil.talk", NATSOptions: NATSOptions{Stream: "VIGIL"}}},
		{name: "missing everything", cfg: Config{},
			want: map[string]string{"protocol": "required: one of", "url": "required"}},
		{name: "unknown protocol", cfg: Config{Protocol: "carrier-pigeon", URL: "x://h", Topic: "t"},
			want: map[string]string{"protocol": `unknown protocol "carrier-pigeon"`}},
		{name: "scheme mismatch", cfg: Config{Protocol: "mqtt", URL: "nats://127.0.0.1:4222", Topic: "t"},
			want: map[string]string{"url": `scheme "nats" does not fit protocol mqtt`}},
		{name: "no host", cfg: Config{Protocol: "redis", URL: "redis:///0", Topic: "t"},
			want: map[string]string{"url": "no host"}},
		{name: "bad url hides password", cfg: Config{Protocol: "amqp", URL: "amqp://guest:s3cret@127.0.0.1:bad/", Topic: "t"},
			want: map[string]string{"url": "cannot parse"}},
		{name: "topic missing", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222"},
			want: map[string]string{"topic": "required for protocol nats"}},
		{name: "topic and subject", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "a", Subject: "b"},
			want: map[string]string{"subject": "set only one of topic and subject"}},
		{name: "messages range", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "a", Messages: 1001},
			want: map[string]string{"messages": "between 1 and 1000"}},
		{name: "negative messages", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "a", Messages: -1},
			want: map[string]string{"messages": "between 1 and 1000"}},
		{name: "max_loss too high", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "a", MaxLoss: 3},
			want: map[string]string{"max_loss": "less than messages (3)"}},
		{name: "password twice", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "a", Password: "x", PasswordFile: pwFile},
			want: map[string]string{"password": "set only one"}},
		{name: "password file missing", cfg: Config{Protocol: "redis", URL: "redis://127.0.0.1:6379", Topic: "a", PasswordFile: "/nonexistent/pw"},
			want: map[string]string{"password_file": "cannot read"}},
		{name: "tls config", cfg: Config{Protocol: "amqp", URL: "amqps://127.0.0.1/", Topic: "a", TLSConfig: &probeconfig.TLSConfig{MinVersion: "TLS9"}},
			want: map[string]string{"tls_config.min_version": "unknown TLS version"}},
		{name: "qos", cfg: Config{Protocol: "mqtt", URL: "tcp://127.0.0.1:1883", Topic: "a", MQTTOptions: MQTTOptions{QoS: intPtr(3)}},
			want: map[string]string{"qos": "must be 0, 1 or 2"}},
		{name: "mqtt version and wildcard", cfg: Config{Protocol: "mqtt", URL: "tcp://127.0.0.1:1883", Topic: "a/#", MQTTOptions: MQTTOptions{MQTTVersion: "4"}},
			want: map[string]string{"mqtt_version": `unknown MQTT version "4"`, "topic": "wildcards"}},
		{name: "nats wildcard subject", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Subject: "vigil.*"},
			want: map[string]string{"subject": "wildcards"}},
		{name: "stream on core nats", cfg: Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Subject: "a", NATSOptions: NATSOptions{Stream: "S"}},
			want: map[string]string{"stream": "only for protocol jetstream"}},
		{name: "bad stream name", cfg: Config{Protocol: "jetstream", URL: "nats://127.0.0.1:4222", Subject: "a", NATSOptions: NATSOptions{Stream: "a.b"}},
			want: map[string]string{"stream": "must not contain dots"}},
		{name: "stream_maxlen", cfg: Config{Protocol: "redis-stream", URL: "redis://127.0.0.1:6379", Topic: "a", RedisOptions: RedisOptions{StreamMaxLen: -5}},
			want: map[string]string{"stream_maxlen": "must not be negative"}},
		{name: "stream_maxlen below messages", cfg: Config{Protocol: "redis-stream", URL: "redis://127.0.0.1:6379", Topic: "a", Messages: 20, RedisOptions: RedisOptions{StreamMaxLen: 10}},
			want: map[string]string{"stream_maxlen": "at least messages (20)"}},
		{name: "stream_maxlen on pubsub", cfg: Config{Protocol: "redis", URL: "redis://127.0.0.1:6379", Topic: "a", RedisOptions: RedisOptions{StreamMaxLen: 5}},
			want: map[string]string{"stream_maxlen": "only for protocol redis-stream"}},
		{name: "routing key too long", cfg: Config{Protocol: "amqp", URL: "amqp://127.0.0.1/", Topic: strings.Repeat("k", 256)},
			want: map[string]string{"topic": "AMQP allows 255"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			got := map[string]string{}
			for _, e := range flatten(err) {
				var fe *probeconfig.FieldError
				if !errors.As(e, &fe) {
					t.Errorf("error %q is not a FieldError", e)
					continue
				}
				if _, dup := got[fe.Path]; dup {
					t.Errorf("path %s reported twice", fe.Path)
				}
				got[fe.Path] = fe.Err.Error()
			}
			for path, want := range tc.want {
				if !strings.Contains(got[path], want) {
					t.Errorf("error at %q = %q, want it to contain %q (all: %v)", path, got[path], want, err)
				}
			}
			for path, msg := range got {
				if _, ok := tc.want[path]; !ok {
					t.Errorf("unexpected error at %q: %s", path, msg)
				}
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// TestConfigYAML decodes a block the way the config package does (unknown keys
// are errors), which also proves the inlined option structs of all transports
// share no key.
func TestConfigYAML(t *testing.T) {
	const block = `
protocol: mqtt
url: tcp://127.0.0.1:1883
topic: vigil/talk
messages: 5
max_loss: 1
persistent: true
qos: 0
mqtt_version: "5"
clean_session: false
username: probe
password: pw
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(block))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if cfg.qos() != 0 || cfg.cleanSession() || cfg.MQTTVersion != "5" || cfg.messages() != 5 || !cfg.Persistent || cfg.Password.Reveal() != "pw" {
		t.Errorf("decoded %+v", cfg)
	}
	var defaults Config
	if defaults.qos() != 1 || !defaults.cleanSession() || defaults.messages() != 3 || defaults.exchange() != "amq.topic" || !defaults.mandatory() {
		t.Error("defaults: want qos 1, clean session, 3 messages, exchange amq.topic, mandatory")
	}
	dec = yaml.NewDecoder(strings.NewReader("protocol: nats\nqos_typo: 1\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil || !strings.Contains(err.Error(), "qos_typo") {
		t.Errorf("unknown key: err = %v, want one naming qos_typo", err)
	}
}
