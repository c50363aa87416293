package notify

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPublish is the cost of Publish to the caller: one fsynced
// commit of the event, whatever the subscribers (here 3 webhooks and 100
// e-mail addresses; the deliveries are made by the delivery loop).
func BenchmarkPublish(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), FileName), StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var hooks []Webhook
	for i := range 3 {
		hooks = append(hooks, Webhook{URL: fmt.Sprintf("http://127.0.0.1:9/%d", i), Secret: hookSecret})
	}
	for i := range 100 {
		if err := st.PutSubscriber(&Subscriber{ID: fmt.Sprintf("s%d", i), Type: ChannelEmail, Email: fmt.Sprintf("u%d@example.org", i), Confirmed: true}); err != nil {
			b.Fatal(err)
		}
	}
	svc, err := New(Options{Store: st, Webhooks: hooks, SMTP: &SMTP{Address: "127.0.0.1:9", From: "a@example.org"}, BaseURL: "http://x",
		Delivery: DeliveryOptions{MaxPending: 1 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	e := incidentEvent("inc-1", "an update of ordinary length, a sentence or two about what operators see")
	b.ResetTimer()
	for b.Loop() {
		if err := svc.Publish(e); err != nil {
			b.Fatal(err)
		}
	}
}
