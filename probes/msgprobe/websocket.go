package msgprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// WebSocketOptions are the WebSocket-specific keys of a messaging block. The url
// is an echo endpoint (ws:// or wss://): every text frame sent comes back. The
// headers key (see HTTPOptions) and username/password (basic auth) go with the
// opening handshake.
type WebSocketOptions struct {
	// Subprotocols are offered in Sec-WebSocket-Protocol, in order of preference.
	Subprotocols []string `yaml:"subprotocols,omitempty" json:"subprotocols,omitempty"`
}

// websocketCloseWait bounds the closing handshake: past it the connection is
// dropped, so Close never waits on a peer that went silent.
const websocketCloseWait = 2 * time.Second

// websocketTransport writes each payload as a text frame and delivers every
// frame the endpoint sends back.
type websocketTransport struct {
	*websocketSettings
	receiveFailure

	conn   *websocket.Conn
	cancel context.CancelFunc // stops the read loop
	done   chan struct{}      // closed when the read loop has returned
}

// websocketSettings are a WebSocket check's settings, compiled once; every
// connection shares the HTTP client (websocket.Dial copies the options).
type websocketSettings struct {
	checkID string
	url     string // as configured: userinfo in it becomes basic auth
	safeURL string // without userinfo or query, for errors
	dial    websocket.DialOptions
	limit   int64 // max_message_bytes
	log     *slog.Logger
}

func compileWebSocket(sh *shared) (connector, error) {
	cfg := sh.cfg
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		errs = append(errs, probeconfig.Errorf("url", "cannot parse %s", redactURL(cfg.URL)))
	case u.Scheme != "ws" && u.Scheme != "wss":
		errs = append(errs, probeconfig.Errorf("url", "want ws:// or wss://, got %s", redactURL(cfg.URL)))
	case u.Host == "":
		errs = append(errs, probeconfig.Errorf("url", "no host in %s", redactURL(cfg.URL)))
	}
	header, err := requestHeader(cfg, sh.password)
	if err != nil {
		errs = append(errs, err)
	}
	for i, p := range cfg.Subprotocols {
		if p == "" {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("subprotocols[%d]", i), "must not be empty"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &websocketSettings{
		checkID: sh.checkID,
		url:     cfg.URL,
		safeURL: redactURL(cfg.URL),
		dial: websocket.DialOptions{
			HTTPClient:   &http.Client{Transport: newHTTPTransport(sh.tls)},
			HTTPHeader:   header,
			Subprotocols: cfg.Subprotocols,
		},
		limit: cfg.maxMessageBytes(defaultMaxMessageBytes),
		log:   sh.log,
	}
	return func() Transport { return &websocketTransport{websocketSettings: s} }, nil
}

// Connect performs the opening handshake.
func (w *websocketTransport) Connect(ctx context.Context) error {
	conn, resp, err := websocket.Dial(ctx, w.url, &w.dial)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("handshake with %s: HTTP status %s: %w", w.safeURL, resp.Status, err)
		}
		return fmt.Errorf("handshake with %s: %w", w.safeURL, err)
	}
	// A longer message fails the read (and closes the connection with
	// 1009, message too big) instead of being read into memory.
	conn.SetReadLimit(w.limit)
	w.conn = conn
	return nil
}

// Subscribe starts reading frames. The connection is the subscription, so it is
// active as soon as Connect returned.
func (w *websocketTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	if w.conn == nil {
		return fmt.Errorf("subscribe on %s: not connected", w.safeURL)
	}
	readCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done = make(chan struct{})
	go w.read(readCtx, w.conn, deliver)
	return nil
}

// read delivers every data frame until the connection closes. A connection
// that ends before Close (the peer closed it, or sent a message over
// max_message_bytes) fails the run at once: nothing more can arrive.
func (w *websocketTransport) read(ctx context.Context, conn *websocket.Conn, deliver func(payload []byte)) {
	defer close(w.done)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return // Close
			}
			if errors.Is(err, websocket.ErrMessageTooBig) {
				err = &messageTooBigError{what: "websocket message", limit: w.limit, err: err}
			}
			if websocket.CloseStatus(err) == -1 {
				w.log.Debug("websocket read failed", "check", w.checkID, "url", w.safeURL, "err", err)
			}
			w.fail(fmt.Errorf("read from %s: %w", w.safeURL, err))
			return
		}
		deliver(data)
	}
}

// Alive implements aliveChecker: the read loop ends when the connection does.
func (w *websocketTransport) Alive() bool {
	if w.conn == nil {
		return false
	}
	if w.done == nil {
		return true
	}
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// Publish writes one text frame.
func (w *websocketTransport) Publish(ctx context.Context, payload []byte) error {
	if w.conn == nil {
		return fmt.Errorf("publish to %s: not connected", w.safeURL)
	}
	if err := w.conn.Write(ctx, websocket.MessageText, payload); err != nil {
		// A write fails once the connection is gone. When the read loop
		// ended it (a message over max_message_bytes), wait for the loop to
		// record why, so the run reports the cause rather than the write.
		if w.done != nil {
			select {
			case <-w.done:
			case <-ctx.Done():
			}
		}
		return fmt.Errorf("write frame to %s: %w", w.safeURL, err)
	}
	return nil
}

// Close runs the closing handshake for at most websocketCloseWait, then drops
// the connection, and returns once the read loop has stopped. Closing errors are
// only logged: the round trip is over by then.
func (w *websocketTransport) Close() error {
	if w.conn == nil {
		return nil
	}
	conn := w.conn
	w.conn = nil
	if w.receiveErr() != nil {
		// The read loop is over and the library has sent its close frame
		// (1009 for a message too big): no handshake is left to wait for.
		_ = conn.CloseNow()
		w.stopReading()
		w.dial.HTTPClient.CloseIdleConnections()
		return nil
	}
	closed := make(chan error, 1)
	go func() { closed <- conn.Close(websocket.StatusNormalClosure, "") }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(websocketCloseWait):
		// Cancelling a blocked Read makes the library drop the connection,
		// which also ends the pending handshake.
		if w.cancel != nil {
			w.cancel()
		}
		_ = conn.CloseNow()
		// CloseNow does nothing while the library's own Close is in its
		// handshake (which waits up to 5 s more, and the read loop with
		// it): give both one second more, then leave them to end alone.
		giveUp := time.After(time.Second)
		select {
		case err = <-closed:
		case <-giveUp:
			err = errors.New("closing handshake abandoned")
		}
		w.log.Debug("websocket close failed", "check", w.checkID, "url", w.safeURL, "err", err)
		if w.cancel != nil {
			select {
			case <-w.done:
			case <-giveUp:
			}
			w.cancel = nil
		}
		w.dial.HTTPClient.CloseIdleConnections()
		return nil
	}
	if err != nil {
		w.log.Debug("websocket close failed", "check", w.checkID, "url", w.safeURL, "err", err)
	}
	w.stopReading()
	w.dial.HTTPClient.CloseIdleConnections()
	return nil
}

// stopReading ends the read loop and waits for it.
func (w *websocketTransport) stopReading() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}
