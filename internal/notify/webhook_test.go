package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// receiver is a webhook endpoint as a subscriber would write one: it
// checks the signature and dedupes by delivery id.
type receiver struct {
	secret string
	srv    *httptest.Server

	mu sync.Mutex
	// fail answers 503 to this many requests; cut reads this many
	// requests, keeps them, and closes the connection without answering.
	fail, cut int
	requests  int
	badSig    int
	unique    []received
	seen      map[string]bool
	arrived   chan struct{}
}

type received struct {
	delivery, event, incident, message string
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{secret: secret, seen: map[string]bool{}, arrived: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer func() { rc.arrived <- struct{}{} }()
	defer rc.mu.Unlock()
	rc.requests++
	if !VerifySignature(rc.secret, body, r.Header.Get(HeaderSignature)) {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || string(e.Type) != r.Header.Get(HeaderEvent) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(HeaderDelivery)
	if !rc.seen[id] {
		rc.seen[id] = true
		got := received{delivery: id, event: string(e.Type)}
		if e.Incident != nil {
			got.incident = e.Incident.ID
			if e.Incident.Update != nil {
				got.message = e.Incident.Update.Message.In("en")
			}
		}
		rc.unique = append(rc.unique, got)
	}
	switch {
	case rc.cut > 0:
		rc.cut--
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case rc.fail > 0:
		rc.fail--
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}
}

func (rc *receiver) snapshot() (requests, badSig int, unique []received) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, rc.badSig, append([]received(nil), rc.unique...)
}

// incidentEvent is an update event of incident id with message text.
func incidentEvent(id, text string) Event {
	return Event{Type: IncidentUpdated, Incident: &IncidentInfo{ID: id, Title: "datacenter pangyo: 4 features down",
		Affected: []FeatureRef{{Service: "talk", Feature: "message-send-receive"}}, Start: t0,
		Update: &Update{IncidentID: id, Status: Identified, Message: Message{"en": text}, At: t0}}}
}

const hookSecret = "s3cret-of-the-hook"

func TestSign(t *testing.T) {
	// The value a receiver computes with: printf '{"a":1}' | openssl dgst -sha256 -hmac key
	got := Sign("key", []byte(`{"a":1}`))
	if want := "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"; got != want {
		t.Fatalf("Sign = %q, want %q (openssl's)", got, want)
	}
	if !VerifySignature("key", []byte(`{"a":1}`), got) || VerifySignature("other", []byte(`{"a":1}`), got) ||
		VerifySignature("key", []byte(`{"a":2}`), got) {
		t.Fatal("VerifySignature accepts what it should not, or refuses its own signature")
	}
}

// A target that fails its first attempts gets every event once, in order,
// after backoff doubling from min_backoff; the counters say so.
func TestWebhookDownThenUpDrainsInOrder(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	rc.fail = 3
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: rc.srv.URL + "/hook?token=abc", Secret: hookSecret}},
		Delivery: DeliveryOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second}})
	for i := 1; i <= 3; i++ {
		if err := f.svc.Publish(incidentEvent("inc-1", fmt.Sprintf("update %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.PendingCount(); n != 3 {
		t.Fatalf("pending after 3 events = %d, want 3", n)
	}
	var waits []time.Duration
	last := f.clock.Now()
	for range 10 {
		next, err := f.svc.DeliverDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			break
		}
		waits = append(waits, next.Sub(last))
		last = next
		f.clock.Set(next)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits between attempts = %v, want %v (min_backoff doubling)", waits, want)
	}
	requests, badSig, unique := rc.snapshot()
	if requests != 6 || badSig != 0 {
		t.Errorf("requests = %d (bad signatures %d), want 6 (3 failed + 3 delivered) and 0", requests, badSig)
	}
	var messages []string
	for _, u := range unique {
		messages = append(messages, u.message)
		if u.event != "incident.updated" || u.incident != "inc-1" {
			t.Errorf("received %+v, want incident.updated of inc-1", u)
		}
	}
	if got := strings.Join(messages, ","); got != "update 1,update 2,update 3" {
		t.Errorf("delivered in order %q, want update 1,update 2,update 3", got)
	}
	m := f.metrics()
	golden(t, "testdata/metrics.golden", m)
	for series, want := range map[string]float64{
		`vigil_notify_deliveries_total{channel="webhook",result="success"}`: 3,
		`vigil_notify_deliveries_total{channel="webhook",result="retry"}`:   3,
		`vigil_notify_deliveries_total{channel="webhook",result="gave_up"}`: 0,
		`vigil_notify_queue_pending`:                                        0,
		`vigil_notify_last_success_timestamp_seconds{channel="webhook"}`:    float64(t0.Add(7*time.Second).UnixNano()) / 1e9,
		`vigil_notify_last_success_timestamp_seconds{channel="email"}`:      0,
	} {
		if got := sample(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if strings.Contains(f.logs.String(), "token=abc") {
		t.Errorf("a webhook URL's query (a secret) is in the logs:\n%s", f.logs)
	}
}

// A delivery whose answer was lost (the receiver got it, the connection
// dropped) is sent again after a restart with the same delivery id, so a
// receiver that dedupes sees it exactly once.
func TestWebhookRestartMidRetryDeliversOnce(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	rc.cut = 1
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: rc.srv.URL, Secret: hookSecret}},
		Delivery: DeliveryOptions{MinBackoff: time.Minute}})
	if err := f.svc.Publish(incidentEvent("inc-1", "we found it")); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Minute); !next.Equal(want) {
		t.Fatalf("after a lost answer the next attempt is at %v, want %v", next, want)
	}
	f.restart()
	pending, err := f.store.Pending()
	if err != nil || len(pending) != 1 || pending[0].Attempts != 1 || pending[0].LastError == "" {
		t.Fatalf("after restart the queue is %+v (%v), want the delivery with 1 attempt and its error", pending, err)
	}
	f.clock.Set(next)
	f.drain(5)
	requests, _, unique := rc.snapshot()
	if requests != 2 || len(unique) != 1 || unique[0].message != "we found it" || unique[0].delivery != pending[0].ID {
		t.Errorf("requests %d, unique %+v: want 2 requests of one delivery %s", requests, unique, pending[0].ID)
	}
}

// A target that never answers is given up after max_attempts, and counted.
func TestWebhookGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + l.Addr().String() + "/hook"
	_ = l.Close() // nothing listens there now: connection refused
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: deadURL, Secret: hookSecret}},
		Delivery: DeliveryOptions{MaxAttempts: 3, MinBackoff: time.Second}})
	if err := f.svc.Publish(incidentEvent("inc-1", "x")); err != nil {
		t.Fatal(err)
	}
	f.drain(10)
	m := f.metrics()
	if got := sample(m, `vigil_notify_deliveries_total{channel="webhook",result="retry"}`); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
	if got := sample(m, `vigil_notify_deliveries_total{channel="webhook",result="gave_up"}`); got != 1 {
		t.Errorf("gave_up = %v, want 1", got)
	}
	if !strings.Contains(f.logs.String(), "connection refused") {
		t.Errorf("logs do not say why the delivery was abandoned:\n%s", f.logs)
	}
}

// Over max_age a delivery gives up without another attempt.
func TestWebhookMaxAge(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	rc.fail = 100
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: rc.srv.URL, Secret: hookSecret}},
		Delivery: DeliveryOptions{MaxAge: time.Hour, MinBackoff: 40 * time.Minute, MaxBackoff: 40 * time.Minute}})
	if err := f.svc.Publish(incidentEvent("inc-1", "x")); err != nil {
		t.Fatal(err)
	}
	passes := f.drain(10)
	requests, _, _ := rc.snapshot()
	if requests != 2 || passes != 3 {
		t.Errorf("requests = %d in %d passes, want 2 attempts (0 and 40 min) and a third pass past max_age", requests, passes)
	}
	if got := sample(f.metrics(), `vigil_notify_deliveries_total{channel="webhook",result="gave_up"}`); got != 1 {
		t.Errorf("gave_up = %v, want 1", got)
	}
}

// A full queue drops its oldest deliveries and counts them; what is left
// is the newest.
func TestQueueCapDropsOldest(t *testing.T) {
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: "http://127.0.0.1:9/never", Secret: hookSecret}},
		Delivery: DeliveryOptions{MaxPending: 5}})
	for i := range 8 {
		if err := f.svc.Publish(incidentEvent("inc-1", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.fanOut(); err != nil {
		t.Fatal(err)
	}
	m := f.metrics()
	if got := sample(m, `vigil_notify_queue_pending`); got != 5 {
		t.Errorf("pending = %v, want 5", got)
	}
	if got := sample(m, `vigil_notify_deliveries_total{channel="webhook",result="dropped"}`); got != 3 {
		t.Errorf("dropped = %v, want 3", got)
	}
	pending, _ := f.store.Pending()
	var first Event
	_ = json.Unmarshal(pending[0].Body, &first)
	if got := first.Incident.Update.Message.In("en"); got != "3" {
		t.Errorf("oldest kept is update %q, want 3", got)
	}
}

// Webhooks choose their events and services; a failing target holds back
// only its own deliveries.
func TestWebhookFiltersAndIndependentTargets(t *testing.T) {
	good, maint, down := newReceiver(t, hookSecret), newReceiver(t, hookSecret), newReceiver(t, hookSecret)
	down.fail = 100
	f := newFixture(t, Options{Webhooks: []Webhook{
		{URL: good.srv.URL, Secret: hookSecret, Services: []string{"talk"}},
		{URL: maint.srv.URL, Secret: hookSecret, Events: []string{"maintenance.*"}},
		{URL: down.srv.URL, Secret: hookSecret},
	}, Delivery: DeliveryOptions{MinBackoff: time.Hour}})
	events := []Event{
		incidentEvent("inc-1", "talk"),
		{Type: IncidentOpened, Incident: &IncidentInfo{ID: "inc-2", Affected: []FeatureRef{{Service: "map"}}}},
		{Type: MaintenanceStarted, Maintenance: &MaintenanceInfo{ID: "mw-1", Affected: []FeatureRef{{Service: "talk"}}, Start: t0, End: t0.Add(time.Hour)}},
	}
	for _, e := range events {
		if err := f.svc.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, _, g := good.snapshot()
	_, _, mt := maint.snapshot()
	downRequests, _, _ := down.snapshot()
	if len(g) != 2 || g[0].incident != "inc-1" || g[1].event != "maintenance.started" {
		t.Errorf("talk-only webhook got %+v, want inc-1 and the maintenance", g)
	}
	if len(mt) != 1 || mt[0].event != "maintenance.started" {
		t.Errorf("maintenance webhook got %+v, want only maintenance.started", mt)
	}
	if downRequests != 1 || f.store.PendingCount() != 3 {
		t.Errorf("failing target: %d requests and %d pending, want 1 (its later deliveries wait behind the first) and 3", downRequests, f.store.PendingCount())
	}
}

// Run delivers in its own goroutine on the injected clock: a new event
// wakes it, a failed attempt waits for the clock.
func TestRunLoop(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	rc.fail = 1
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: rc.srv.URL, Secret: hookSecret}},
		Delivery: DeliveryOptions{MinBackoff: 30 * time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := f.svc.Publish(incidentEvent("inc-1", "first")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rc.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt within 10s of Publish")
	}
	testenv.WaitFor(t, 10*time.Second, "the loop waits for its retry timer", func() bool { return f.clock.Waiting() > 0 })
	f.clock.Set(t0.Add(30 * time.Second))
	select {
	case <-rc.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no retry within 10s of the clock reaching it")
	}
	testenv.WaitFor(t, 10*time.Second, "the queue to empty", func() bool { return f.store.PendingCount() == 0 })
	_, _, unique := rc.snapshot()
	if len(unique) != 1 || unique[0].message != "first" {
		t.Errorf("received %+v, want the one update", unique)
	}
}

// An event published just before a restart, not yet turned into
// deliveries, is delivered after it.
func TestPublishedEventSurvivesRestart(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	f := newFixture(t, Options{Webhooks: []Webhook{{URL: rc.srv.URL, Secret: hookSecret}}})
	if err := f.svc.Publish(incidentEvent("inc-1", "just before the crash")); err != nil {
		t.Fatal(err)
	}
	if n := f.store.PendingCount(); n != 1 {
		t.Errorf("pending before fan-out = %d, want 1 (the event)", n)
	}
	f.restart()
	f.drain(3)
	_, _, unique := rc.snapshot()
	if len(unique) != 1 || unique[0].message != "just before the crash" {
		t.Errorf("received %+v", unique)
	}
}
