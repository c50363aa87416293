package msgprobe

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// The RoundTrip benchmarks run the probe with persistent: true and one message
// per run; the Bare ones do the same publish and receive with the client
// library alone. The difference is what the probe adds per run.

func benchProbe(b *testing.B, cfg *Config) {
	cfg.Persistent, cfg.Messages = true, 1
	p, err := New(cfg, testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		runCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r := p.Probe(runCtx)
		cancel()
		if !r.Success {
			b.Fatal(r.Err)
		}
	}
}

// benchPayload is a payload of the probe's size.
var benchPayload = []byte("vigil1.test-agent-127-0-0-1-1a2b3c4d.2kq8d0x1.1.1764000000123456789.deadbeef")

func receive(b *testing.B, ch <-chan []byte) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		b.Fatal("message not received within 5s")
	}
}

func BenchmarkRoundTripNATS(b *testing.B) {
	benchProbe(b, &Config{Protocol: "nats", URL: requireBroker(b, envNATS, defaultNATS), Subject: uniqueTopic(b)})
}

func BenchmarkBareNATS(b *testing.B) {
	nc, err := nats.Connect(requireBroker(b, envNATS, defaultNATS))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	subject := uniqueTopic(b)
	ch := make(chan []byte, 1)
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) { ch <- m.Data }); err != nil {
		b.Fatal(err)
	}
	nc.Flush()
	b.ReportAllocs()
	for b.Loop() {
		if err := nc.Publish(subject, benchPayload); err != nil {
			b.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
		receive(b, ch)
	}
}

func BenchmarkRoundTripJetStream(b *testing.B) {
	url := requireBroker(b, envNATS, defaultNATS)
	b.Cleanup(func() { deleteStream(b, url, "VIGIL_BENCH") })
	benchProbe(b, &Config{Protocol: "jetstream", URL: url, Subject: uniqueTopic(b), NATSOptions: NATSOptions{Stream: "VIGIL_BENCH"}})
}

func BenchmarkBareJetStream(b *testing.B) {
	url := requireBroker(b, envNATS, defaultNATS)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	subject := uniqueTopic(b)
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "VIGIL_BENCH_BARE", Subjects: []string{subject}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deleteStream(b, url, "VIGIL_BENCH_BARE") })
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan []byte, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) { ch <- m.Data() })
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cc.Stop(); <-cc.Closed() }()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := js.Publish(ctx, subject, benchPayload); err != nil {
			b.Fatal(err)
		}
		receive(b, ch)
	}
}

func BenchmarkRoundTripMQTT(b *testing.B) {
	benchProbe(b, &Config{Protocol: "mqtt", URL: requireBroker(b, envMQTT, defaultMQTT), Topic: strings.ReplaceAll(uniqueTopic(b), ".", "/")})
}

func BenchmarkBareMQTT(b *testing.B) {
	url := requireBroker(b, envMQTT, defaultMQTT)
	topic := strings.ReplaceAll(uniqueTopic(b), ".", "/")
	c := paho3.NewClient(paho3.NewClientOptions().AddBroker(url).SetClientID("vigil-bench-bare").SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(250)
	ch := make(chan []byte, 1)
	if tok := c.Subscribe(topic, 1, func(_ paho3.Client, m paho3.Message) { ch <- m.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	b.ReportAllocs()
	for b.Loop() {
		if tok := c.Publish(topic, 1, false, benchPayload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			b.Fatalf("publish: %v", tok.Error())
		}
		receive(b, ch)
	}
}

func BenchmarkRoundTripMQTT5(b *testing.B) {
	benchProbe(b, &Config{Protocol: "mqtt", URL: requireBroker(b, envMQTT, defaultMQTT), Topic: strings.ReplaceAll(uniqueTopic(b), ".", "/"),
		MQTTOptions: MQTTOptions{MQTTVersion: "5"}})
}

func BenchmarkBareMQTT5(b *testing.B) {
	url := requireBroker(b, envMQTT, defaultMQTT)
	topic := strings.ReplaceAll(uniqueTopic(b), ".", "/")
	s := mqttSettings{broker: mustParseURL(b, url)}
	ctx := context.Background()
	conn, err := s.dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan []byte, 1)
	c := paho5.NewClient(paho5.ClientConfig{Conn: conn, OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
		func(pr paho5.PublishReceived) (bool, error) { ch <- pr.Packet.Payload; return true, nil },
	}})
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: "vigil-bench-bare5", CleanStart: true, KeepAlive: 30}); err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(&paho5.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: benchPayload}); err != nil {
			b.Fatal(err)
		}
		receive(b, ch)
	}
}

func BenchmarkRoundTripAMQP(b *testing.B) {
	benchProbe(b, &Config{Protocol: "amqp", URL: requireBroker(b, envAMQP, defaultAMQP), Topic: uniqueTopic(b)})
}

func BenchmarkBareAMQP(b *testing.B) {
	conn, err := amqp.Dial(requireBroker(b, envAMQP, defaultAMQP))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	key := uniqueTopic(b)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, key, "amq.topic", false, nil); err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "amq.topic", key, true, false, amqp.Publishing{ContentType: "text/plain", Body: benchPayload})
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			b.Fatalf("confirm: %v %v", ok, err)
		}
		select {
		case <-deliveries:
		case <-time.After(5 * time.Second):
			b.Fatal("not delivered in 5s")
		}
	}
}

func BenchmarkRoundTripRedis(b *testing.B) {
	benchProbe(b, &Config{Protocol: "redis", URL: requireBroker(b, envRedis, defaultRedis), Topic: uniqueTopic(b)})
}

func BenchmarkBareRedis(b *testing.B) {
	c := redisAdmin(b, requireBroker(b, envRedis, defaultRedis))
	ctx := context.Background()
	channel := uniqueTopic(b)
	ps := c.Subscribe(ctx, channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Publish(ctx, channel, benchPayload).Err(); err != nil {
			b.Fatal(err)
		}
		if _, err := ps.ReceiveMessage(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundTripRedisStream(b *testing.B) {
	url := requireBroker(b, envRedis, defaultRedis)
	topic := uniqueTopic(b)
	b.Cleanup(func() { redisAdmin(b, url).Del(context.Background(), topic) })
	benchProbe(b, &Config{Protocol: "redis-stream", URL: url, Topic: topic})
}

func BenchmarkBareRedisStream(b *testing.B) {
	c := redisAdmin(b, requireBroker(b, envRedis, defaultRedis))
	ctx := context.Background()
	stream := uniqueTopic(b)
	b.Cleanup(func() { c.Del(context.Background(), stream) })
	last := "0-0"
	b.ReportAllocs()
	for b.Loop() {
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, MaxLen: 1000, Approx: true, Values: []any{"payload", benchPayload}}).Err(); err != nil {
			b.Fatal(err)
		}
		res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Count: 100, Block: time.Second}).Result()
		if err != nil {
			b.Fatal(err)
		}
		last = res[0].Messages[len(res[0].Messages)-1].ID
	}
}

func mustParseURL(b *testing.B, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	return u
}
