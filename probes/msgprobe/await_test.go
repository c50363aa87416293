package msgprobe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func TestAwaitValidate(t *testing.T) {
	nats := Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Subject: "app.messages"}
	tests := []struct {
		name  string
		edit  func(c *Config)
		path  string // "" when valid
		inMsg string
	}{
		{"contains", func(c *Config) { c.Await = &AwaitOptions{Contains: "x"} }, "", ""},
		{"jetstream lookback", func(c *Config) {
			c.Protocol, c.Await = "jetstream", &AwaitOptions{Match: `"id":\d+`, Lookback: probeconfig.Duration(time.Minute)}
		}, "", ""},
		{"nothing awaited", func(c *Config) { c.Await = &AwaitOptions{} }, "await", "needs contains or match"},
		{"bad regexp", func(c *Config) { c.Await = &AwaitOptions{Match: "("} }, "await.match", "bad regexp"},
		{"lookback on core nats", func(c *Config) { c.Await = &AwaitOptions{Contains: "x", Lookback: probeconfig.Duration(time.Second)} }, "await.lookback", "only for protocol jetstream"},
		{"messages", func(c *Config) { c.Await, c.Messages = &AwaitOptions{Contains: "x"}, 2 }, "messages", "do not apply with await"},
		{"persistent", func(c *Config) { c.Await, c.Persistent = &AwaitOptions{Contains: "x"}, true }, "persistent", "does not apply with await"},
		{"topicless", func(c *Config) {
			c.Protocol, c.URL, c.Subject, c.Await = "websocket", "ws://127.0.0.1:1/", "", &AwaitOptions{Contains: "x"}
		}, "await", "not for protocol websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nats
			tt.edit(&c)
			err := c.Validate()
			if tt.path == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.path+": ") || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("Validate = %v, want %s: ...%s...", err, tt.path, tt.inMsg)
			}
		})
	}
}

// TestAwaitJetStream: a message published before the run (as a journey's
// earlier step makes the application publish it) is found within lookback;
// a run awaiting one that never came fails naming what it waited for.
func TestAwaitJetStream(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	subject := uniqueTopic(t)
	stream := "VIGIL_TEST_AWAIT_" + strings.ReplaceAll(subject[len("vigil.test."):], ".", "_")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteStream(t, url, stream) })
	for _, text := range []string{"older", `{"id":7,"text":"hello-run-1"}`} {
		if _, err := js.Publish(ctx, subject, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}

	opts := testOptions(t)
	opts.Capture = true
	cfg := &Config{Protocol: "jetstream", URL: url, Subject: subject, NATSOptions: NATSOptions{Stream: stream}, Await: &AwaitOptions{Contains: "hello-run-1"}}
	r := runRoundTripWith(t, cfg, opts, 5*time.Second)
	if !r.Success || r.Captured == nil || string(r.Captured.Body) != `{"id":7,"text":"hello-run-1"}` || r.Messaging.Received != 1 {
		t.Fatalf("await = success %v, err %v, captured %+v", r.Success, r.Err, r.Captured)
	}
	if got := []string{r.Phases[0].Name, r.Phases[1].Name, r.Phases[2].Name}; strings.Join(got, ",") != "connect,subscribe,deliver" {
		t.Errorf("phases = %v", got)
	}

	cfg.Await = &AwaitOptions{Contains: "hello-run-2"}
	r = runRoundTripWith(t, cfg, testOptions(t), 300*time.Millisecond)
	want := `jetstream probe ` + testOptions(t).CheckID + `: no message containing "hello-run-2" arrived on ` + subject
	if r.Success || r.TimedOut || !strings.HasPrefix(r.ErrorString(), want) || r.Captured != nil {
		t.Fatalf("await of a missing message = success %v, timed out %v, err %q; want a failure %q", r.Success, r.TimedOut, r.ErrorString(), want)
	}
}

// TestAwaitCoreNATS: core NATS keeps nothing, so an await sees what arrives
// after it subscribed; the test publishes until the run is over (bounded).
func TestAwaitCoreNATS(t *testing.T) {
	url := requireBroker(t, envNATS, defaultNATS)
	subject := uniqueTopic(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	done := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range 500 {
			select {
			case <-done:
				return
			case <-tick.C:
				nc.Publish(subject, []byte("noise"))
				nc.Publish(subject, []byte("order 42 shipped"))
			}
		}
	}()
	cfg := &Config{Protocol: "nats", URL: url, Subject: subject, Await: &AwaitOptions{Match: `order (\d+) shipped`}}
	r := runRoundTripWith(t, cfg, testOptions(t), 5*time.Second)
	close(done)
	<-published
	if !r.Success || r.Captured != nil {
		t.Fatalf("await = success %v, err %v, captured %+v (Capture not asked for)", r.Success, r.Err, r.Captured)
	}
}
