package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The small app some targets serve beside their health endpoint, for the
// checks that prove a feature the way a user uses it: a message API behind
// a login (the journey of "Messages: send / receive") and a page with a
// road-view panel (the browser check of "Road view"). Both answer only
// while the target is up.

// Paths of the app.
const (
	loginPath    = "/v1/login"
	messagesPath = "/v1/messages"
	mapPath      = "/map"
)

// app is a target's message store and the tokens it issued.
type app struct {
	tokens   map[string]bool
	messages map[int]string
	nextID   int
}

// routeApp adds the app's handlers to mux.
func (t *Target) routeApp(mux *http.ServeMux) {
	mux.HandleFunc("POST "+loginPath, t.login)
	mux.HandleFunc("POST "+messagesPath, t.postMessage)
	mux.HandleFunc("GET "+messagesPath+"/{id}", t.getMessage)
	mux.HandleFunc("DELETE "+messagesPath+"/{id}", t.deleteMessage)
	mux.HandleFunc("GET "+mapPath, t.mapPage)
}

// up answers 503 and returns false while the target is not up.
func (t *Target) up(w http.ResponseWriter) bool {
	if state, _ := t.answer(); state == Down {
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (t *Target) login(w http.ResponseWriter, r *http.Request) {
	if !t.up(w) {
		return
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	t.mu.Lock()
	if t.app.tokens == nil {
		t.app.tokens, t.app.messages = map[string]bool{}, map[int]string{}
	}
	t.app.tokens[token] = true
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token":%q}`+"\n", token)
}

// authorized checks the bearer token, answering 401 when it is not one the
// target issued.
func (t *Target) authorized(w http.ResponseWriter, r *http.Request) bool {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t.mu.Lock()
	ok := t.app.tokens[token]
	t.mu.Unlock()
	if !ok {
		http.Error(w, `{"error":"log in first"}`, http.StatusUnauthorized)
	}
	return ok
}

func (t *Target) postMessage(w http.ResponseWriter, r *http.Request) {
	if !t.up(w) || !t.authorized(w, r) {
		return
	}
	var m struct{ Text string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&m); err != nil || m.Text == "" {
		http.Error(w, `{"error":"want {\"text\": ...}"}`, http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	t.app.nextID++
	id := t.app.nextID
	t.app.messages[id] = m.Text
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%d,"text":%q}`+"\n", id, m.Text)
}

func (t *Target) message(w http.ResponseWriter, r *http.Request) (int, string, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	t.mu.Lock()
	text, ok := t.app.messages[id]
	t.mu.Unlock()
	if err != nil || !ok {
		http.Error(w, `{"error":"no such message"}`, http.StatusNotFound)
		return 0, "", false
	}
	return id, text, true
}

func (t *Target) getMessage(w http.ResponseWriter, r *http.Request) {
	if !t.up(w) || !t.authorized(w, r) {
		return
	}
	if id, text, ok := t.message(w, r); ok {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%d,"text":%q}`+"\n", id, text)
	}
}

func (t *Target) deleteMessage(w http.ResponseWriter, r *http.Request) {
	if !t.up(w) || !t.authorized(w, r) {
		return
	}
	if id, _, ok := t.message(w, r); ok {
		t.mu.Lock()
		delete(t.app.messages, id)
		t.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// mapPage is a page whose road-view panel a script shows once it loaded,
// as a map application does.
func (t *Target) mapPage(w http.ResponseWriter, r *http.Request) {
	if !t.up(w) {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kakao Map (demo)</title></head>
<body><h1>Kakao Map</h1><div id="map">map tiles</div>
<div id="roadview" hidden>Road view: Pangyo Station</div>
<script>setTimeout(function(){document.getElementById("roadview").hidden=false},50)</script>
</body></html>`)
}
