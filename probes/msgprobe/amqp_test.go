package msgprobe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func TestAMQPRoundTrip(t *testing.T) {
	url := requireBroker(t, envAMQP, defaultAMQP)
	no := false
	tests := []struct {
		name     string
		exchange string
		noMand   bool
		messages int
		creds    bool // credentials from username/password keys instead of the url
	}{
		{name: "amq.topic default", messages: 3},
		{name: "amq.direct", exchange: "amq.direct", messages: 3},
		{name: "not mandatory", noMand: true, messages: 2},
		{name: "hundred messages", messages: 100},
		{name: "credentials as keys", messages: 1, creds: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{Protocol: "amqp", URL: url, Topic: uniqueTopic(t), Messages: tc.messages,
				AMQPOptions: AMQPOptions{Exchange: tc.exchange}}
			if tc.noMand {
				cfg.Mandatory = &no
			}
			if tc.creds {
				cfg.URL = strings.Replace(url, "guest:guest@", "", 1)
				cfg.Username, cfg.Password = "guest", "guest"
			}
			assertRoundTrip(t, runRoundTrip(t, cfg), tc.messages)
		})
	}
}

// TestAMQPUnroutable publishes without a bound queue: with mandatory the broker
// returns the message and Publish reports ErrUnroutable.
func TestAMQPUnroutable(t *testing.T) {
	url := requireBroker(t, envAMQP, defaultAMQP)
	cfg := &Config{Protocol: "amqp", URL: url, Topic: uniqueTopic(t)}
	tr, err := buildTransport(cfg, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err = tr.Publish(ctx, []byte("vigil1.test.run.1.0.deadbeef"))
		if !errors.Is(err, ErrUnroutable) {
			t.Fatalf("publish %d: err = %v, want ErrUnroutable", i, err)
		}
		if !strings.Contains(err.Error(), "312 NO_ROUTE") {
			t.Errorf("error %q does not name the broker's reply", err)
		}
	}
}

func TestAMQPFailures(t *testing.T) {
	url := requireBroker(t, envAMQP, defaultAMQP)
	tests := []struct {
		name    string
		cfg     Config
		want    []string
		notWant string
	}{
		{
			name: "broker down",
			cfg:  Config{URL: "amqp://guest:guest@" + closedPortAddr(t) + "/"},
			want: []string{"connect amqp://127.0.0.1:", "connection refused"},
		},
		{
			name:    "wrong password in url",
			cfg:     Config{URL: strings.Replace(url, "guest:guest@", "guest:Wr0ngPassw0rd@", 1)},
			want:    []string{"connect amqp://127.0.0.1:5672/", "username or password not allowed"},
			notWant: "Wr0ngPassw0rd",
		},
		{
			name:    "wrong password key",
			cfg:     Config{URL: strings.Replace(url, "guest:guest@", "", 1), Username: "guest", Password: probeconfig.Secret("Wr0ngPassw0rd")},
			want:    []string{"username or password not allowed"},
			notWant: "Wr0ngPassw0rd",
		},
		{
			name: "missing exchange",
			cfg:  Config{URL: url, AMQPOptions: AMQPOptions{Exchange: "vigil.no.such.exchange"}},
			want: []string{"subscribe vigil.test.", "bind queue to exchange vigil.no.such.exchange", "NOT_FOUND"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Protocol, cfg.Topic = "amqp", uniqueTopic(t)
			begin := time.Now()
			r := runRoundTripWith(t, &cfg, testOptions(t), 3*time.Second)
			if r.Success {
				t.Fatal("run passed")
			}
			if took := time.Since(begin); took > 3500*time.Millisecond {
				t.Errorf("failing run took %v, want within the 3s timeout", took)
			}
			msg := r.ErrorString()
			for _, want := range append(tc.want, "amqp probe "+testOptions(t).CheckID+": ") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
				t.Errorf("error %q shows the secret", msg)
			}
		})
	}
}

// TestAMQPQueueRemovedAtClose: the probe's private queue is gone after Close.
func TestAMQPQueueRemovedAtClose(t *testing.T) {
	url := requireBroker(t, envAMQP, defaultAMQP)
	cfg := &Config{Protocol: "amqp", URL: url, Topic: uniqueTopic(t)}
	tr, err := buildTransport(cfg, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Subscribe(ctx, func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	queue := tr.(*amqpTransport).queue
	if !strings.HasPrefix(queue, "amq.gen-") {
		t.Errorf("queue %q is not server-named", queue)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive(queue, false, true, true, false, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
		t.Errorf("passive declare of %s after Close: %v, want 404 NOT_FOUND", queue, err)
	}
}
