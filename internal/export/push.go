package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// Pusher ships the exposition to a VictoriaMetrics or vmagent import URL
// (/api/v1/import/prometheus), for sites that cannot be scraped. Each Push is
// one request whose body is the exposition rendered and gzipped as it is
// sent, through a pipe: nothing holds the whole exposition (at 50,000 checks
// it is tens of megabytes). The agent runs it as the scheduled duty "push".
// Series already carry region and agent labels; extraLabels
// (`name="value",...`) are added on top, e.g. an instance, by the target
// itself (VictoriaMetrics' extra_label query argument). A push target that is
// down costs a failed request and a log line per interval: each push renders
// afresh and nothing queues.
type Pusher struct {
	url         string // with the extra_label arguments
	exposition  *expo.Exposition
	client      *http.Client
	logger      *slog.Logger
	pushes      *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

// NewPusher checks the URL and extra labels and registers the push series on
// reg: vigil_push_total{result="success|failure"} and
// vigil_push_last_success_timestamp_seconds.
func NewPusher(rawURL, extraLabels string, e *expo.Exposition, reg prometheus.Registerer, logger *slog.Logger) (*Pusher, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("push URL %q: want http(s)://host[:port]/path", rawURL)
	}
	pairs, err := parseExtraLabels(extraLabels)
	if err != nil {
		return nil, fmt.Errorf("push labels %q: %w", extraLabels, err)
	}
	if len(pairs) > 0 {
		q := u.Query()
		for _, pair := range pairs {
			q.Add("extra_label", pair)
		}
		u.RawQuery = q.Encode()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pusher{url: u.String(), exposition: e, client: &http.Client{}, logger: logger,
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_push_total",
			Help: "Pushes of the exposition to --push.url, by result."}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_push_last_success_timestamp_seconds",
			Help: "End of the last push that the target accepted (Unix seconds)."}),
	}
	p.pushes.WithLabelValues("success")
	p.pushes.WithLabelValues("failure")
	if err := reg.Register(p.pushes); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if err := reg.Register(p.lastSuccess); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return p, nil
}

// parseExtraLabels reads `name="value",...` into name=value pairs, as the
// extra_label argument takes them.
func parseExtraLabels(s string) ([]string, error) {
	var pairs []string
	for rest := strings.TrimSpace(s); rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || !labelNameOK(strings.TrimSpace(rest[:eq])) {
			return nil, fmt.Errorf("at %q: want name=\"value\"", rest)
		}
		name := strings.TrimSpace(rest[:eq])
		rest = strings.TrimSpace(rest[eq+1:])
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("label %s: value is not a quoted string", name)
		}
		value, _ := strconv.Unquote(quoted)
		pairs = append(pairs, name+"="+value)
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest[len(quoted):]), ","))
	}
	return pairs, nil
}

func labelNameOK(name string) bool {
	for i, r := range name {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return name != ""
}

// Push sends the exposition once. A failure is counted and logged with the
// URL (its password redacted) and returned; it never stops probing.
func (p *Pusher) Push(ctx context.Context) error {
	if err := p.send(ctx); err != nil {
		p.pushes.WithLabelValues("failure").Inc()
		p.logger.Warn("push failed; probing goes on", "url", redact(p.url), "err", err)
		return err
	}
	p.pushes.WithLabelValues("success").Inc()
	p.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

// send streams the gzipped exposition as the request body: rendered on one
// goroutine into a pipe while the transport reads the other end.
func (p *Pusher) send(ctx context.Context) error {
	body, pipe := io.Pipe()
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		// A partial exposition (a family failed to gather) is still pushed;
		// a failed request closes the pipe and so ends the rendering.
		_ = p.exposition.WriteGzip(pipe, false)
		_ = pipe.Close()
	}()
	defer func() {
		_ = body.CloseWithError(errors.New("push ended")) // unblock the rendering if the request stopped reading
		<-rendered
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, body)
	if err != nil {
		return fmt.Errorf("push to %s: %w", redact(p.url), err)
	}
	req.Header.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := p.client.Do(req)
	if err != nil {
		return err // names the URL (redacted by net/http)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("push to %s: %s: %s", redact(p.url), resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "<unparsable URL>"
}
