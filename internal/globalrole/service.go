package globalrole

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Role.
type Options struct {
	// View is the cross-region computation the records go to
	// (globalview.New(...)).
	View   View
	Logger *slog.Logger
	// Location is the time zone of the status page; nil: local.
	Location *time.Location
	// Clock is the time of the pages and the bulletin ("as of"); nil: the
	// wall clock. Give it the view's clock.
	Clock interface{ Now() time.Time }
	// MinBackoff and MaxBackoff bound the wait after a failure to read
	// the stream (0: 500ms doubling to 30s).
	MinBackoff, MaxBackoff time.Duration
	// StreamCheck is how often the stream is looked at for a deletion or
	// a recreation (0: 5s).
	StreamCheck time.Duration
}

// Role is `vigil global`: the consumer of the stream and the view it
// fills, and the endpoints that show it.
type Role struct {
	st       *state
	consumer *consumer
	registry *prometheus.Registry
	loc      *time.Location
	clock    interface{ Now() time.Time }
}

// New returns the role reading src into opts.View; Run starts reading.
func New(src Source, opts Options) *Role {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.StreamCheck <= 0 {
		opts.StreamCheck = 5 * time.Second
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	log = log.With("component", "global", "url", redactURL(src.URL), "stream", src.Stream)
	st := newState(opts.View, log)
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	r := &Role{st: st, loc: opts.Location, clock: opts.Clock,
		consumer: &consumer{src: src, st: st, log: log, minBackoff: opts.MinBackoff, maxBackoff: opts.MaxBackoff,
			streamCheck: opts.StreamCheck}}
	r.registry = prometheus.NewRegistry()
	r.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{st: st, c: r.consumer})
	return r
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Run reads the stream until ctx ends: the replay from its start, then
// what comes.
func (r *Role) Run(ctx context.Context) { r.consumer.run(ctx) }

// Ready reports whether the replay has caught up with what the stream
// held when it began.
func (r *Role) Ready() bool { return r.consumer.caughtUp.Load() }

// Registry is the role's metrics registry (vigil_global_*, go_*,
// process_*); callers may add to it.
func (r *Role) Registry() *prometheus.Registry { return r.registry }

// Handler routes the role's endpoints.
func (r *Role) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Vigil global is healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", r.ready)
	mux.HandleFunc("GET /api/v1/global/features", r.features)
	mux.HandleFunc("GET /api/v1/global/outages", r.outages)
	mux.HandleFunc("GET /api/v1/global/report", r.report)
	mux.HandleFunc("GET /api/v1/global/incidents", r.incidents)
	mux.HandleFunc("GET /bulletin", r.bulletinPage)
	mux.HandleFunc("GET /{$}", r.statusPage)
	return mux
}

func (r *Role) ready(w http.ResponseWriter, _ *http.Request) {
	if !r.Ready() {
		http.Error(w, "Vigil global is not ready: the replay of the stream has not caught up.", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("Vigil global is ready.\n"))
}
