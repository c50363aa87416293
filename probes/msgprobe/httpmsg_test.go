package msgprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// chatServer is a small chat API for the http protocol's tests:
//
//	POST /messages           {"text": "..."} or text=... (form); 201
//	GET  /messages           {"messages":[{"id":1,"text":"..."},...]}, whole history, with ETag
//	GET  /messages?wait=1    long-poll: held while If-None-Match is the current ETag
//	GET  /messages (Accept: text/event-stream)  one event per new message
//	GET  /history            as GET /messages, never a stream
//
// chatHistory is how many recent messages the chat server keeps and lists.
const chatHistory = 100

type chatServer struct {
	srv *httptest.Server

	mu       sync.Mutex
	messages []string // the last chatHistory messages
	version  int      // messages ever stored
	posts    int
	changed  chan struct{} // closed and replaced on every new message
	// failPost answers every POST with 500; loseEvery drops every n-th posted
	// message (answering 201 all the same); token, when set, is the bearer
	// token every request must carry.
	failPost  bool
	loseEvery int
	token     string
}

func newChatServer(t testing.TB) *chatServer {
	t.Helper()
	c := &chatServer{changed: make(chan struct{})}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serveHTTP))
	t.Cleanup(func() {
		// Streams and long-polls end with their requests' contexts.
		c.srv.CloseClientConnections()
		c.srv.Close()
	})
	return c
}

// config is a messaging block for this server in the given receive mode.
func (c *chatServer) config(mode string) *Config {
	cfg := &Config{Protocol: "http", URL: c.srv.URL + "/messages"}
	cfg.Receive.Mode = mode
	switch mode {
	case "poll":
		cfg.Receive.Interval = probeconfig.Duration(20 * time.Millisecond)
	case "long-poll":
		cfg.Receive.URL = c.srv.URL + "/messages?wait=1"
	}
	return cfg
}

// add stores a message as if someone had posted it.
func (c *chatServer) add(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages = append(c.messages, text)
	c.version++
	if len(c.messages) > chatHistory {
		c.messages = c.messages[len(c.messages)-chatHistory:]
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// state returns the history, its version and a channel closed on the next
// change.
func (c *chatServer) state() ([]string, int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.messages, c.version, c.changed
}

func etagOf(version int) string { return `"v` + strconv.Itoa(version) + `"` }

func (c *chatServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if c.token != "" && r.Header.Get("Authorization") != "Bearer "+c.token {
		http.Error(w, "who are you", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost:
		c.post(w, r)
	case r.Method == http.MethodGet && r.Header.Get("Accept") == "text/event-stream" && r.URL.Path == "/messages":
		c.stream(w, r)
	case r.Method == http.MethodGet:
		c.list(w, r)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (c *chatServer) post(w http.ResponseWriter, r *http.Request) {
	var text string
	switch r.Header.Get("Content-Type") {
	case "application/json":
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		text = body.Text
	case "application/x-www-form-urlencoded":
		text = r.FormValue("text")
	default:
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	c.mu.Lock()
	c.posts++
	failPost, lost := c.failPost, c.loseEvery > 0 && c.posts%c.loseEvery == 0
	c.mu.Unlock()
	if failPost {
		http.Error(w, "database on fire", http.StatusInternalServerError)
		return
	}
	if !lost {
		c.add(text)
	}
	w.WriteHeader(http.StatusCreated)
}

type chatMessage struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

func (c *chatServer) list(w http.ResponseWriter, r *http.Request) {
	messages, version, changed := c.state()
	if r.URL.Query().Get("wait") != "" && r.Header.Get("If-None-Match") == etagOf(version) {
		timer := time.NewTimer(2 * time.Second)
		defer timer.Stop()
		select {
		case <-changed:
			messages, version, _ = c.state()
		case <-timer.C:
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
	}
	if r.Header.Get("If-None-Match") == etagOf(version) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	out := struct {
		Messages []chatMessage `json:"messages"`
	}{Messages: []chatMessage{}}
	first := version - len(messages) + 1
	for i, text := range messages {
		out.Messages = append(out.Messages, chatMessage{ID: first + i, Text: text})
	}
	w.Header().Set("ETag", etagOf(version))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (c *chatServer) stream(w http.ResponseWriter, r *http.Request) {
	_, sent, changed := c.state()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush()
	for {
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
		var messages []string
		var version int
		messages, version, changed = c.state()
		first := version - len(messages) // id of messages[0], minus one
		for sent = max(sent, first); sent < version; sent++ {
			data, _ := json.Marshal(chatMessage{ID: sent + 1, Text: messages[sent-first]})
			fmt.Fprintf(w, "id: %d\nevent: message\ndata: %s\n\n", sent+1, data)
		}
		flusher.Flush()
	}
}

func TestHTTPTransportModes(t *testing.T) {
	tests := []struct {
		name string
		mode string
		edit func(cfg *Config)
	}{
		{name: "poll", mode: "poll"},
		{name: "long-poll", mode: "long-poll"},
		{name: "sse", mode: "sse"},
		{name: "poll with form body", mode: "poll", edit: func(cfg *Config) {
			cfg.BodyTemplate = "text={{.Payload}}"
			cfg.ContentType = "application/x-www-form-urlencoded"
		}},
		{name: "sse with capture group", mode: "sse", edit: func(cfg *Config) {
			cfg.Receive.ExtractRegexp = probeconfig.Regexp{Regexp: mustCompile(t, `"text":"([^"]+)"`)}
		}},
		{name: "long-poll with bearer token", mode: "long-poll", edit: func(cfg *Config) {
			cfg.BearerToken = "chat-token"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat := newChatServer(t)
			if tt.name == "long-poll with bearer token" {
				chat.token = "chat-token"
			}
			// History from before the run must not be delivered.
			for _, old := range testPayloadsMore(2) {
				chat.add(string(old))
			}
			cfg := chat.config(tt.mode)
			if tt.edit != nil {
				tt.edit(cfg)
			}
			tr, got := startTransport(t, cfg)
			want := testPayloadsMore(4)
			publishAll(t, tr, want)
			assertSame(t, got.waitFor(t, len(want), 5*time.Second), asStrings(want))
		})
	}
}

func TestHTTPTransportLosesMessage(t *testing.T) {
	for _, mode := range []string{"poll", "long-poll", "sse"} {
		t.Run(mode, func(t *testing.T) {
			chat := newChatServer(t)
			chat.loseEvery = 2
			tr, got := startTransport(t, chat.config(mode))
			sent := testPayloadsMore(5)
			publishAll(t, tr, sent)
			// Messages arrive in order, so once the 5th is in, the 2nd and 4th
			// are known lost.
			want := []string{string(sent[0]), string(sent[2]), string(sent[4])}
			assertSame(t, got.waitFor(t, len(want), 5*time.Second), want)
		})
	}
}

func TestHTTPTransportErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(chat *chatServer, cfg *Config)
		failsIn string
		want    []string
	}{
		{
			name:    "POST answered 500",
			setup:   func(chat *chatServer, cfg *Config) { chat.failPost = true },
			failsIn: "Publish",
			want:    []string{"POST http://127.0.0.1:", "/messages: status 500 Internal Server Error"},
		},
		{
			name:    "missing token",
			setup:   func(chat *chatServer, cfg *Config) { chat.token = "needed" },
			failsIn: "Subscribe",
			want:    []string{"read http://127.0.0.1:", "status 401 Unauthorized"},
		},
		{
			name: "not an event stream",
			setup: func(chat *chatServer, cfg *Config) {
				cfg.Receive.Mode = "sse"
				cfg.Receive.URL = chat.srv.URL + "/history?token=secret-in-query"
			},
			failsIn: "Subscribe",
			want:    []string{"open event stream http://127.0.0.1:", `content type "application/json", want text/event-stream`},
		},
		{
			name:    "server down",
			setup:   func(chat *chatServer, cfg *Config) { cfg.URL = "http://" + closedPortAddr(t) + "/messages" },
			failsIn: "Subscribe",
			want:    []string{"connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat := newChatServer(t)
			cfg := chat.config("poll")
			tt.setup(chat, cfg)
			tr, err := buildTransport(cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tr.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			err = tr.Subscribe(ctx, func([]byte) {})
			if tt.failsIn == "Publish" {
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				err = tr.Publish(ctx, testPayloadsMore(1)[0])
			}
			if err == nil {
				t.Fatalf("%s succeeded, want an error", tt.failsIn)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-in-query") {
				t.Errorf("error %q shows the url's query", err)
			}
		})
	}
}

func TestHTTPFactoryValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{name: "defaults", cfg: Config{URL: "https://chat.example.com/api/messages"}},
		{name: "bad scheme", cfg: Config{URL: "ftp://127.0.0.1/"}, paths: []string{"url"}},
		{name: "bad receive url", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{Receive: HTTPReceiveOptions{URL: "ws://127.0.0.1/"}}}, paths: []string{"receive.url"}},
		{name: "bad mode", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{Receive: HTTPReceiveOptions{Mode: "push"}}}, paths: []string{"receive.mode"}},
		{name: "interval too short", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{Receive: HTTPReceiveOptions{Interval: probeconfig.Duration(time.Millisecond)}}}, paths: []string{"receive.interval"}},
		{name: "bad template", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{BodyTemplate: "{{.Payload"}}, paths: []string{"body_template"}},
		{name: "unknown template field", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{BodyTemplate: "{{.Text}}"}}, paths: []string{"body_template"}},
		{name: "bad method", cfg: Config{URL: "http://127.0.0.1/", HTTPOptions: HTTPOptions{Method: "PO ST"}}, paths: []string{"method"}},
		{name: "password without username", cfg: Config{URL: "http://127.0.0.1/", Password: "p"}, paths: []string{"username"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Protocol = "http"
			_, err := buildTransport(&tt.cfg, probes.Options{})
			assertFieldPaths(t, err, tt.paths)
		})
	}
}

func TestHTTPProbeRoundTrip(t *testing.T) {
	tests := []struct {
		mode      string
		loseEvery int
	}{
		{mode: "poll"}, {mode: "long-poll"}, {mode: "sse"},
		{mode: "poll", loseEvery: 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s lose every %d", tt.mode, tt.loseEvery), func(t *testing.T) {
			chat := newChatServer(t)
			chat.loseEvery = tt.loseEvery
			cfg := chat.config(tt.mode)
			cfg.Messages = 4
			if tt.loseEvery == 0 {
				assertRoundTrip(t, runRoundTrip(t, cfg), 4)
				return
			}
			// The lost message keeps the run waiting until its deadline.
			r := runRoundTripWith(t, cfg, testOptions(t), time.Second)
			if m := r.Messaging; r.Success || m.Sent != 4 || m.Received != 3 || m.Lost != 1 {
				t.Errorf("success=%v sent=%d received=%d lost=%d, want failure, 4, 3, 1", r.Success, m.Sent, m.Received, m.Lost)
			}
			if r.Err == nil || !strings.Contains(r.Err.Error(), "1 of 4 messages lost") {
				t.Errorf("error = %v, want it to say 1 of 4 messages lost", r.Err)
			}
		})
	}
}

func mustCompile(t testing.TB, pattern string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
