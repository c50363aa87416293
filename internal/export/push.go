package export

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// Pusher ships the exposition to a VictoriaMetrics or vmagent import URL
// (/api/v1/import/prometheus), for sites that cannot be scraped. Each Push is
// one request made with VictoriaMetrics/metrics' PushMetricsExt; the agent
// runs it as the scheduled duty "push". Series already carry region and agent
// labels; extraLabels (`name="value",...`) are added on top, e.g. an instance.
// A push target that is down costs a failed request and a log line per
// interval: each push renders afresh and nothing queues.
type Pusher struct {
	url, extraLabels string
	exposition       *expo.Exposition
	logger           *slog.Logger
	pushes           *prometheus.CounterVec
	lastSuccess      prometheus.Gauge
}

// NewPusher checks the URL and extra labels and registers the push series on
// reg: vigil_push_total{result="success|failure"} and
// vigil_push_last_success_timestamp_seconds.
func NewPusher(rawURL, extraLabels string, e *expo.Exposition, reg prometheus.Registerer, logger *slog.Logger) (*Pusher, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("push URL %q: want http(s)://host[:port]/path", rawURL)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pusher{url: rawURL, extraLabels: extraLabels, exposition: e, logger: logger,
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

// Push sends the exposition once. A failure is counted and logged with the
// URL (its password redacted) and returned; it never stops probing.
func (p *Pusher) Push(ctx context.Context) error {
	write := func(w io.Writer) {
		// A partial exposition (a family failed to gather) is still pushed.
		_ = p.exposition.Write(w, false)
	}
	err := vm.PushMetricsExt(ctx, p.url, write, &vm.PushOptions{ExtraLabels: p.extraLabels})
	if err != nil {
		p.pushes.WithLabelValues("failure").Inc()
		p.logger.Warn("push failed; probing goes on", "url", redact(p.url), "err", err)
		return err
	}
	p.pushes.WithLabelValues("success").Inc()
	p.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "<unparsable URL>"
}
