package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults of the notify block.
const (
	DefaultNotifyMaxAttempts   = 12
	DefaultNotifyMaxAge        = 24 * time.Hour
	DefaultNotifyMinBackoff    = 10 * time.Second
	DefaultNotifyMaxBackoff    = 10 * time.Minute
	DefaultNotifyTimeout       = 10 * time.Second
	DefaultNotifyMaxPending    = 10000
	DefaultSubscribeRequests   = 5
	DefaultSubscribeRatePeriod = time.Hour
)

// NotifyEvents are the event types a webhook may name; "maintenance.*" and
// "incident.*" stand for every event of their kind, "*" for all.
var NotifyEvents = []string{"incident.opened", "incident.updated", "incident.resolved",
	"maintenance.scheduled", "maintenance.started", "maintenance.ended"}

// Notify is the `notify` block: webhooks and e-mail subscriptions to
// incidents and maintenance (internal/notify).
type Notify struct {
	// BaseURL is where the public reaches this agent's web server, for the
	// links in mails (confirm, unsubscribe); required with smtp.
	BaseURL  string          `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	Webhooks []NotifyWebhook `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	SMTP     *NotifySMTP     `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	Delivery NotifyDelivery  `yaml:"delivery,omitempty" json:"delivery"`
	// SubscribeRate limits POST /api/v1/subscribe per client address.
	SubscribeRate SubscribeRate `yaml:"subscribe_rate,omitempty" json:"subscribe_rate"`
}

// NotifyWebhook is one webhook of the config.
type NotifyWebhook struct {
	URL        string `yaml:"url" json:"url"`
	SecretFile string `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`
	// Events are the event types sent; empty means all.
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// Services limits the events to incidents and maintenance touching
	// these services; empty means all.
	Services []string `yaml:"services,omitempty" json:"services,omitempty"`
}

// NotifySMTP is the mail server subscription mails go through.
type NotifySMTP struct {
	// Address is host:port (587 for STARTTLS, 25).
	Address      string                 `yaml:"address" json:"address"`
	From         string                 `yaml:"from" json:"from"`
	Username     string                 `yaml:"username,omitempty" json:"username,omitempty"`
	Password     probeconfig.Secret     `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordFile string                 `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	StartTLS     *bool                  `yaml:"starttls,omitempty" json:"starttls,omitempty"`
	TLSConfig    *probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
}

// NotifyDelivery bounds retries and the queue.
type NotifyDelivery struct {
	MaxAttempts int                  `yaml:"max_attempts,omitempty" json:"max_attempts"`
	MaxAge      probeconfig.Duration `yaml:"max_age,omitempty" json:"max_age"`
	MinBackoff  probeconfig.Duration `yaml:"min_backoff,omitempty" json:"min_backoff"`
	MaxBackoff  probeconfig.Duration `yaml:"max_backoff,omitempty" json:"max_backoff"`
	Timeout     probeconfig.Duration `yaml:"timeout,omitempty" json:"timeout"`
	MaxPending  int                  `yaml:"max_pending,omitempty" json:"max_pending"`
}

// SubscribeRate is `subscribe_rate: {requests: 5, per: 1h}`.
type SubscribeRate struct {
	Requests int                  `yaml:"requests,omitempty" json:"requests"`
	Per      probeconfig.Duration `yaml:"per,omitempty" json:"per"`
}

// SMTPPassword returns the SMTP password, read from its file if so
// configured.
func (s *NotifySMTP) SMTPPassword() (probeconfig.Secret, error) {
	return probeconfig.ResolveSecret("password", s.Password, s.PasswordFile)
}

// UseStartTLS reports whether STARTTLS is required (the default).
func (s *NotifySMTP) UseStartTLS() bool { return s.StartTLS == nil || *s.StartTLS }

// notify checks the notify block and fills its defaults.
func (p *parser) notify(c *Config) {
	n := c.Notify
	if n == nil {
		return
	}
	if n.BaseURL != "" {
		if u, err := url.Parse(n.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("notify.base_url", "%q must be an http:// or https:// URL, e.g. https://status.example.com", n.BaseURL)
		}
	}
	for i, h := range n.Webhooks {
		hp := fmt.Sprintf("notify.webhooks[%d]", i)
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(hp+".url", "must be an http:// or https:// URL")
		}
		if h.SecretFile == "" {
			p.add(hp+".secret_file", "is required: deliveries are signed with its secret")
		} else if b, err := probeconfig.ReadConfigFile(h.SecretFile); err != nil {
			p.add(hp+".secret_file", "cannot read: %v", err)
		} else if strings.TrimSpace(string(b)) == "" {
			p.add(hp+".secret_file", "%s is empty", h.SecretFile)
		}
		for j, e := range h.Events {
			if !ValidNotifyEvent(e) {
				p.add(fmt.Sprintf("%s.events[%d]", hp, j), "unknown event %q: want one of %s, incident.*, maintenance.* or *", e, strings.Join(NotifyEvents, ", "))
			}
		}
		p.serviceRefs(hp+".services", h.Services, c.Services)
	}
	if s := n.SMTP; s != nil {
		if s.Address == "" {
			p.add("notify.smtp.address", "is required (host:port)")
		} else if _, port, err := net.SplitHostPort(s.Address); err != nil || port == "" {
			p.add("notify.smtp.address", "%q must be host:port", s.Address)
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			p.add("notify.smtp.from", "%q is not a mail address: %v", s.From, err)
		}
		if (s.Password != "" || s.PasswordFile != "") && s.Username == "" {
			p.add("notify.smtp.username", "is required with a password")
		}
		if _, err := s.SMTPPassword(); err != nil {
			p.fieldErrors("notify.smtp", err)
		}
		if s.TLSConfig != nil {
			if _, err := s.TLSConfig.Build(); err != nil {
				p.fieldErrors("notify.smtp.tls_config", err)
			}
		}
		if n.BaseURL == "" {
			p.add("notify.base_url", "is required with notify.smtp: mails link to /subscribe/confirm and /unsubscribe there")
		}
	}
	d := &n.Delivery
	p.defaultInt("notify.delivery", ".max_attempts", &d.MaxAttempts, DefaultNotifyMaxAttempts)
	p.defaultInt("notify.delivery", ".max_pending", &d.MaxPending, DefaultNotifyMaxPending)
	p.defaultDuration("notify.delivery", ".max_age", &d.MaxAge, probeconfig.Duration(DefaultNotifyMaxAge))
	p.defaultDuration("notify.delivery", ".min_backoff", &d.MinBackoff, probeconfig.Duration(DefaultNotifyMinBackoff))
	p.defaultDuration("notify.delivery", ".max_backoff", &d.MaxBackoff, probeconfig.Duration(max(DefaultNotifyMaxBackoff, time.Duration(d.MinBackoff))))
	p.defaultDuration("notify.delivery", ".timeout", &d.Timeout, probeconfig.Duration(DefaultNotifyTimeout))
	for path, v := range map[string]probeconfig.Duration{"notify.delivery.max_age": d.MaxAge, "notify.delivery.min_backoff": d.MinBackoff,
		"notify.delivery.max_backoff": d.MaxBackoff, "notify.delivery.timeout": d.Timeout} {
		p.positiveDuration(path, "", v)
	}
	if d.MaxAttempts < 0 {
		p.add("notify.delivery.max_attempts", "must be at least 1")
	}
	if d.MaxPending < 0 {
		p.add("notify.delivery.max_pending", "must be at least 1")
	}
	if d.MaxBackoff < d.MinBackoff {
		p.add("notify.delivery.max_backoff", "%s must not be less than min_backoff %s", d.MaxBackoff, d.MinBackoff)
	}
	r := &n.SubscribeRate
	p.defaultInt("notify.subscribe_rate", ".requests", &r.Requests, DefaultSubscribeRequests)
	p.defaultDuration("notify.subscribe_rate", ".per", &r.Per, probeconfig.Duration(DefaultSubscribeRatePeriod))
	if r.Requests < 0 {
		p.add("notify.subscribe_rate.requests", "must be at least 1")
	}
	p.positiveDuration("notify.subscribe_rate", ".per", r.Per)
}

// serviceRefs checks that each name is a configured service.
func (p *parser) serviceRefs(path string, names []string, services []Service) {
	for i, name := range names {
		if !slices.ContainsFunc(services, func(s Service) bool { return s.Name == name }) {
			p.add(fmt.Sprintf("%s[%d]", path, i), "%q is not a configured service", name)
		}
	}
}

// ValidNotifyEvent reports whether e names an event type or a wildcard of
// them (incident.*, maintenance.*, *).
func ValidNotifyEvent(e string) bool {
	switch e {
	case "*", "incident.*", "maintenance.*":
		return true
	}
	return slices.Contains(NotifyEvents, e)
}
