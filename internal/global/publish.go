package global

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/sla"
	"github.com/vigil-monitoring/vigil/sla/store"
)

// Defaults of Config.
const (
	DefaultStream        = "VIGIL"
	DefaultSubjectPrefix = "vigil"
	// DuplicateWindow is the stream's window for deduplicating by message
	// id: a republish after a restart within it is dropped by the stream;
	// later ones by consumers, which dedupe by agent and seq.
	DuplicateWindow = 2 * time.Minute
	defaultPage     = 256
	defaultPoll     = time.Second
	minBackoff      = 500 * time.Millisecond
	maxBackoff      = 30 * time.Second
	// ackTimeout bounds the wait for the stream's acknowledgement of one
	// message.
	ackTimeout = 10 * time.Second
	// streamInfoTimeout bounds looking the stream up (and creating it).
	streamInfoTimeout = 2 * time.Second
	// logEvery is how often a failure that goes on is logged again.
	logEvery = time.Minute
)

// Outbox is what the publisher reads and acknowledges: the SLA engine's
// outbox (*sla.Engine).
type Outbox interface {
	OutboxAfter(seq uint64, max int) ([]store.OutboxEntry, error)
	AckOutbox(upTo uint64) error
	OutboxLast() (uint64, error)
}

// Config is where and how to publish. Secrets are resolved and the TLS
// config built by the caller.
type Config struct {
	URL           string
	Stream        string // "" means DefaultStream
	SubjectPrefix string // "" means DefaultSubjectPrefix
	Replicas      int    // 0 means 1
	// CredentialsFile is a NATS .creds file (JWT and nkey seed).
	CredentialsFile string
	Username        string
	Password        string
	Token           string
	TLS             *tls.Config // nil: plain, unless URL is tls://
	// Name is the connection's name in the server's monitoring.
	Name   string
	Logger *slog.Logger
	// Page is how many outbox entries are read and in flight at once (0:
	// 256); Poll how often an empty outbox is looked at again (0: 1s).
	// Backoff bounds the wait after a failure (0: 500ms doubling to 30s).
	Page       int
	Poll       time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// Publisher publishes an outbox to a JetStream stream in order and
// acknowledges what the stream stored. It only reads the outbox and
// deletes what was published: it never blocks the engine's writes.
type Publisher struct {
	cfg    Config
	outbox Outbox
	log    *slog.Logger
	now    func() time.Time

	acked       atomic.Uint64 // the outbox is acknowledged up to here
	published   atomic.Uint64 // messages the stream acknowledged
	failed      atomic.Uint64 // messages that failed
	lastSuccess atomic.Int64  // Unix nanoseconds of the last acknowledged message

	nc *nats.Conn
	js jetstream.JetStream
	// lost is closed when the connection drops (the client does not
	// reconnect): acknowledgements in flight will not come, so waiting
	// for them ends at once instead of at their timeout.
	lost      chan struct{}
	complaint complaint
}

// NewPublisher returns a publisher of outbox to cfg's stream; Run starts it.
func NewPublisher(cfg Config, outbox Outbox) *Publisher {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultSubjectPrefix
	}
	cfg.Replicas = max(cfg.Replicas, 1)
	if cfg.Page <= 0 {
		cfg.Page = defaultPage
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = minBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = maxBackoff
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "global", "url", redactURL(cfg.URL), "stream", cfg.Stream)
	p := &Publisher{cfg: cfg, outbox: outbox, log: log, now: time.Now}
	_ = p.initCursor() // for the pending count before Run; Run says if it fails
	return p
}

// Run publishes until ctx ends. Failures (NATS down, refused credentials,
// a stream deleted) are logged, at most once a minute while they go on,
// and retried after a growing wait; records wait in the outbox meanwhile.
func (p *Publisher) Run(ctx context.Context) {
	defer p.disconnect()
	if err := p.initCursor(); err != nil {
		p.log.Error("global: cannot read the outbox", "err", err)
	}
	backoff := p.cfg.MinBackoff
	for ctx.Err() == nil {
		more, err := p.step(ctx)
		wait := p.cfg.Poll
		switch {
		case err == nil:
			backoff = p.cfg.MinBackoff
			if p.complaint.resolved() {
				p.log.Info("global: publishing again", "pending", p.pending())
			}
			if more {
				continue
			}
		case ctx.Err() != nil:
			return
		default:
			if p.complaint.note(err, p.now()) {
				p.log.Error("global: cannot publish the record; it waits in the outbox", "err", err,
					"retry_in", backoff, "failures", p.complaint.count, "pending", p.pending())
			}
			wait, backoff = backoff, min(2*backoff, p.cfg.MaxBackoff)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// initCursor starts where the outbox's acknowledged part ends.
func (p *Publisher) initCursor() error {
	first, err := p.outbox.OutboxAfter(0, 1)
	if err != nil {
		return err
	}
	if len(first) > 0 {
		p.acked.Store(first[0].Seq - 1)
		return nil
	}
	last, err := p.outbox.OutboxLast()
	p.acked.Store(last)
	return err
}

// step connects if needed and publishes one page of the outbox; more says
// the page was full, so the next may be read at once.
func (p *Publisher) step(ctx context.Context) (more bool, err error) {
	entries, err := p.outbox.OutboxAfter(p.acked.Load(), p.cfg.Page)
	if err != nil {
		return false, fmt.Errorf("read outbox: %w", err)
	}
	if len(entries) == 0 {
		return false, nil
	}
	if p.nc == nil {
		if err := p.connect(ctx); err != nil {
			return false, err
		}
	}
	n, err := p.publish(ctx, entries)
	if n > 0 {
		upTo := entries[n-1].Seq
		if aerr := p.outbox.AckOutbox(upTo); aerr != nil {
			return false, fmt.Errorf("acknowledge outbox up to %d: %w", upTo, aerr)
		}
		p.acked.Store(upTo)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
			errors.Is(err, jetstream.ErrStreamNotFound) {
			err = fmt.Errorf("%w (stream %s deleted or not capturing %s.>? it is set up again)", err, p.cfg.Stream, p.cfg.SubjectPrefix)
		}
		p.disconnect() // connect again, and set the stream up again
		return false, err
	}
	return len(entries) == p.cfg.Page, nil
}

// connect opens the connection and makes sure the stream exists.
func (p *Publisher) connect(ctx context.Context) error {
	lost := make(chan struct{})
	var once sync.Once
	drop := func(*nats.Conn) { once.Do(func() { close(lost) }) }
	opts := append(p.natsOptions(), nats.ClosedHandler(drop),
		nats.DisconnectErrHandler(func(nc *nats.Conn, _ error) { drop(nc) }))
	nc, err := nats.Connect(p.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(p.cfg.Page),
		jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	p.nc, p.js, p.lost = nc, js, lost
	if err := p.ensureStream(ctx); err != nil {
		p.disconnect()
		return err
	}
	p.log.Info("global: connected", "server", nc.ConnectedUrlRedacted())
	return nil
}

// natsOptions are the connection's options. The publisher reconnects
// itself (with its backoff), so the client does not buffer or reconnect.
func (p *Publisher) natsOptions() []nats.Option {
	c := p.cfg
	opts := []nats.Option{nats.Name(c.Name), nats.NoReconnect(), nats.Timeout(5 * time.Second)}
	return append(opts, AuthOptions(c.CredentialsFile, c.Username, c.Password, c.Token, c.TLS)...)
}

// AuthOptions are a connection's credentials and TLS, as the agent's
// global block and vigil global's nats block give them (one kind of
// credentials; empty values are left out).
func AuthOptions(credentialsFile, username, password, token string, tlsConfig *tls.Config) []nats.Option {
	var opts []nats.Option
	if credentialsFile != "" {
		opts = append(opts, nats.UserCredentials(credentialsFile))
	}
	if username != "" || password != "" {
		opts = append(opts, nats.UserInfo(username, password))
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	if tlsConfig != nil {
		opts = append(opts, nats.Secure(tlsConfig))
	}
	return opts
}

// ensureStream creates the stream if it does not exist; one that exists
// with other settings is used as it is, and the difference logged.
func (p *Publisher) ensureStream(ctx context.Context) error {
	want := p.StreamConfig()
	// Short: while a cluster elects the stream's leader, the request waits
	// unanswered; the reconnect loop asks again after its backoff.
	ctx, cancel := context.WithTimeout(ctx, streamInfoTimeout)
	defer cancel()
	s, err := p.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err = p.js.CreateStream(ctx, want); err == nil {
			p.log.Info("global: stream created", "subjects", want.Subjects, "replicas", want.Replicas)
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // else another agent created it meanwhile
			return fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		s, err = p.js.Stream(ctx, want.Name)
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", want.Name, err)
	}
	if diff := streamDiff(s.CachedInfo().Config, want); diff != "" {
		p.log.Warn("global: the stream exists with other settings; using it as it is", "differences", diff)
	}
	return nil
}

// StreamConfig is the stream the publisher creates when it is missing.
func (p *Publisher) StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        p.cfg.Stream,
		Description: "Vigil agents' records (transitions, outages, spans, heartbeats)",
		Subjects:    []string{p.cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Duplicates:  DuplicateWindow,
		Replicas:    p.cfg.Replicas,
	}
}

// streamDiff says how have differs from want in what the publisher relies
// on; "" when it does not.
func streamDiff(have, want jetstream.StreamConfig) string {
	var d []string
	if !strings.Contains(","+strings.Join(have.Subjects, ",")+",", ","+want.Subjects[0]+",") {
		d = append(d, fmt.Sprintf("subjects %v, want %v", have.Subjects, want.Subjects))
	}
	if have.Duplicates < want.Duplicates {
		d = append(d, fmt.Sprintf("duplicate window %s, want at least %s", have.Duplicates, want.Duplicates))
	}
	if have.Replicas != want.Replicas {
		d = append(d, fmt.Sprintf("replicas %d, want %d", have.Replicas, want.Replicas))
	}
	if have.Storage != want.Storage {
		d = append(d, fmt.Sprintf("storage %s, want %s", have.Storage, want.Storage))
	}
	return strings.Join(d, "; ")
}

func (p *Publisher) disconnect() {
	if p.nc != nil {
		p.nc.Close()
		p.nc, p.js = nil, nil
	}
}

// publish sends entries asynchronously (at most a page in flight) and
// waits for each acknowledgement in order. It returns how many entries,
// from the first, the stream acknowledged without a gap, and the first
// error. A message acknowledged after a failed one is published again
// next time: the stream drops it as a duplicate within its window.
func (p *Publisher) publish(ctx context.Context, entries []store.OutboxEntry) (int, error) {
	// A nil future is an entry skipped: not a record this engine wrote
	// (a damaged store); it would block the outbox for good.
	futures := make([]jetstream.PubAckFuture, 0, len(entries))
	var sendErr error
	for _, e := range entries {
		msg, err := p.message(e)
		if err != nil {
			p.log.Error("global: skipping an outbox entry that is not a record", "seq", e.Seq, "err", err)
			p.failed.Add(1)
			futures = append(futures, nil)
			continue
		}
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			sendErr = fmt.Errorf("publish %s: %w", msg.Subject, err)
			break
		}
		futures = append(futures, f)
	}
	done := 0
	for _, f := range futures {
		if f == nil {
			done++
			continue
		}
		select {
		case <-f.Ok():
			done++
			p.published.Add(1)
			p.lastSuccess.Store(p.now().UnixNano())
			continue
		case err := <-f.Err():
			sendErr = fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-p.lost:
			sendErr = fmt.Errorf("publish %s: connection lost before the acknowledgement", f.Msg().Subject)
		case <-ctx.Done():
			sendErr = ctx.Err()
		}
		break
	}
	if failed := len(entries) - done; sendErr != nil && failed > 0 {
		p.failed.Add(uint64(failed))
	}
	return done, sendErr
}

// message is entry e as a NATS message: its subject, its record with the
// sequence number, and Nats-Msg-Id "<agent>-<seq>".
func (p *Publisher) message(e store.OutboxEntry) (*nats.Msg, error) {
	data, h, err := sla.OutboxMessage(e)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(Subject(p.cfg.SubjectPrefix, h))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, h.Agent+"-"+strconv.FormatUint(e.Seq, 10))
	return msg, nil
}

// AgentToken is the subject token of the agent's own records (heartbeat,
// gap): its place of service and feature.
const AgentToken = "_agent"

// Subject is a record's subject: prefix.region.agent.service.feature.type,
// or prefix.region.agent._agent.type for the agent's own records.
func Subject(prefix string, h sla.RecordHeader) string {
	parts := []string{prefix, Token(h.Region), Token(h.Agent)}
	if h.Service == "" {
		parts = append(parts, AgentToken)
	} else {
		parts = append(parts, Token(h.Service), Token(h.Feature))
	}
	return strings.Join(append(parts, Token(h.Type)), ".")
}

// Token makes s one subject token. Names the config accepts
// ([a-z0-9_-]+) are kept as they are; anything else outside
// [A-Za-z0-9_-] (a dot, a wildcard, a space would break the subject) is
// written %XX, and an empty name is "_".
func Token(s string) string {
	if s == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = tokenByte(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; tokenByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// pending is how many records wait in the outbox, -1 if unknown.
func (p *Publisher) pending() int64 {
	last, err := p.outbox.OutboxLast()
	if err != nil {
		return -1
	}
	return int64(last) - int64(min(p.acked.Load(), last))
}

// complaint rate-limits the log of a failure that goes on.
type complaint struct {
	mu      sync.Mutex
	count   int
	lastLog time.Time
	lastMsg string
}

// note counts a failure and reports whether to log it: the first, a
// different one, or once per logEvery.
func (c *complaint) note(err error, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if msg := err.Error(); c.count == 1 || msg != c.lastMsg || now.Sub(c.lastLog) >= logEvery {
		c.lastLog, c.lastMsg = now, msg
		return true
	}
	return false
}

// resolved ends a spell of failures and reports whether there was one.
func (c *complaint) resolved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.count > 0
	c.count, c.lastMsg = 0, ""
	return was
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
