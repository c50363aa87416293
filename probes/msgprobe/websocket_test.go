package msgprobe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// echoBehaviour is what a test WebSocket endpoint does with each text frame.
type echoBehaviour int

const (
	echoPlain     echoBehaviour = iota // send it back once
	echoTwice                          // send it back twice (duplicates)
	echoDropEven                       // send back only odd-numbered frames (loss)
	echoHangClose                      // echo, but never answer the closing handshake
)

// echoServer is an httptest server with a coder/websocket echo endpoint.
type echoServer struct {
	url string
	// handshake headers of the last connection
	lastAuth, lastToken, lastProtocol atomic.Value
}

// newEchoServer starts an echo endpoint; it closes when the test ends.
func newEchoServer(t testing.TB, behaviour echoBehaviour) *echoServer {
	t.Helper()
	es := &echoServer{}
	release := make(chan struct{}) // lets echoHangClose handlers return at the end
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		es.lastAuth.Store(r.Header.Get("Authorization"))
		es.lastToken.Store(r.Header.Get("X-Token"))
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"vigil.echo"}})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		es.lastProtocol.Store(conn.Subprotocol())
		ctx := r.Context()
		for frame := 1; ; frame++ {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			copies := 1
			switch {
			case behaviour == echoTwice:
				copies = 2
			case behaviour == echoDropEven && frame%2 == 0:
				copies = 0
			}
			for range copies {
				if err := conn.Write(ctx, typ, data); err != nil {
					return
				}
			}
			if behaviour == echoHangClose && frame == 1 {
				// Stop reading: the client's close frame is never answered.
				<-release
				return
			}
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	es.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return es
}

func TestWebSocketTransport(t *testing.T) {
	tests := []struct {
		name      string
		behaviour echoBehaviour
		send      int
		want      []int // indexes of the sent payloads expected back, in order
	}{
		{name: "echo", behaviour: echoPlain, send: 4, want: []int{0, 1, 2, 3}},
		{name: "duplicating endpoint", behaviour: echoTwice, send: 3, want: []int{0, 0, 1, 1, 2, 2}},
		{name: "dropping endpoint", behaviour: echoDropEven, send: 5, want: []int{0, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEchoServer(t, tt.behaviour)
			tr, got := startTransport(t, &Config{Protocol: "websocket", URL: srv.url})
			sent := testPayloadsMore(tt.send)
			publishAll(t, tr, sent)
			var want []string
			for _, i := range tt.want {
				want = append(want, string(sent[i]))
			}
			// The endpoint echoes in order, so the last expected frame coming
			// back means every earlier one would have too.
			assertSame(t, got.waitFor(t, len(want), 5*time.Second), want)
			if behaviour := tt.behaviour; behaviour == echoDropEven {
				// One more frame (sent 6th, dropped) and a 7th (echoed) show
				// nothing else was on its way.
				more := testPayloadsMore(2)
				publishAll(t, tr, more)
				want = append(want, string(more[1]))
				assertSame(t, got.waitFor(t, len(want), 5*time.Second), want)
			}
		})
	}
}

func TestWebSocketHandshakeOptions(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		userinfo  string // put in the url
		wantAuth  string
		wantToken string
	}{
		{
			name:      "basic auth and header",
			cfg:       Config{Username: "alice", Password: "pw", HTTPOptions: HTTPOptions{Headers: map[string]string{"X-Token": "t1"}}},
			wantAuth:  "Basic YWxpY2U6cHc=",
			wantToken: "t1",
		},
		{
			name:     "userinfo in url",
			userinfo: "alice:pw@",
			wantAuth: "Basic YWxpY2U6cHc=",
		},
		{
			name:     "bearer token",
			cfg:      Config{HTTPOptions: HTTPOptions{BearerToken: "tok"}},
			wantAuth: "Bearer tok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEchoServer(t, echoPlain)
			cfg := tt.cfg
			cfg.Protocol, cfg.URL = "websocket", strings.Replace(srv.url, "ws://", "ws://"+tt.userinfo, 1)
			cfg.Subprotocols = []string{"other", "vigil.echo"}
			startTransport(t, &cfg)
			if got := srv.lastAuth.Load(); got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
			if got := srv.lastToken.Load(); got != tt.wantToken {
				t.Errorf("X-Token = %q, want %q", got, tt.wantToken)
			}
			// The server records the subprotocol after Accept has answered the
			// handshake, so the client may be connected a moment before it does.
			testenv.Poll(2*time.Second, func() bool { return srv.lastProtocol.Load() != nil })
			if got := srv.lastProtocol.Load(); got != "vigil.echo" {
				t.Errorf("negotiated subprotocol = %q, want vigil.echo", got)
			}
		})
	}
}

// A peer that never answers the close frame must not hold Close for long.
func TestWebSocketCloseBounded(t *testing.T) {
	srv := newEchoServer(t, echoHangClose)
	tr, err := buildTransport(&Config{Protocol: "websocket", URL: srv.url}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	got := newCollector()
	if err := tr.Subscribe(ctx, got.deliver); err != nil {
		t.Fatal(err)
	}
	sent := testPayloadsMore(1)
	publishAll(t, tr, sent)
	assertSame(t, got.waitFor(t, 1, 5*time.Second), asStrings(sent))
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > websocketCloseWait+time.Second {
		t.Errorf("Close took %v, want at most %v", d, websocketCloseWait+time.Second)
	}
	if tr.(*websocketTransport).Alive() {
		t.Error("Alive() = true after Close")
	}
}

func TestWebSocketErrors(t *testing.T) {
	refused := &Config{Protocol: "websocket", URL: "ws://" + closedPortAddr(t) + "/echo"}
	notWS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websocket here", http.StatusForbidden)
	}))
	defer notWS.Close()
	forbidden := &Config{Protocol: "websocket", URL: "ws://user:hunter2@" + strings.TrimPrefix(notWS.URL, "http://") + "/chat?token=abc"}
	tests := []struct {
		name string
		cfg  *Config
		want []string
	}{
		{name: "connection refused", cfg: refused, want: []string{"handshake with ws://127.0.0.1:", "/echo", "refused"}},
		{name: "handshake refused", cfg: forbidden, want: []string{"handshake with ws://127.0.0.1:", "/chat", "403 Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := buildTransport(tt.cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = tr.Connect(ctx)
			if err == nil {
				t.Fatal("Connect succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"hunter2", "token=abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
		})
	}
}

func TestWebSocketFactoryValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{name: "valid wss", cfg: Config{URL: "wss://127.0.0.1:8443/echo"}},
		{name: "http scheme", cfg: Config{URL: "http://127.0.0.1/echo"}, paths: []string{"url"}},
		{name: "empty subprotocol", cfg: Config{URL: "ws://127.0.0.1/", WebSocketOptions: WebSocketOptions{Subprotocols: []string{""}}}, paths: []string{"subprotocols[0]"}},
		{name: "bad header name", cfg: Config{URL: "ws://127.0.0.1/", HTTPOptions: HTTPOptions{Headers: map[string]string{"Bad Name": "x"}}}, paths: []string{"headers"}},
		{name: "bearer and basic", cfg: Config{URL: "ws://127.0.0.1/", Username: "u", HTTPOptions: HTTPOptions{BearerToken: "t"}}, paths: []string{"bearer_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Protocol = "websocket"
			_, err := buildTransport(&tt.cfg, probes.Options{})
			assertFieldPaths(t, err, tt.paths)
		})
	}
}

func TestWebSocketProbeRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		behaviour echoBehaviour
		check     func(t *testing.T, r *probes.Result)
	}{
		{name: "echo", behaviour: echoPlain, check: func(t *testing.T, r *probes.Result) { assertRoundTrip(t, r, 4) }},
		{name: "duplicates", behaviour: echoTwice, check: func(t *testing.T, r *probes.Result) {
			// The run ends when the 4th message arrives, which may be before
			// its copy: 3 or 4 duplicates.
			if m := r.Messaging; !r.Success || m.Received != 4 || m.Duplicated < 3 || m.Duplicated > 4 || m.Lost != 0 {
				t.Errorf("success=%v err=%v received=%d duplicated=%d lost=%d, want success, 4, 3 or 4, 0", r.Success, r.Err, m.Received, m.Duplicated, m.Lost)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEchoServer(t, tt.behaviour)
			tt.check(t, runRoundTrip(t, &Config{Protocol: "websocket", URL: srv.url, Messages: 4}))
		})
	}
}
