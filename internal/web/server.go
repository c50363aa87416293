package web

import (
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

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/probes"
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
	// Location is the time zone of the status page and the bulletin; nil
	// means the machine's local zone (TZ).
	Location *time.Location
}

// Server is the agent's HTTP server.
type Server struct {
	opts     Options
	backend  Backend
	srv      *http.Server
	listener net.Listener
	done     chan error
}

// New returns a server for backend; Start begins serving.
func New(backend Backend, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, backend: backend}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s
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
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("GET /bulletin", s.bulletinPage)
	return mux
}

// Start listens and serves in the background; Addr tells where.
func (s *Server) Start() error {
	l, err := net.Listen("tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.listener = l
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (s *Server) features(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"features": s.backend.Engine().Features()})
}

func (s *Server) outages(w http.ResponseWriter, r *http.Request) {
	q := sla.OutageQuery{Service: r.URL.Query().Get("service"), Feature: r.URL.Query().Get("feature")}
	var err error
	if q.Since, err = parseTime(r.URL.Query().Get("since"), time.Time{}); err != nil {
		badRequest(w, "since: %v", err)
		return
	}
	if q.Until, err = parseTime(r.URL.Query().Get("until"), time.Time{}); err != nil {
		badRequest(w, "until: %v", err)
		return
	}
	writeJSON(w, map[string]any{"outages": s.backend.Engine().Outages(q)})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	to, err := parseTime(r.URL.Query().Get("to"), now)
	if err != nil {
		badRequest(w, "to: %v", err)
		return
	}
	from, err := parseTime(r.URL.Query().Get("from"), to.Add(-30*24*time.Hour))
	if err != nil {
		badRequest(w, "from: %v", err)
		return
	}
	if !from.Before(to) {
		badRequest(w, "from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
		return
	}
	writeJSON(w, s.backend.Engine().Report(from, to))
}

// parseTime reads RFC 3339, a date (2026-10-01), Unix seconds, or a duration
// back from now ("24h", "30d"); "" gives def.
func parseTime(s string, def time.Time) (time.Time, error) {
	return ParseTime(s, def, time.Now())
}

// ParseTime is the time syntax of the API and `vigil report`: RFC 3339, a date
// (2026-10-01, UTC), a month (2026-10), Unix seconds, "now", or a duration back
// from now ("24h", "30d"); "" gives def.
func ParseTime(s string, def, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	if s == "now" {
		return now, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02", "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%f", &secs); err == nil && !strings.ContainsAny(s, "smhdwy") {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	if d, err := parseAgo(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("cannot read time %q: use RFC 3339 (2026-10-15T15:33:00+09:00), a date (2026-10-15), a month (2026-10), Unix seconds, or a duration ago (24h, 30d)", s)
}

func parseAgo(s string) (time.Duration, error) { return probes.ParseDuration(s) }
