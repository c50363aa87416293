package msgprobe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSRoundTrip(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	tests := []struct {
		name     string
		protocol string
		messages int
		stream   string
	}{
		{name: "core one message", protocol: "nats", messages: 1},
		{name: "core default three", protocol: "nats"},
		{name: "core fifty", protocol: "nats", messages: 50},
		{name: "jetstream default stream", protocol: "jetstream", messages: 3},
		{name: "jetstream named stream", protocol: "jetstream", messages: 5, stream: "VIGIL_TEST_NAMED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subject := uniqueTopic(t)
			cfg := &Config{Protocol: tc.protocol, URL: url, Subject: subject, Messages: tc.messages}
			cfg.Stream = tc.stream
			if tc.protocol == "jetstream" {
				stream := tc.stream
				if stream == "" {
					stream = "vigil_" + strings.ReplaceAll(subject, ".", "_")
				}
				t.Cleanup(func() { deleteStream(t, url, stream) })
			}
			r := runRoundTrip(t, cfg)
			assertRoundTrip(t, r, cfg.messages())
			if r.Messaging.Protocol != tc.protocol {
				t.Errorf("Protocol = %q, want %q", r.Messaging.Protocol, tc.protocol)
			}
		})
	}
}

// TestJetStreamConsumerDeleted checks Close removes the probe's consumer and a
// created stream holds the subject.
func TestJetStreamConsumerDeleted(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	subject := uniqueTopic(t)
	stream := "VIGIL_TEST_CONSUMERS"
	t.Cleanup(func() { deleteStream(t, url, stream) })
	cfg := &Config{Protocol: "jetstream", URL: url, Subject: subject, Messages: 2, NATSOptions: NATSOptions{Stream: stream}}
	assertRoundTrip(t, runRoundTrip(t, cfg), 2)

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s was not created: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("stream %s has %d consumers after Close, want 0", stream, info.State.Consumers)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream %s holds %d messages, want the 2 published", stream, info.State.Msgs)
	}
	if len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != subject {
		t.Errorf("stream subjects = %v, want [%s]", info.Config.Subjects, subject)
	}
}

func TestNATSBrokerDown(t *testing.T) {
	for _, protocol := range []string{"nats", "jetstream"} {
		t.Run(protocol, func(t *testing.T) {
			cfg := &Config{Protocol: protocol, URL: "nats://" + closedPortAddr(t), Subject: "vigil.down"}
			begin := time.Now()
			r := runRoundTripWith(t, cfg, testOptions(t), 3*time.Second)
			if r.Success {
				t.Fatal("run against a closed port passed")
			}
			if took := time.Since(begin); took > 3500*time.Millisecond {
				t.Errorf("failing run took %v, want within the 3s timeout", took)
			}
			msg := r.ErrorString()
			for _, want := range []string{protocol + " probe " + testOptions(t).CheckID + ": connect nats://127.0.0.1:", "connection refused"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if _, ok := r.Phase("connect"); !ok {
				t.Error("connect phase missing from a failed connect")
			}
		})
	}
}

func deleteStream(t testing.TB, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Logf("cleanup: connect: %v", err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Logf("cleanup: delete stream %s: %v", stream, err)
	}
}

// TestNATSWithoutDeadline: a context without deadline still works (nats.go's
// flush demands one; the transport supplies a default).
func TestNATSWithoutDeadline(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	p, err := New(&Config{Protocol: "nats", URL: url, Subject: uniqueTopic(t)}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	assertRoundTrip(t, p.Probe(context.Background()), 3)
}
