package msgprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// KafkaOptions are the Kafka-specific keys of a messaging block.
type KafkaOptions struct {
	// Acks is how many replicas must store a record before Publish returns:
	// "all" (the default: every in-sync replica), "leader" or "none".
	Acks string `yaml:"acks,omitempty" json:"acks,omitempty"`
}

// kafkaAcks maps the acks key to franz-go's settings.
var kafkaAcks = map[string]kgo.Acks{
	"all":    kgo.AllISRAcks(),
	"leader": kgo.LeaderAck(),
	"none":   kgo.NoAck(),
}

// kafkaTransport publishes records to one topic and consumes them back with a
// plain (group-less) consumer that starts at the end offsets read in Subscribe,
// so each run sees only the records produced after it subscribed.
type kafkaTransport struct {
	*kafkaSettings

	client *kgo.Client
	cancel context.CancelFunc // stops the poll loop
	done   chan struct{}      // closed when the poll loop has returned
}

// kafkaSettings are a Kafka check's settings, compiled once.
type kafkaSettings struct {
	checkID string
	seeds   []string
	topic   string
	// key routes every record of this check to one partition, which keeps them
	// in order: Kafka orders records only within a partition.
	key []byte
	// opts are the client's options, the same for every connection (its
	// client id has no per-connection suffix).
	opts []kgo.Opt
	// username is set when SASL PLAIN is used.
	username string
	log      *slog.Logger
}

func compileKafka(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	seeds, err := parseKafkaURL(cfg.URL)
	if err != nil {
		errs = append(errs, err)
	}
	topic := cfg.topic()
	if topic == "" {
		errs = append(errs, probeconfig.Errorf("topic", "required for protocol kafka"))
	}
	acks := cfg.Acks
	if acks == "" {
		acks = "all"
	}
	ack, ok := kafkaAcks[acks]
	if !ok {
		errs = append(errs, probeconfig.Errorf("acks", "unknown value %q: want all, leader or none", cfg.Acks))
	}
	if cfg.Username == "" && sh.password != "" {
		errs = append(errs, probeconfig.Errorf("username", "required when password is set (SASL PLAIN)"))
	}
	clientOpts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(clientID(sh.agentID, sh.checkID, false)),
		kgo.RequiredAcks(ack),
	}
	// A fetch, and a batch once decompressed, holds at most max_message_bytes;
	// a broker's response may add room for the rest of it.
	limit := cfg.maxMessageBytes(defaultMaxMessageBytes)
	clientOpts = append(clientOpts,
		kgo.FetchMaxBytes(int32(limit)),
		kgo.FetchMaxPartitionBytes(int32(limit)),
		kgo.MaxDecompressBatchBytes(int(limit)),
		kgo.BrokerMaxReadBytes(int32(min(2*limit+1<<20, maxMessageBytesLimit))),
	)
	if acks != "all" {
		// Idempotent writes need acks from all in-sync replicas.
		clientOpts = append(clientOpts, kgo.DisableIdempotentWrite())
	}
	if sh.tls != nil {
		clientOpts = append(clientOpts, kgo.DialTLSConfig(sh.tls)) // franz-go clones it per connection
	}
	if cfg.Username != "" {
		auth := plain.Auth{User: cfg.Username, Pass: sh.password.Reveal()}
		clientOpts = append(clientOpts, kgo.SASL(auth.AsMechanism()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &kafkaSettings{
		checkID:  sh.checkID,
		seeds:    seeds,
		topic:    topic,
		key:      []byte(sh.agentID + "/" + sh.checkID),
		opts:     clientOpts,
		username: cfg.Username,
		log:      sh.log,
	}
	return func() Transport { return &kafkaTransport{kafkaSettings: s} }, nil
}

// parseKafkaURL reads kafka://host:port[,host:port...] into seed addresses.
// net/url would take the comma-separated list for one host, hence the hand
// parsing.
func parseKafkaURL(raw string) ([]string, error) {
	rest, ok := strings.CutPrefix(raw, "kafka://")
	if !ok {
		return nil, probeconfig.Errorf("url", "want kafka://host:port[,host:port...], got %s", redactURL(raw))
	}
	if strings.ContainsAny(rest, "/@?#") {
		return nil, probeconfig.Errorf("url", "want only host:port pairs after kafka:// (no user, path or query; use username and password)")
	}
	var seeds []string
	for _, hostPort := range strings.Split(rest, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(hostPort))
		if err != nil || host == "" {
			return nil, probeconfig.Errorf("url", "bad broker address %q: want host:port", hostPort)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, probeconfig.Errorf("url", "bad port in %q", hostPort)
		}
		seeds = append(seeds, net.JoinHostPort(host, port))
	}
	return seeds, nil
}

// Connect creates the client and asks a broker for metadata, which proves the
// address, TLS and SASL credentials.
func (k *kafkaTransport) Connect(ctx context.Context) error {
	client, err := kgo.NewClient(k.opts...)
	if err != nil {
		return fmt.Errorf("create client for %s: %w", strings.Join(k.seeds, ","), err)
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		if k.username != "" && errors.Is(err, io.EOF) {
			// Some brokers drop the connection on a failed SASL exchange
			// rather than answer it.
			return fmt.Errorf("connect to %s as %s: broker closed the connection during SASL PLAIN authentication (wrong username or password?): %w", strings.Join(k.seeds, ","), k.username, err)
		}
		return fmt.Errorf("connect to %s: %w", strings.Join(k.seeds, ","), err)
	}
	k.client = client
	return nil
}

// Subscribe reads the topic's partitions and their end offsets, then consumes
// every partition from there.
func (k *kafkaTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	if k.client == nil {
		return fmt.Errorf("subscribe to topic %s: not connected", k.topic)
	}
	ends, err := k.endOffsets(ctx)
	if err != nil {
		return fmt.Errorf("subscribe to topic %s: %w", k.topic, err)
	}
	start := make(map[int32]kgo.Offset, len(ends))
	for partition, offset := range ends {
		start[partition] = kgo.NewOffset().At(offset)
	}
	k.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: start})

	pollCtx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	k.done = make(chan struct{})
	go k.poll(pollCtx, deliver)
	return nil
}

// poll delivers records until Close cancels ctx.
func (k *kafkaTransport) poll(ctx context.Context, deliver func(payload []byte)) {
	defer close(k.done)
	for ctx.Err() == nil {
		fetches := k.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			k.log.Debug("kafka fetch failed", "check", k.checkID, "topic", topic, "partition", partition, "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) { deliver(r.Value) })
	}
}

// endOffsets returns the next offset of every partition of the topic.
func (k *kafkaTransport) endOffsets(ctx context.Context) (map[int32]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	reqTopic := kmsg.NewMetadataRequestTopic()
	reqTopic.Topic = kmsg.StringPtr(k.topic)
	meta.Topics = append(meta.Topics, reqTopic)
	metaResp, err := meta.RequestWith(ctx, k.client)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(metaResp.Topics) != 1 {
		return nil, fmt.Errorf("metadata: broker answered for %d topics, want 1", len(metaResp.Topics))
	}
	if err := kerr.ErrorForCode(metaResp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}

	list := kmsg.NewPtrListOffsetsRequest()
	listTopic := kmsg.NewListOffsetsRequestTopic()
	listTopic.Topic = k.topic
	for _, p := range metaResp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // latest
		listTopic.Partitions = append(listTopic.Partitions, lp)
	}
	list.Topics = append(list.Topics, listTopic)
	// The client splits the request by partition leader and merges the answers.
	listResp, err := list.RequestWith(ctx, k.client)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	ends := make(map[int32]int64)
	for _, t := range listResp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list end offset of partition %d: %w", p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	if len(ends) != len(metaResp.Topics[0].Partitions) {
		return nil, fmt.Errorf("list end offsets: got %d of %d partitions", len(ends), len(metaResp.Topics[0].Partitions))
	}
	return ends, nil
}

// Publish produces one record and waits for the configured acks.
func (k *kafkaTransport) Publish(ctx context.Context, payload []byte) error {
	if k.client == nil {
		return fmt.Errorf("publish to topic %s: not connected", k.topic)
	}
	record := &kgo.Record{Topic: k.topic, Key: k.key, Value: payload}
	if err := k.client.ProduceSync(ctx, record).FirstErr(); err != nil {
		return fmt.Errorf("publish to topic %s: %w", k.topic, err)
	}
	return nil
}

// Close stops the poll loop, then closes the client; nothing is delivered after
// it returns. Records stay in the topic: Kafka's retention removes them.
func (k *kafkaTransport) Close() error {
	if k.cancel != nil {
		k.cancel()
		<-k.done
		k.cancel = nil
	}
	if k.client != nil {
		k.client.Close()
		k.client = nil
	}
	return nil
}
