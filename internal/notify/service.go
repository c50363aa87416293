package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// Defaults of DeliveryOptions: the config's (notify.delivery).
const (
	DefaultMaxAttempts = config.DefaultNotifyMaxAttempts
	DefaultMaxAge      = config.DefaultNotifyMaxAge
	DefaultMinBackoff  = config.DefaultNotifyMinBackoff
	DefaultMaxBackoff  = config.DefaultNotifyMaxBackoff
	DefaultTimeout     = config.DefaultNotifyTimeout
	DefaultMaxPending  = config.DefaultNotifyMaxPending
	// ConfirmTTL is how long a confirmation link works; an address not
	// confirmed by then is forgotten.
	ConfirmTTL = 48 * time.Hour
	// pruneEvery is how often Run looks for unconfirmed subscribers to
	// forget.
	pruneEvery = time.Hour
)

// Clock is the time the delivery loop runs on: the real one, or a test's.
type Clock interface {
	Now() time.Time
	// After fires once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Webhook is a webhook of the config (notify.webhooks).
type Webhook struct {
	URL      string
	Secret   string
	Events   []string // empty: all
	Services []string // empty: all
}

// id names a config webhook in the queue: stable across restarts for as
// long as its URL is.
func (w *Webhook) id() string {
	h := sha256.Sum256([]byte(w.URL))
	return "cfg-" + hex.EncodeToString(h[:8])
}

// DeliveryOptions bound retries and the queue.
type DeliveryOptions struct {
	// MaxAttempts and MaxAge: a delivery gives up after this many failed
	// attempts or once this old.
	MaxAttempts int
	MaxAge      time.Duration
	// MinBackoff doubles after each failed attempt up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// MaxPending caps the queue; the oldest are dropped over it.
	MaxPending int
}

// Options configure a Service.
type Options struct {
	Store    *Store
	Webhooks []Webhook
	// SMTP sends the mails of e-mail subscriptions; nil disables them.
	SMTP *SMTP
	// BaseURL is the public address of the web server, for links in mails.
	BaseURL  string
	Delivery DeliveryOptions
	// SubscribeRequests per SubscribePer is what one client address may
	// ask of POST /api/v1/subscribe (default 5 per hour).
	SubscribeRequests int
	SubscribePer      time.Duration
	// Incidents finds an automatically grouped incident by id, else the
	// one that holds any of outages (those recorded with the updates
	// posted under id, when its id has changed since), for updates to it;
	// nil: only manual incidents take updates. The info's Outages are the
	// incident's.
	Incidents func(id string, outages []OutageRef) (IncidentInfo, bool)
	// Known reports whether a service (feature "") or feature exists, to
	// check what a manual incident or a subscription names; nil: anything.
	Known      func(service, feature string) bool
	Clock      Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// HTTPClient posts webhooks; nil: a client that follows no redirect.
	HTTPClient *http.Client
}

// Service takes events, queues their deliveries and delivers them, and
// serves the communications endpoints.
type Service struct {
	opts    Options
	store   *Store
	clock   Clock
	log     *slog.Logger
	client  *http.Client
	wake    chan struct{}
	limiter *ipLimiter
	metrics *metrics

	running atomic.Bool
}

// New returns a service over opts.Store; Run delivers.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("notify: no store")
	}
	d := &opts.Delivery
	d.MaxAttempts = cmp.Or(d.MaxAttempts, DefaultMaxAttempts)
	d.MaxAge = cmp.Or(d.MaxAge, DefaultMaxAge)
	d.MinBackoff = cmp.Or(d.MinBackoff, DefaultMinBackoff)
	d.MaxBackoff = max(cmp.Or(d.MaxBackoff, DefaultMaxBackoff), d.MinBackoff)
	d.Timeout = cmp.Or(d.Timeout, DefaultTimeout)
	d.MaxPending = cmp.Or(d.MaxPending, DefaultMaxPending)
	opts.SubscribeRequests = cmp.Or(opts.SubscribeRequests, config.DefaultSubscribeRequests)
	opts.SubscribePer = cmp.Or(opts.SubscribePer, config.DefaultSubscribeRatePeriod)
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	for i := range opts.Webhooks {
		if opts.Webhooks[i].Secret == "" {
			return nil, fmt.Errorf("notify: webhook %d (%s): no secret", i, redactURL(opts.Webhooks[i].URL))
		}
	}
	if opts.SMTP != nil && opts.BaseURL == "" {
		return nil, errors.New("notify: e-mail needs a base URL for its links")
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Service{opts: opts, store: opts.Store, clock: opts.Clock, log: opts.Logger.With("component", "notify"),
		client: client, wake: make(chan struct{}, 1)}
	s.limiter = newIPLimiter(opts.SubscribeRequests, opts.SubscribePer)
	s.metrics = newMetrics(s)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.metrics); err != nil {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	return s, nil
}

// Store is the service's store: updates and manual incidents for the web
// package's incident JSON and pages.
func (s *Service) Store() *Store { return s.store }

// Publish records an event for its subscribers and wakes the delivery
// loop, which turns it into one delivery per subscriber that wants it.
// It costs the caller one small store commit, whatever the number of
// subscribers, and never waits for a delivery.
func (s *Service) Publish(e Event) error {
	if err := e.check(); err != nil {
		return err
	}
	now := s.clock.Now()
	if e.At.IsZero() {
		e.At = now
	}
	e.ID = randomID("e")
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notify: encode event %s: %w", e.Type, err)
	}
	if err := s.store.addEvent(publishedEvent{Published: now, Body: body}); err != nil {
		return fmt.Errorf("notify: record event %s: %w", e.Type, err)
	}
	s.poke()
	return nil
}

// fanOut turns the published events into deliveries, oldest first: in one
// transaction the events leave the store and their deliveries enter the
// queue, so a crash loses neither.
func (s *Service) fanOut() error {
	var dropped []Delivery
	err := s.store.db.Update(func(tx *bbolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if k, _ := events.Cursor().First(); k == nil {
			return nil
		}
		var subs []Subscriber
		if err := forEachSubscriber(tx, func(sub Subscriber) { subs = append(subs, sub) }); err != nil {
			return err
		}
		var ds []Delivery
		var keys [][]byte
		if err := events.ForEach(func(k, v []byte) error {
			keys = append(keys, slices.Clone(k))
			var pe publishedEvent
			var e Event
			if err := json.Unmarshal(v, &pe); err != nil || json.Unmarshal(pe.Body, &e) != nil {
				s.log.Error("notify: an unreadable event is skipped", "key", fmt.Sprintf("%x", k))
				return nil
			}
			ds = append(ds, s.deliveriesOf(&e, pe, subs)...)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := events.Delete(k); err != nil {
				return err
			}
		}
		var err error
		dropped, err = enqueue(tx, ds, s.opts.Delivery.MaxPending)
		return err
	})
	if err != nil {
		return fmt.Errorf("notify: queue the deliveries of published events: %w", err)
	}
	s.countDropped(dropped)
	return nil
}

// deliveriesOf is one delivery of an event per config webhook and
// subscriber that wants it.
func (s *Service) deliveriesOf(e *Event, pe publishedEvent, subs []Subscriber) []Delivery {
	services := e.services()
	var ds []Delivery
	add := func(channel, target string) {
		ds = append(ds, Delivery{ID: randomID("d"), Channel: channel, Target: target, Kind: "event",
			EventType: e.Type, Body: pe.Body, Created: pe.Published, NextAttempt: pe.Published})
	}
	for i := range s.opts.Webhooks {
		w := &s.opts.Webhooks[i]
		if matchEvent(w.Events, e.Type) && matchServices(w.Services, services) {
			add(ChannelWebhook, w.id())
		}
	}
	for _, sub := range subs {
		if !sub.Confirmed || !matchEvent(sub.Events, e.Type) || !matchServices(sub.Services, services) {
			continue
		}
		if sub.Type == ChannelEmail && s.opts.SMTP == nil {
			continue
		}
		add(sub.Type, sub.ID)
	}
	return ds
}

// queueConfirmation queues the confirmation mail of a new subscriber.
func (s *Service) queueConfirmation(subscriberID string) error {
	now := s.clock.Now()
	dropped, err := s.store.Enqueue([]Delivery{{ID: randomID("d"), Channel: ChannelEmail, Target: subscriberID,
		Kind: purposeConfirm, Created: now, NextAttempt: now}}, s.opts.Delivery.MaxPending)
	if err != nil {
		return err
	}
	s.countDropped(dropped)
	s.poke()
	return nil
}

func (s *Service) countDropped(dropped []Delivery) {
	for _, d := range dropped {
		s.metrics.count(d.Channel, resultDropped)
		s.log.Warn("notify: queue full, oldest delivery dropped", "delivery", d.ID, "channel", d.Channel,
			"subscriber", d.Target, "max_pending", s.opts.Delivery.MaxPending)
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers the queue until ctx ends: due deliveries in order, each
// target's in its order (a target that fails holds back its later
// deliveries, not other targets'), then waits for the next due attempt or
// a new event. Unconfirmed e-mail subscribers are forgotten after
// ConfirmTTL.
func (s *Service) Run(ctx context.Context) {
	if !s.running.CompareAndSwap(false, true) {
		panic("notify: Service.Run called twice")
	}
	defer s.running.Store(false)
	var pruned time.Time
	for ctx.Err() == nil {
		if now := s.clock.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			if n, err := s.store.PruneUnconfirmed(now, ConfirmTTL); err != nil {
				s.log.Error("notify: cannot prune unconfirmed subscribers", "err", err)
			} else if n > 0 {
				s.log.Info("notify: forgot unconfirmed e-mail subscribers", "count", n)
			}
		}
		next, err := s.DeliverDue(ctx)
		if err != nil {
			s.log.Error("notify: cannot read the delivery queue", "err", err)
			next = s.clock.Now().Add(s.opts.Delivery.MinBackoff)
		}
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = s.clock.After(max(next.Sub(s.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-timer:
		}
	}
}

// Delivery results, the result label of vigil_notify_deliveries_total.
const (
	resultSuccess = "success" // delivered
	resultRetry   = "retry"   // an attempt failed; it will be tried again
	resultGaveUp  = "gave_up" // failed max_attempts times or older than max_age
	resultDropped = "dropped" // pushed out of a full queue, or its target is gone
)

// permanentError is a failure no retry can mend (a 410 Gone).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// DeliverDue makes one pass over the queue: every due delivery whose
// target has no earlier delivery waiting is attempted. It returns when the
// next attempt is due (zero: the queue is empty).
func (s *Service) DeliverDue(ctx context.Context) (next time.Time, err error) {
	if err := s.fanOut(); err != nil {
		return time.Time{}, err
	}
	pending, err := s.store.Pending()
	if err != nil {
		return time.Time{}, err
	}
	held := map[string]bool{}
	o := s.opts.Delivery
	for i := range pending {
		d := &pending[i]
		if ctx.Err() != nil {
			return next, nil
		}
		if held[d.Target] {
			continue
		}
		now := s.clock.Now()
		if now.Sub(d.Created) > o.MaxAge {
			s.finish(d, resultGaveUp, fmt.Errorf("older than max_age %s", o.MaxAge))
			continue
		}
		if d.NextAttempt.After(now) {
			held[d.Target] = true
			next = earliest(next, d.NextAttempt)
			continue
		}
		attemptCtx, cancel := context.WithTimeout(ctx, o.Timeout)
		err := s.attempt(attemptCtx, d)
		cancel()
		var perm permanentError
		switch {
		case err == nil:
			s.finish(d, resultSuccess, nil)
		case errors.Is(err, errNoSubscriber):
			// Unsubscribed or deleted since: nothing to deliver, nothing
			// failed.
			if err := s.store.Done(d.Seq); err != nil {
				s.log.Error("notify: cannot remove a delivery", "delivery", d.ID, "err", err)
			}
		case ctx.Err() != nil:
			return next, nil // shutting down: the attempt counts for nothing
		case errors.As(err, &perm):
			s.finish(d, resultDropped, err)
		default:
			d.Attempts++
			d.LastError = err.Error()
			if d.Attempts >= o.MaxAttempts {
				s.finish(d, resultGaveUp, err)
				continue
			}
			s.metrics.count(d.Channel, resultRetry)
			d.NextAttempt = s.clock.Now().Add(backoff(o.MinBackoff, o.MaxBackoff, d.Attempts))
			if err := s.store.Retry(d); err != nil {
				s.log.Error("notify: cannot record a failed attempt", "delivery", d.ID, "err", err)
			}
			s.log.Warn("notify: delivery failed, will retry", "delivery", d.ID, "channel", d.Channel,
				"subscriber", d.Target, "attempt", d.Attempts, "retry_at", d.NextAttempt, "err", err)
			held[d.Target] = true
			next = earliest(next, d.NextAttempt)
		}
	}
	return next, nil
}

// finish takes a delivery off the queue with its result.
func (s *Service) finish(d *Delivery, result string, cause error) {
	if err := s.store.Done(d.Seq); err != nil {
		s.log.Error("notify: cannot remove a delivery", "delivery", d.ID, "err", err)
		return
	}
	s.metrics.count(d.Channel, result)
	switch result {
	case resultSuccess:
		s.metrics.succeeded(d.Channel, s.clock.Now())
	default:
		s.log.Error("notify: delivery abandoned", "delivery", d.ID, "channel", d.Channel, "subscriber", d.Target,
			"result", result, "attempts", d.Attempts, "err", cause)
	}
}

// backoff is min doubled per failed attempt, at most max.
func backoff(minWait, maxWait time.Duration, attempts int) time.Duration {
	wait := minWait
	for i := 1; i < attempts && wait < maxWait; i++ {
		wait *= 2
	}
	return min(wait, maxWait)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// attempt makes one attempt of a delivery.
func (s *Service) attempt(ctx context.Context, d *Delivery) error {
	switch d.Channel {
	case ChannelWebhook:
		url, secret, err := s.webhookTarget(d.Target)
		if err != nil {
			return err
		}
		return s.postWebhook(ctx, url, secret, d)
	case ChannelEmail:
		if s.opts.SMTP == nil {
			return permanentError{errors.New("e-mail is not configured (notify.smtp)")}
		}
		return s.sendMail(ctx, d)
	}
	return permanentError{fmt.Errorf("unknown channel %q", d.Channel)}
}

// webhookTarget finds a webhook's URL and secret: a config webhook, or a
// subscriber.
func (s *Service) webhookTarget(id string) (url, secret string, err error) {
	for i := range s.opts.Webhooks {
		if w := &s.opts.Webhooks[i]; w.id() == id {
			return w.URL, w.Secret, nil
		}
	}
	sub, err := s.store.Subscriber(id)
	if err != nil {
		return "", "", err
	}
	if sub == nil || sub.Type != ChannelWebhook {
		return "", "", errNoSubscriber
	}
	return sub.URL, sub.Secret, nil
}
