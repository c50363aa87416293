package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"

	"github.com/vigil-monitoring/vigil/internal/contract"
	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/report"
	"github.com/vigil-monitoring/vigil/internal/timerange"
	"github.com/vigil-monitoring/vigil/sla"
)

// Backend is what the server shows and controls; the agent implements it.
type Backend interface {
	Exposition() *expo.Exposition
	Engine() *sla.Engine
	Ready() bool
	Reload() error
}

// Options configure a Server.
type Options struct {
	ListenAddress string // e.g. ":9797" or "127.0.0.1:0"
	WebConfigFile string // exporter-toolkit web config; "" for plain HTTP
	Logger        *slog.Logger
	// Region names the agent on the status page.
	Region string
	// Location is the time zone of the pages, the bulletin and the feed
	// unless the backend's config sets web.timezone; nil means the
	// machine's local zone (TZ).
	Location *time.Location
	// MaxConnections caps the connections served at once (more wait to be
	// accepted); 0 picks DefaultMaxConnections from the file limit.
	MaxConnections int
	// Contracts gives the SLA contracts of the config in force, by
	// "service/feature", for /api/v1/report's contract figures; nil: none.
	Contracts func() map[string]contract.Contract
	// Updates returns the operators' updates of an incident, oldest first
	// (internal/notify keeps them, and finds those posted under an id the
	// incident had before it grew); nil shows none.
	Updates func(inc sla.Incident) []IncidentUpdate
	// Maintenance returns the maintenance windows declared at run time, for
	// the page and the feed; the config's own windows are read from the
	// config. nil: none.
	Maintenance func() []MaintenanceWindow
	// StoryClock, when set and not zero, is the time of a story the agent
	// plays (vigil demo): the pages show it beside the real time.
	StoryClock func() time.Time
	// IdleTimeout closes a keep-alive connection idle this long; 0 means
	// DefaultIdleTimeout. ReadHeaderTimeout likewise.
	IdleTimeout, ReadHeaderTimeout time.Duration
	// ManualIncidents are the incidents operators opened; nil: none.
	ManualIncidents func() []ManualIncident
	// ArtifactDir is where screenshots of failed browser runs are, served at
	// /artifacts/{name}; "" serves none.
	ArtifactDir string
	// Mount adds more endpoints to the server's mux (the communications
	// endpoints of internal/notify); nil adds none.
	Mount func(mux *http.ServeMux)
	// AuthorizeWrite accepts a write request (declaring maintenance, posting
	// an incident update) or says why not; nil refuses every write.
	AuthorizeWrite func(*http.Request) error
}

// The server's timeouts. A connection that says nothing, or nothing more,
// holds one of the agent's file descriptors, which its probes need: an agent
// whose web server kept idle connections forever ran out of them and failed
// every check (issue 14). Requests are small GETs and a reload; a response
// is at most a large /metrics, written well within WriteTimeout.
const (
	DefaultIdleTimeout       = 90 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	readTimeout              = 30 * time.Second
	writeTimeout             = 2 * time.Minute
)

// DefaultMaxConnections is the connection limit for a process that may open
// nofile files: 512 as Prometheus', but never more than a quarter of the file
// limit, so that connections alone cannot starve the probes of descriptors.
func DefaultMaxConnections(nofile uint64) int {
	return int(max(16, min(512, nofile/4)))
}

// Server is the agent's HTTP server.
type Server struct {
	opts     Options
	backend  Backend
	srv      *http.Server
	listener net.Listener
	done     chan error
	// readFeatures and readVantage read the backend's engine for the API
	// and the pages; tests replace them to show states (flapping, an
	// impaired vantage) that an engine reaches only through long timelines.
	readFeatures func() []sla.FeatureStatus
	readVantage  func() sla.VantageStatus
	configs      configCache
}

// New returns a server for backend; Start begins serving.
func New(backend Backend, opts Options) *Server {
	s := &Server{opts: withDefaults(opts), backend: backend}
	s.readFeatures = func() []sla.FeatureStatus { return s.backend.Engine().Features() }
	s.readVantage = func() sla.VantageStatus { return s.backend.Engine().Vantage() }
	s.srv = s.httpServer(s.Handler())
	return s
}

// NewServer returns a server of handler with the agent's plumbing (its
// timeouts, connection limit and --web.config.file); `vigil global`
// serves its own endpoints with it.
func NewServer(handler http.Handler, opts Options) *Server {
	s := &Server{opts: withDefaults(opts)}
	s.srv = s.httpServer(handler)
	return s
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout: max(readTimeout, s.opts.ReadHeaderTimeout), WriteTimeout: writeTimeout, IdleTimeout: s.opts.IdleTimeout}
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections(fileLimit())
	}
	return opts
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.backend.Exposition())
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Vigil is healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.backend.Ready() {
			http.Error(w, "Vigil is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Vigil is ready.")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.backend.Reload(); err != nil {
			http.Error(w, "reload refused, previous config keeps running:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "config reloaded")
	})
	mux.HandleFunc("GET /api/v1/features", s.features)
	mux.HandleFunc("GET /api/v1/outages", s.outages)
	mux.HandleFunc("GET /api/v1/report", s.report)
	mux.HandleFunc("GET /api/v1/incidents", s.incidents)
	mux.HandleFunc("GET /api/v1/maintenance", s.listMaintenance)
	mux.HandleFunc("POST /api/v1/maintenance", s.addMaintenance)
	mux.HandleFunc("DELETE /api/v1/maintenance/{id}", s.endMaintenance)
	mux.HandleFunc("GET /api/v1/gate", s.gate)
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("GET /internal", s.statusPage)
	mux.HandleFunc("GET /public", s.statusPage)
	mux.HandleFunc("GET /bulletin", s.bulletinPage)
	mux.HandleFunc("GET /feed.atom", s.feed)
	mux.HandleFunc("GET /services/{service}/feed.atom", s.feed)
	mux.HandleFunc("GET /badge/{file}", s.badge)
	mux.HandleFunc("GET /badge/{service}/{file}", s.badge)
	mux.HandleFunc("GET /artifacts/{name}", s.artifact)
	if s.opts.Mount != nil {
		s.opts.Mount(mux)
	}
	return mux
}

// Start listens and serves in the background; Addr tells where.
func (s *Server) Start() error {
	l, err := net.Listen("tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.listener = netutil.LimitListener(l, s.opts.MaxConnections)
	l = s.listener
	s.done = make(chan error, 1)
	flags := &web.FlagConfig{WebListenAddresses: &[]string{s.opts.ListenAddress}, WebConfigFile: &s.opts.WebConfigFile}
	go func() {
		err := web.Serve(l, s.srv, flags, s.opts.Logger)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Done yields the serve error (nil after a clean Shutdown).
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting requests and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// ValidateWebConfig checks an exporter-toolkit web config file.
func ValidateWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	jsonError(w, http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// jsonError answers {"error": msg} with status.
func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// features serves /api/v1/features: every feature, or a page of them
// (?limit=N&after=service/feature, featurepage.go; "next" names the page
// after), and the agent's vantage beside them (while it is impaired the
// features' time is unmonitored).
func (s *Server) features(w http.ResponseWriter, r *http.Request) {
	page, err := parseFeaturePage(r.URL.Query())
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	features, next := page.of(s.readFeatures())
	out := map[string]any{"features": features, "vantage": s.readVantage()}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, out)
}

func (s *Server) outages(w http.ResponseWriter, r *http.Request) {
	q := sla.OutageQuery{Service: r.URL.Query().Get("service"), Feature: r.URL.Query().Get("feature")}
	var err error
	if q.Since, err = parseTime(r.URL.Query().Get("since"), timerange.Start); err != nil {
		badRequest(w, "since: %v", err)
		return
	}
	if q.Until, err = parseTime(r.URL.Query().Get("until"), timerange.End); err != nil {
		badRequest(w, "until: %v", err)
		return
	}
	writeJSON(w, map[string]any{"outages": s.backend.Engine().Outages(q)})
}

// report serves /api/v1/report?from=&to=&format=&generated_at=: the report
// of `vigil report` in any of its formats (default json).
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	from, to, err := timerange.Range("from", q.Get("from"), "to", q.Get("to"), now)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	var opts report.Options
	if opts.GeneratedAt, err = timerange.Parse(q.Get("generated_at"), timerange.Start, time.Time{}, now); err != nil {
		badRequest(w, "generated_at: %v", err)
		return
	}
	format, ok := report.Format(cmp.Or(q.Get("format"), "json"))
	if !ok {
		badRequest(w, "format: %q is not one of %s", q.Get("format"), strings.Join(report.Formats, ", "))
		return
	}
	if s.opts.Contracts != nil {
		opts.Contracts = s.opts.Contracts()
	}
	engine := s.backend.Engine()
	doc := report.Build(engine.Report(from, to), engine, opts)
	var b bytes.Buffer
	if err := report.Write(&b, format, doc); err != nil {
		http.Error(w, "report: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", report.ContentType(format))
	if format == "pdf" || format == "csv" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"vigil-report-%s.%s\"", doc.To.Format("20060102T150405Z"), format))
	}
	_, _ = w.Write(b.Bytes())
}

// parseTime reads a `since` (edge Start) or `until` (edge End) parameter in
// the syntax of timerange.Parse; "" gives the zero time (no bound).
func parseTime(s string, edge timerange.Edge) (time.Time, error) {
	return timerange.Parse(s, edge, time.Time{}, time.Now())
}
