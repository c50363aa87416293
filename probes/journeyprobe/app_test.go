package journeyprobe_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// app is the loopback application the journeys prove: a login that issues a
// bearer token (and a session cookie), a message API whose POST publishes the
// message to a JetStream subject, GET returns it, DELETE deletes it; an
// embedded nats-server holds the stream.
type app struct {
	t        *testing.T
	password string
	http     *httptest.Server
	nats     *natsserver.Server
	js       jetstream.JetStream

	mu sync.Mutex
	// tokens maps issued tokens to their expiry.
	tokens   map[string]time.Time
	messages map[int]string
	nextID   int
	// tokenTTL is how long an issued token is valid; negative issues
	// tokens already expired.
	tokenTTL time.Duration
	// undelivered makes POST /messages store the message but never publish
	// it.
	undelivered bool
	// deletes records the text of every DELETE /messages?text= request.
	deletes []string
	// posted records the text of every message posted.
	posted []string
	// issued records every token issued.
	issued []string
}

const (
	appSubject = "app.messages"
	appStream  = "APP_MESSAGES"
)

func newApp(t *testing.T, password string) *app {
	t.Helper()
	a := &app{t: t, password: password, tokens: map[string]time.Time{}, messages: map[int]string{}, tokenTTL: time.Minute}
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats-server not ready")
	}
	a.nats = s
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: appStream, Subjects: []string{appSubject}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	a.js = js

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /messages", a.post)
	mux.HandleFunc("GET /messages/{id}", a.get)
	mux.HandleFunc("DELETE /messages", a.delete)
	// slow answers only when the client gives up: a step that times out.
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "echo "+r.URL.RawQuery, http.StatusInternalServerError)
	})
	a.http = httptest.NewServer(mux)
	t.Cleanup(a.http.Close)
	return a
}

func (a *app) natsURL() string { return a.nats.ClientURL() }

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var creds struct{ User, Password string }
	if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
		http.Error(w, "bad login body", http.StatusBadRequest)
		return
	}
	if creds.Password != a.password {
		http.Error(w, "wrong user or password", http.StatusUnauthorized)
		return
	}
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	a.mu.Lock()
	a.tokens[token] = time.Now().Add(a.tokenTTL)
	a.issued = append(a.issued, token)
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-" + token[:8]})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"token": token, "user": creds.User})
}

func (a *app) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	expiry, known := a.tokens[token]
	return ok && known && time.Now().Before(expiry)
}

func (a *app) post(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		http.Error(w, "token missing or expired", http.StatusUnauthorized)
		return
	}
	var msg struct{ Text string }
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "bad message body", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.nextID++
	id := a.nextID
	a.messages[id] = msg.Text
	a.posted = append(a.posted, msg.Text)
	undelivered := a.undelivered
	a.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"id": id, "text": msg.Text})
	if !undelivered {
		if _, err := a.js.Publish(r.Context(), appSubject, body); err != nil {
			http.Error(w, "publish: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	w.Header().Set("Location", "/messages/"+strconv.Itoa(id))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

func (a *app) get(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		http.Error(w, "token missing or expired", http.StatusUnauthorized)
		return
	}
	id, _ := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	text, ok := a.messages[id]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": id, "text": text})
}

// delete deletes the messages whose text is the query's text; clean-up
// needs no token, so that it works after a failed login too.
func (a *app) delete(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("text")
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deletes = append(a.deletes, text)
	for id, t := range a.messages {
		if t == text {
			delete(a.messages, id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// seen returns copies of what the app recorded.
func (a *app) seen() (posted, deletes, issued []string, left int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.posted...), append([]string(nil), a.deletes...), append([]string(nil), a.issued...), len(a.messages)
}
