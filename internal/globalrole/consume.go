package globalrole

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/global"
)

// Source is the stream of the agents' records and how to reach it.
// Secrets are resolved and the TLS config built (SourceFrom).
type Source struct {
	URL           string
	Stream        string
	SubjectPrefix string
	// CredentialsFile is a NATS .creds file (JWT and nkey seed).
	CredentialsFile string
	Username        string
	Password        string
	Token           string
	TLS             *tls.Config // nil: plain, unless URL is tls://
	Name            string      // the connection's name in the server's monitoring
}

// SourceFrom is the source a config's nats block describes.
func SourceFrom(n *config.NATS) (Source, error) {
	password, token, err := n.Secrets()
	if err != nil {
		return Source{}, err
	}
	var tlsConfig *tls.Config
	if n.TLSConfig != nil {
		if tlsConfig, err = n.TLSConfig.Build(); err != nil {
			return Source{}, fmt.Errorf("tls_config: %w", err)
		}
	}
	return Source{URL: n.URL, Stream: n.Stream, SubjectPrefix: n.SubjectPrefix, CredentialsFile: n.CredentialsFile,
		Username: n.Username, Password: password.Reveal(), Token: token.Reveal(), TLS: tlsConfig, Name: "vigil global"}, nil
}

// options are the connection's options: the client reconnects by itself
// (the ordered consumer carries on where it was), and a first connection
// that fails is retried by the consumer's loop.
func (s Source) options(log *slog.Logger) []nats.Option {
	opts := []nats.Option{nats.Name(s.Name), nats.Timeout(5 * time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed by the role
				log.Warn("global: disconnected from NATS; serving the last view", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("global: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		})}
	return append(opts, global.AuthOptions(s.CredentialsFile, s.Username, s.Password, s.Token, s.TLS)...)
}

// consumer replays the stream from its start into state, then follows
// it. Failures (NATS down, the stream missing or deleted) are logged and
// retried after a growing wait; the state keeps what it has meanwhile.
type consumer struct {
	src        Source
	st         *state
	log        *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	// streamCheck is how often the stream is looked at for a deletion or
	// a recreation.
	streamCheck time.Duration

	created  time.Time     // the stream's creation time, as last opened (session's goroutine only)
	lastSeq  atomic.Uint64 // stream sequence of the last message handled
	target   atomic.Uint64 // the stream's last sequence when the replay began
	caughtUp atomic.Bool   // the replay reached target once
}

// run consumes until ctx ends.
func (c *consumer) run(ctx context.Context) {
	backoff := c.minBackoff
	var lastMsg string
	var lastLog time.Time
	for ctx.Err() == nil {
		progressed, err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = c.minBackoff
		}
		if msg := err.Error(); msg != lastMsg || time.Since(lastLog) >= time.Minute {
			c.log.Error("global: cannot read the records; serving the last view", "err", err, "retry_in", backoff)
			lastMsg, lastLog = msg, time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

// session connects, finds the stream and consumes it until ctx ends or
// an error; progressed says it handled a message.
func (c *consumer) session(ctx context.Context) (progressed bool, err error) {
	nc, err := nats.Connect(c.src.URL, c.src.options(c.log)...)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", redactURL(c.src.URL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return false, fmt.Errorf("jetstream: %w", err)
	}
	stream, cons, err := c.open(ctx, js)
	if err != nil {
		return false, err
	}
	it, err := cons.Messages()
	if err != nil {
		return false, fmt.Errorf("consume stream %s: %w", c.src.Stream, err)
	}
	defer it.Stop()
	c.log.Info("global: reading the records", "server", nc.ConnectedUrlRedacted(), "from_seq", c.lastSeq.Load()+1,
		"caught_up", c.caughtUp.Load(), "replay_to_seq", c.target.Load())
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	gone := make(chan error, 1)
	go c.watch(watchCtx, stream, it, gone)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			select {
			case err = <-gone:
			default:
				err = fmt.Errorf("stream %s: %w", c.src.Stream, err)
			}
			return progressed, err
		}
		progressed = true
		c.handle(msg)
	}
}

// watch stops it when the stream is deleted or recreated, and says why
// on gone: the ordered consumer would wait at the old stream's next
// sequence and miss the new stream's first records. Other errors (NATS
// unreachable: the client reconnects) are left to the consumer.
func (c *consumer) watch(ctx context.Context, stream jetstream.Stream, it jetstream.MessagesContext, gone chan<- error) {
	tick := time.NewTicker(c.streamCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		info, err := stream.Info(ctx)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			err = fmt.Errorf("stream %s was deleted", c.src.Stream)
		case err == nil && !info.Created.Equal(c.created):
			err = fmt.Errorf("stream %s was recreated", c.src.Stream)
		default:
			continue
		}
		gone <- err
		it.Stop()
		return
	}
}

// open finds the stream and creates an ordered consumer from the message
// after the last one handled (from the start at first; from the start
// again if the stream was recreated: the view drops what it has seen).
func (c *consumer) open(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, jetstream.Consumer, error) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := js.Stream(octx, c.src.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil, fmt.Errorf("stream %s not found (no agent has published to it yet, or another nats.stream?)", c.src.Stream)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", c.src.Stream, err)
	}
	info := stream.CachedInfo()
	last := info.State.LastSeq
	if read := c.lastSeq.Load(); read > 0 && (last < read || !info.Created.Equal(c.created)) {
		c.log.Warn("global: the stream was recreated; reading it from its start (records seen before count as duplicates)",
			"read_to", read, "stream_last", last)
		c.lastSeq.Store(0)
	}
	c.created = info.Created
	if !c.caughtUp.Load() {
		c.target.Store(last)
		if last <= c.lastSeq.Load() {
			c.caughtUp.Store(true)
		}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.src.SubjectPrefix + ".>"},
		DeliverPolicy: jetstream.DeliverAllPolicy, MaxResetAttempts: 5}
	if seq := c.lastSeq.Load(); seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	}
	cons, err := js.OrderedConsumer(octx, c.src.Stream, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer on stream %s: %w", c.src.Stream, err)
	}
	return stream, cons, nil
}

// handle ingests one message and notes how far the replay got.
func (c *consumer) handle(msg jetstream.Msg) {
	var seq, pending uint64
	if meta, err := msg.Metadata(); err == nil {
		seq, pending = meta.Sequence.Stream, meta.NumPending
	}
	c.st.ingest(message{subject: msg.Subject(), seq: seq, data: msg.Data()})
	c.lastSeq.Store(seq)
	if !c.caughtUp.Load() && (seq >= c.target.Load() || pending == 0) {
		c.caughtUp.Store(true)
		c.log.Info("global: replay caught up; following the stream", "stream_seq", seq,
			"ingested", c.st.ingested.Load())
	}
}

// redactURL hides a password in a nats:// URL for the log.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "xxxxx" + u[at:]
}
