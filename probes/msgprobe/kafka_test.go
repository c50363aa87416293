package msgprobe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Kafka is not packaged for this machine: the tests run franz-go's in-process
// fake cluster (kfake), which speaks the real wire protocol on 127.0.0.1.

const kafkaTestTopic = "vigil.kafka.test"

// newKafkaCluster starts a cluster with kafkaTestTopic in partitions
// partitions, plus opts, and closes it when the test ends.
func newKafkaCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, kafkaTestTopic)}, opts...)
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

func kafkaTestConfig(t testing.TB, cluster *kfake.Cluster, acks string) *Config {
	t.Helper()
	return &Config{
		Protocol:     "kafka",
		URL:          "kafka://" + strings.Join(cluster.ListenAddrs(), ","),
		Topic:        kafkaTestTopic,
		KafkaOptions: KafkaOptions{Acks: acks},
	}
}

func TestKafkaTransportDeliversInOrder(t *testing.T) {
	tests := []struct {
		name       string
		partitions int32
		acks       string
		sasl       bool
	}{
		{name: "one partition, acks default", partitions: 1},
		// The check's record key keeps its records in one partition, in order.
		{name: "three partitions, acks leader", partitions: 3, acks: "leader"},
		{name: "acks none", partitions: 1, acks: "none"},
		{name: "acks all with SASL PLAIN", partitions: 2, acks: "all", sasl: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []kfake.Opt
			if tt.sasl {
				opts = append(opts, kfake.EnableSASL(), kfake.Superuser("PLAIN", "vigil", "s3cret-pass"))
			}
			cfg := kafkaTestConfig(t, newKafkaCluster(t, tt.partitions, opts...), tt.acks)
			if tt.sasl {
				cfg.Username, cfg.Password = "vigil", "s3cret-pass"
			}
			tr, got := startTransport(t, cfg)
			want := testPayloadsMore(5)
			publishAll(t, tr, want)
			assertSame(t, got.waitFor(t, len(want), 10*time.Second), asStrings(want))
		})
	}
}

// Records already in the topic when Subscribe runs belong to earlier runs and
// must not be delivered.
func TestKafkaSubscribeStartsAtEnd(t *testing.T) {
	cfg := kafkaTestConfig(t, newKafkaCluster(t, 2), "")
	old, _ := startTransport(t, cfg)
	publishAll(t, old, testPayloadsMore(4))

	tr, got := startTransport(t, cfg)
	want := testPayloadsMore(2)
	publishAll(t, tr, want)
	assertSame(t, got.waitFor(t, len(want), 10*time.Second), asStrings(want))
}

func TestKafkaErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(t *testing.T) *Config
		failsIn string // Connect or Subscribe
		want    []string
	}{
		{
			name: "wrong SASL password",
			cfg: func(t *testing.T) *Config {
				cluster := newKafkaCluster(t, 1, kfake.EnableSASL(), kfake.Superuser("PLAIN", "vigil", "right"))
				cfg := kafkaTestConfig(t, cluster, "")
				cfg.Username, cfg.Password = "vigil", "wrong-secret"
				return cfg
			},
			failsIn: "Connect",
			want:    []string{"connect to 127.0.0.1:", "SASL"},
		},
		{
			name: "missing topic",
			cfg: func(t *testing.T) *Config {
				cfg := kafkaTestConfig(t, newKafkaCluster(t, 1), "")
				cfg.Topic = "no.such.topic"
				return cfg
			},
			failsIn: "Subscribe",
			want:    []string{"subscribe to topic no.such.topic", "UNKNOWN_TOPIC_OR_PARTITION"},
		},
		{
			name: "broker down",
			cfg: func(t *testing.T) *Config {
				return &Config{Protocol: "kafka", URL: "kafka://" + closedPortAddr(t), Topic: kafkaTestTopic}
			},
			failsIn: "Connect",
			want:    []string{"connect to 127.0.0.1:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			tr, err := buildTransport(cfg, testOptions(t))
			if err != nil {
				t.Fatalf("buildTransport: %v", err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err = tr.Connect(ctx)
			if tt.failsIn == "Subscribe" {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				err = tr.Subscribe(ctx, func([]byte) {})
			}
			if err == nil {
				t.Fatalf("%s succeeded, want an error", tt.failsIn)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// Close must return promptly even when the cluster vanished under the client.
func TestKafkaCloseAfterBrokerGone(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTestTopic))
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := startTransport(t, kafkaTestConfig(t, cluster, ""))
	cluster.Close()
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v, want under 3s", d)
	}
}

func TestKafkaFactoryValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{name: "valid with two seeds", cfg: Config{URL: "kafka://127.0.0.1:9092,127.0.0.2:9093", Topic: "t"}},
		{name: "subject alias", cfg: Config{URL: "kafka://127.0.0.1:9092", Subject: "t"}},
		{name: "wrong scheme", cfg: Config{URL: "tcp://127.0.0.1:9092", Topic: "t"}, paths: []string{"url"}},
		{name: "missing port", cfg: Config{URL: "kafka://127.0.0.1", Topic: "t"}, paths: []string{"url"}},
		{name: "user in url", cfg: Config{URL: "kafka://u:p@127.0.0.1:9092", Topic: "t"}, paths: []string{"url"}},
		{name: "no topic", cfg: Config{URL: "kafka://127.0.0.1:9092"}, paths: []string{"topic"}},
		{name: "bad acks", cfg: Config{URL: "kafka://127.0.0.1:9092", Topic: "t", KafkaOptions: KafkaOptions{Acks: "some"}}, paths: []string{"acks"}},
		{name: "password without username", cfg: Config{URL: "kafka://127.0.0.1:9092", Topic: "t", Password: "x"}, paths: []string{"username"}},
		{name: "unreadable ca", cfg: Config{URL: "kafka://127.0.0.1:9092", Topic: "t", TLSConfig: &probeconfig.TLSConfig{CAFile: "/nonexistent/ca.pem"}}, paths: []string{"tls_config.ca_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Protocol = "kafka"
			_, err := buildTransport(&tt.cfg, probes.Options{})
			assertFieldPaths(t, err, tt.paths)
		})
	}
}

// assertFieldPaths checks that err holds exactly one FieldError per path, in
// any order; no paths means no error.
func assertFieldPaths(t *testing.T, err error, paths []string) {
	t.Helper()
	var got []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		var fe *probeconfig.FieldError
		if errors.As(e, &fe) {
			got = append(got, fe.Path)
			return
		}
		t.Errorf("error %q is not a FieldError", e)
	}
	if err != nil {
		walk(err)
	}
	if strings.Join(got, ",") != strings.Join(paths, ",") {
		t.Errorf("error paths = %q, want %q (error: %v)", got, paths, err)
	}
}

func TestKafkaProbeRoundTrip(t *testing.T) {
	cfg := kafkaTestConfig(t, newKafkaCluster(t, 3), "")
	cfg.Messages = 5
	r := runRoundTrip(t, cfg)
	assertRoundTrip(t, r, 5)
	if r.Messaging.Protocol != "kafka" {
		t.Errorf("Protocol = %q, want kafka", r.Messaging.Protocol)
	}
}
