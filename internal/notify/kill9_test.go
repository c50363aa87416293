package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// kill9ChildEnv holds the store file of the child process of
// TestWebhookKill9MidQueue; kill9URLEnv the webhook's URL.
const (
	kill9ChildEnv = "VIGIL_NOTIFY_KILL9_STORE"
	kill9URLEnv   = "VIGIL_NOTIFY_KILL9_URL"
)

// runKill9Child publishes three events and delivers until it is killed;
// it returns an exit code only on failure.
func runKill9Child() int {
	st, err := Open(os.Getenv(kill9ChildEnv), StoreOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	svc, err := New(Options{Store: st, Webhooks: []Webhook{{URL: os.Getenv(kill9URLEnv), Secret: hookSecret}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 1; i <= 3; i++ {
		if err := svc.Publish(incidentEvent("inc-1", fmt.Sprintf("update %d", i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	svc.Run(context.Background()) // until killed
	return 1
}

// A process killed (SIGKILL) while a delivery is in flight loses nothing:
// after a restart every event arrives, in order, once per delivery id.
func TestWebhookKill9MidQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	var (
		mu       sync.Mutex
		requests []string // delivery ids, every request
		messages []string // unique deliveries' messages
		seen     = map[string]bool{}
	)
	first := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !VerifySignature(hookSecret, body, r.Header.Get(HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(HeaderDelivery)
		var e Event
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		requests = append(requests, id)
		n := len(requests)
		if !seen[id] {
			seen[id] = true
			messages = append(messages, e.Incident.Update.Message.In("en"))
		}
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release // the child is killed while waiting for this answer
		}
	}))
	defer srv.Close()
	defer close(release)

	file := filepath.Join(t.TempDir(), FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), kill9ChildEnv+"="+file, kill9URLEnv+"="+srv.URL)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the child made no delivery within 30s:\n%s", out.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	st, err := Open(file, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, err := st.Pending()
	if err != nil || len(pending) != 3 {
		t.Fatalf("after kill -9: %d pending (%v), want all 3", len(pending), err)
	}
	clock := &fakeClock{now: time.Now()}
	svc, err := New(Options{Store: st, Clock: clock, Webhooks: []Webhook{{URL: srv.URL, Secret: hookSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		next, err := svc.DeliverDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			break
		}
		clock.Set(next)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(messages, ","); got != "update 1,update 2,update 3" {
		t.Errorf("delivered %q, want update 1,update 2,update 3 once each", got)
	}
	if len(requests) != 4 || requests[0] != requests[1] {
		t.Errorf("requests %v: want 4, the first delivery sent again with its id", requests)
	}
}
