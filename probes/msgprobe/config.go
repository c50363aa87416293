package msgprobe

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Config is the `messaging` block of a check. Keys common to every protocol are
// here; protocol-specific keys come from the inlined option structs, each defined
// in its transport's file.
type Config struct {
	Protocol   string `yaml:"protocol" json:"protocol"`
	URL        string `yaml:"url" json:"url"`
	Topic      string `yaml:"topic,omitempty" json:"topic,omitempty"`
	Subject    string `yaml:"subject,omitempty" json:"subject,omitempty"` // alias of topic (NATS' word)
	Messages   int    `yaml:"messages,omitempty" json:"messages,omitempty"`
	Persistent bool   `yaml:"persistent,omitempty" json:"persistent,omitempty"`
	MaxLoss    int    `yaml:"max_loss,omitempty" json:"max_loss,omitempty"`
	// MaxMessageBytes bounds what one message read from the target may take:
	// a WebSocket message, a Kafka fetch, an HTTP response body or event, an
	// SMTP reply, an IMAP poll's responses. More fails the run. 0 means the
	// default, 1 MiB (8 MiB for protocol http, whose poll body may hold a
	// whole chat history).
	MaxMessageBytes int64                  `yaml:"max_message_bytes,omitempty" json:"max_message_bytes,omitempty"`
	Username        string                 `yaml:"username,omitempty" json:"username,omitempty"`
	Password        probeconfig.Secret     `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordFile    string                 `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	TLSConfig       *probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
	// Await, when set, makes each run wait for a message someone else
	// publishes instead of a round trip of its own (await.go).
	Await *AwaitOptions `yaml:"await,omitempty" json:"await,omitempty"`

	MQTTOptions      `yaml:",inline"`
	NATSOptions      `yaml:",inline"`
	AMQPOptions      `yaml:",inline"`
	KafkaOptions     `yaml:",inline"`
	RedisOptions     `yaml:",inline"`
	WebSocketOptions `yaml:",inline"`
	HTTPOptions      `yaml:",inline"`
	MailOptions      `yaml:",inline"`
}

// NATSOptions are the NATS and JetStream keys of a messaging block.
type NATSOptions struct {
	// Stream is the JetStream stream holding the subject; the probe creates it
	// (file storage, messages kept 10m) when missing. Default: "vigil_" plus the
	// subject with dots and wildcards replaced by underscores.
	Stream string `yaml:"stream,omitempty" json:"stream,omitempty"`
}

const (
	defaultMessages = 3
	maxMessages     = 1000
	// defaultMaxMessageBytes is max_message_bytes' default: thousands of
	// times a probe payload, and little memory per check.
	defaultMaxMessageBytes = 1 << 20
	// maxMessageBytesLimit is the largest max_message_bytes (Kafka's
	// client takes no more).
	maxMessageBytesLimit = 1 << 30
)

// urlSchemes lists the URL schemes that fit each protocol. A protocol missing
// here accepts any scheme (its factory checks it).
var urlSchemes = map[string][]string{
	"mqtt":         {"tcp", "mqtt", "ssl", "tls", "mqtts"},
	"nats":         {"nats", "tls"},
	"jetstream":    {"nats", "tls"},
	"amqp":         {"amqp", "amqps"},
	"redis":        {"redis", "rediss"},
	"redis-stream": {"redis", "rediss"},
	"kafka":        {"kafka"},
	"websocket":    {"ws", "wss"},
	"http":         {"http", "https"},
	"mail":         {"smtp", "smtps"},
}

// topicless protocols address the round trip by url (and their own keys) alone:
// an echo endpoint, a chat API, a mailbox.
var topicless = map[string]bool{"websocket": true, "http": true, "mail": true}

// messages is the number of messages per run, with its default.
func (c *Config) messages() int {
	if c.Messages == 0 {
		return defaultMessages
	}
	return c.Messages
}

// maxMessageBytes is max_message_bytes, or fallback when it is not set.
func (c *Config) maxMessageBytes(fallback int64) int64 {
	if c.MaxMessageBytes > 0 {
		return c.MaxMessageBytes
	}
	return fallback
}

// topic is the topic, or its alias subject.
func (c *Config) topic() string {
	if c.Topic != "" {
		return c.Topic
	}
	return c.Subject
}

// password resolves password or password_file. It is read when the check is
// built; a rotated file is picked up by the next reload, which rebuilds the
// checks whose files changed.
func (c *Config) password() (probeconfig.Secret, error) {
	return probeconfig.ResolveSecret("password", c.Password, c.PasswordFile)
}

// tlsConfig builds tls_config, or returns nil when the block is absent.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.TLSConfig == nil {
		return nil, nil
	}
	tc, err := c.TLSConfig.Build()
	if err != nil {
		return nil, probeconfig.Prefix("tls_config", err)
	}
	return tc, nil
}

// safeURL is the url without userinfo and query, for errors and logs: both may
// hold secrets.
func (c *Config) safeURL() string {
	return redactURL(c.URL)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return safe.String()
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to
// it. It compiles the block as New does (reading the files it names) without
// any network I/O.
func (c *Config) Validate() error {
	_, _, err := c.compile(probes.Options{}, transports)
	return err
}

// compile validates the block and compiles its transport from table, once
// per check: the keys every protocol shares, then the protocol's own. It
// returns the connector that opens a Transport per connection, and the shared
// settings. Every problem is reported, one per key.
func (c *Config) compile(opts probes.Options, table map[string]compileFunc) (connector, *shared, error) {
	compileTransport, known := table[c.Protocol]
	errs := c.validateCommon(table, known)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &shared{cfg: c, agentID: opts.AgentID, checkID: opts.CheckID, log: log}
	var err error
	if s.password, err = c.password(); err != nil {
		errs = append(errs, err)
	}
	if s.tls, err = c.tlsConfig(); err != nil {
		errs = append(errs, err)
	}
	var awaitErrs []error
	s.awaiter, awaitErrs = c.compileAwait()
	errs = append(errs, awaitErrs...)
	var connect connector
	if known {
		connect, err = compileTransport(s)
		errs = append(errs, err)
	}
	if err := dedupeByPath(errs); err != nil {
		return nil, nil, err
	}
	return connect, s, nil
}

// validateCommon checks the keys every protocol has, but the password and
// tls_config, which compile resolves.
func (c *Config) validateCommon(table map[string]compileFunc, known bool) []error {
	var errs []error
	switch {
	case c.Protocol == "":
		errs = append(errs, probeconfig.Errorf("protocol", "required: one of %s", strings.Join(protocolNames(table), ", ")))
	case !known:
		errs = append(errs, probeconfig.Errorf("protocol", "unknown protocol %q: want one of %s", c.Protocol, strings.Join(protocolNames(table), ", ")))
	}
	if err := c.validateURL(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Topic != "" && c.Subject != "":
		errs = append(errs, probeconfig.Errorf("subject", "set only one of topic and subject"))
	case c.topic() == "" && known && !topicless[c.Protocol]:
		errs = append(errs, probeconfig.Errorf("topic", "required for protocol %s", c.Protocol))
	}
	if c.Messages < 0 || c.Messages > maxMessages {
		errs = append(errs, probeconfig.Errorf("messages", "must be between 1 and %d, got %d", maxMessages, c.Messages))
	}
	switch {
	case c.MaxLoss < 0:
		errs = append(errs, probeconfig.Errorf("max_loss", "must not be negative, got %d", c.MaxLoss))
	case c.MaxLoss >= c.messages() && c.Messages >= 0:
		errs = append(errs, probeconfig.Errorf("max_loss", "must be less than messages (%d), or the check could never fail", c.messages()))
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > maxMessageBytesLimit {
		errs = append(errs, probeconfig.Errorf("max_message_bytes", "must be between 0 (the default) and %d (1 GiB), got %d", maxMessageBytesLimit, c.MaxMessageBytes))
	}
	return errs
}

func (c *Config) validateURL() error {
	if c.URL == "" {
		return probeconfig.Errorf("url", "required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error repeats the whole url, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return probeconfig.Errorf("url", "cannot parse: %v", err)
	}
	if want, ok := urlSchemes[c.Protocol]; ok && !slices.Contains(want, u.Scheme) {
		return probeconfig.Errorf("url", "scheme %q does not fit protocol %s: want %s://", u.Scheme, c.Protocol, strings.Join(want, ":// or "))
	}
	if u.Host == "" {
		return probeconfig.Errorf("url", "no host in %s", redactURL(c.URL))
	}
	return nil
}

// dedupeByPath flattens errs and keeps the first error per FieldError path,
// since a transport may check a key again in its own terms (url).
func dedupeByPath(errs []error) error {
	seen := map[string]bool{}
	var out []error
	var walk func(err error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *probeconfig.FieldError
		if errors.As(err, &fe) {
			if seen[fe.Path] {
				return
			}
			seen[fe.Path] = true
		}
		out = append(out, err)
	}
	for _, e := range errs {
		walk(e)
	}
	return errors.Join(out...)
}
