package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/globalrole"
	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/timerange"
	"github.com/vigil-monitoring/vigil/internal/web"
)

// runGlobal is `vigil global`: the view across regions, read from the
// agents' records on NATS JetStream, served on its own web server.
func runGlobal(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil global", stderr)
	configFile := fs.String("config.file", "global.yml", "config file of the global view")
	listen := fs.String("web.listen-address", ":9798", "address to serve /metrics, the API and the status page on")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web config (TLS, basic auth)")
	maxConns := fs.Int("web.max-connections", 0, "connections served at once (0: 512, at most a quarter of the open-file limit)")
	logLevel := fs.String("log.level", "info", "debug, info, warn or error")
	logFormat := fs.String("log.format", "logfmt", "logfmt or json")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "vigil global:", err)
		return exitUsage
	}
	cfg, err := config.LoadGlobalRole(*configFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	if err := web.ValidateWebConfig(*webConfig); err != nil {
		fmt.Fprintln(stderr, "vigil global: --web.config.file:", err)
		return exitFailure
	}
	src, err := globalrole.SourceFrom(&cfg.NATS)
	if err != nil {
		fmt.Fprintf(stderr, "%s: nats: %v\n", cfg.File, err)
		return exitFailure
	}
	role := globalrole.New(src, globalrole.Options{View: globalview.New(viewOptions(cfg)), Logger: logger})
	role.Registry().MustRegister(buildInfo())
	srv := web.NewServer(role.Handler(), web.Options{ListenAddress: *listen, WebConfigFile: *webConfig, Logger: logger,
		MaxConnections: *maxConns})
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "vigil global:", err)
		return exitFailure
	}
	logger.Info("vigil global started", "version", export.Version, "config", *configFile, "listen", srv.Addr(),
		"stream", src.Stream, "min_regions", cfg.MinRegions)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); role.Run(ctx) }()
	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		if err != nil {
			logger.Error("web server failed", "err", err)
			code = exitFailure
		}
		stop()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	<-done
	logger.Info("stopped")
	return code
}

// viewOptions are the view's settings from the config (objectives are
// percentages there, ratios in the view).
func viewOptions(cfg *config.GlobalRole) globalview.Options {
	opts := globalview.Options{MinRegions: cfg.MinRegions, MinRegionsFor: cfg.MinRegionsFor,
		StaleAfter: time.Duration(cfg.StaleAfter), Objective: cfg.Objective / 100}
	if len(cfg.Objectives) > 0 {
		opts.ObjectiveFor = make(map[string]float64, len(cfg.Objectives))
		for k, v := range cfg.Objectives {
			opts.ObjectiveFor[k] = v / 100
		}
	}
	return opts
}

// isGlobalScope reports whether `vigil report` was asked for the global
// report (--scope=global).
func isGlobalScope(args []string) bool {
	for i, a := range args {
		switch a {
		case "--scope=global", "-scope=global":
			return true
		case "--scope", "-scope":
			return i+1 < len(args) && args[i+1] == "global"
		}
	}
	return false
}

// runGlobalReport is `vigil report --scope=global`: it replays the stream
// once and prints the global report.
func runGlobalReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil report", stderr)
	fs.String("scope", "global", "global: the report across regions, from the stream")
	configFile := fs.String("config.file", "", "vigil global's config file (nats block, min_regions, objectives)")
	natsURL := fs.String("nats.url", "", "NATS server URL (instead of, or over, the config file's)")
	stream := fs.String("nats.stream", "", "stream (default VIGIL, or the config file's)")
	prefix := fs.String("nats.subject-prefix", "", "subject prefix of the records (default vigil, or the config file's)")
	fromFlag := fs.String("from", "", "start: RFC 3339, date, month (2026-10), Unix seconds or duration ago (default 30d)")
	toFlag := fs.String("to", "", "end, same forms (default now)")
	format := fs.String("format", "markdown", "markdown or json")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	from, to, err := timerange.Range("--from", *fromFlag, "--to", *toFlag, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitUsage
	}
	if *format != "markdown" && *format != "md" && *format != "json" {
		fmt.Fprintf(stderr, "vigil report: --format %q is not markdown or json (with --scope=global)\n", *format)
		return exitUsage
	}
	cfg, code := globalReportConfig(*configFile, *natsURL, stderr)
	if cfg == nil {
		return code
	}
	cfg.NATS.Stream = cmp.Or(*stream, cfg.NATS.Stream)
	cfg.NATS.SubjectPrefix = cmp.Or(*prefix, cfg.NATS.SubjectPrefix)
	src, err := globalrole.SourceFrom(&cfg.NATS)
	if err != nil {
		fmt.Fprintln(stderr, "vigil report: nats:", err)
		return exitFailure
	}
	view := globalview.New(viewOptions(cfg))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := globalrole.Replay(ctx, src, view, logger); err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitFailure
	}
	rep := view.Report(from, to)
	if *format == "json" {
		err = globalrole.WriteReportJSON(stdout, rep)
	} else {
		err = globalrole.WriteReportMarkdown(stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitFailure
	}
	return exitOK
}

// globalReportConfig is the config of a global report: the file's if
// given, else the defaults for --nats.url; --nats.url overrides the
// file's.
func globalReportConfig(file, natsURL string, stderr io.Writer) (*config.GlobalRole, int) {
	var cfg *config.GlobalRole
	var err error
	switch {
	case file != "":
		cfg, err = config.LoadGlobalRole(file)
	case natsURL != "":
		cfg, err = config.ParseGlobalRole("--nats.url", []byte(fmt.Sprintf("nats: {url: %q}\n", natsURL)))
	default:
		fmt.Fprintln(stderr, "vigil report: --scope=global needs --nats.url or --config.file")
		return nil, exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, exitFailure
	}
	if natsURL != "" {
		cfg.NATS.URL = natsURL
	}
	return cfg, exitOK
}

// parseFlags parses args; ok false means return code (help: 0, else 2).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}

// buildInfo is vigil_build_info for the global role's registry.
func buildInfo() prometheus.Collector {
	version, revision := export.Build()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_build_info", Help: "Always 1; labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}
