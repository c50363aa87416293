package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitoring/vigil/internal/agent"
	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/report"
	"github.com/vigil-monitoring/vigil/internal/timerange"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/probes/browserprobe"
	"github.com/vigil-monitoring/vigil/sla"
)

// Exit codes of the contract.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		case "global":
			return runGlobal(args[1:], stdout, stderr)
		case "report":
			if isGlobalScope(args[1:]) {
				return runGlobalReport(args[1:], stdout, stderr)
			}
			return runReport(args[1:], stdout, stderr)
		case "import":
			return runImport(args[1:], stdout, stderr)
		case "slo":
			return runSLO(args[1:], stdout, stderr)
		case "version":
			version, revision := export.Build()
			fmt.Fprintf(stdout, "vigil %s (revision %s, %s)\n", version, revision, runtime.Version())
			return exitOK
		case "help":
			usage(stdout)
			return exitOK
		default:
			fmt.Fprintf(stderr, "vigil: unknown command %q\n", args[0])
			usage(stderr)
			return exitUsage
		}
	}
	return runAgent(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  vigil [--config.file=vigil.yml] [--web.listen-address=:9797] [--web.config.file=FILE]
        [--storage.path=data/] [--push.url=URL] [--push.interval=15s] [--agent.shard=I/N]
        [--log.level=info] [--log.format=logfmt|json]          run the agent
  vigil --config.check [--config.file=F]                       validate, print errors, exit 0 or 1
  vigil demo [--web.listen-address=:9797] [--storage.path=vigil-demo-data]
        [--speed=1] [--loop]                                   embedded landscape + scripted incident
  vigil global [--config.file=global.yml] [--web.listen-address=:9798] [--web.config.file=FILE]
                                                               the view across regions, from NATS JetStream
  vigil report [--storage.path=data/] [--config.file=vigil.yml] [--from=T] [--to=T] [--generated-at=T]
        [--format=markdown|csv|json|html|pdf|records|bulletin] [--lang=en|ko]
  vigil report --scope=global --nats.url=URL|--config.file=global.yml [--from=T] [--to=T] [--format=markdown|json]
  vigil import blackbox --modules=blackbox.yml --prometheus=prometheus.yml [--region=R] > vigil.yml
  vigil slo export --format=openslo|sloth|pyrra [--config.file=vigil.yml] | vigil slo import --format=openslo FILE
  vigil version
`)
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "logfmt", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log.format: %q is not logfmt or json", format)
}

// parseShard reads --agent.shard=I/N.
func parseShard(s string) (*config.Shard, error) {
	if s == "" {
		return nil, nil
	}
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("--agent.shard: %q is not I/N with 0 <= I < N", s)
	}
	return &config.Shard{Index: index, Count: count}, nil
}

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil", stderr)
	fs.Usage = func() { usage(stderr) }
	configFile := fs.String("config.file", "vigil.yml", "config file")
	configCheck := fs.Bool("config.check", false, "validate the config file, print every error, exit 0 or 1")
	listen := fs.String("web.listen-address", ":9797", "address to serve /metrics, the API and the status page on")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web config (TLS, basic auth)")
	maxConns := fs.Int("web.max-connections", 0, "connections served at once (0: 512, at most a quarter of the open-file limit)")
	storage := fs.String("storage.path", "data/", "directory of the SLA history store")
	pushURL := fs.String("push.url", "", "push metrics to this VictoriaMetrics/vmagent import URL")
	pushInterval := fs.Duration("push.interval", 15*time.Second, "push interval")
	shardFlag := fs.String("agent.shard", "", "run only shard I of N (I/N), overriding agent.shard")
	logLevel := fs.String("log.level", "info", "debug, info, warn or error")
	logFormat := fs.String("log.format", "logfmt", "logfmt or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		return exitUsage
	}
	shard, err := parseShard(*shardFlag)
	if err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		return exitUsage
	}
	if *configCheck {
		return checkConfig(*configFile, stdout, stderr)
	}
	if err := web.ValidateWebConfig(*webConfig); err != nil {
		fmt.Fprintln(stderr, "vigil: --web.config.file:", err)
		return exitFailure
	}

	a, err := newAgent(agent.Options{ConfigFile: *configFile, StoragePath: *storage, Shard: shard, Logger: logger,
		PushURL: *pushURL, PushInterval: *pushInterval})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	webOpts, err := a.WebOptions(web.Options{ListenAddress: *listen, WebConfigFile: *webConfig, Logger: logger,
		Region: a.Config().Agent.Region, MaxConnections: *maxConns}, *webConfig)
	if err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		_ = a.Shutdown(context.Background())
		return exitFailure
	}
	srv := web.New(a, webOpts)
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		_ = a.Shutdown(context.Background())
		return exitFailure
	}
	logger.Info("vigil started", "version", export.Version, "config", *configFile, "listen", srv.Addr(),
		"region", a.Config().Agent.Region, "checks", len(a.Config().Checks()))
	return serve(ctx, a, srv, logger)
}

// checkConfig is --config.check: it loads and validates configFile, prints
// every error or a summary, and says whether a browser check would find its
// browser.
func checkConfig(configFile string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(configFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	if cfg.UsesBrowser() {
		if _, err := browserprobe.FindBrowser(cfg.Agent.Browser.Path); err != nil {
			fmt.Fprintf(stderr, "%s: agent.browser: %v\n", configFile, err)
			return exitFailure
		}
	}
	summary := fmt.Sprintf("%s: ok, %d services, %d checks", configFile, len(cfg.Services), len(cfg.Checks()))
	if n := len(cfg.Canaries()); n > 0 {
		summary += fmt.Sprintf(", %d canaries", n)
	}
	fmt.Fprintln(stdout, summary)
	return exitOK
}

// agentGCPercent is the agent's GOGC unless the environment sets one. Go's
// default, 100, lets the heap grow to twice the live data between
// collections; the agent's live data is most of its heap (checks, features,
// metric state) and its garbage per run is small (about 2 KB), so a third of
// that headroom costs little CPU: at 50,000 checks a collection every 5-6 s
// instead of 8, about 1.5% of the agent's CPU, for 25 MiB (0.5 KiB per
// check) less resident memory than at 50 (docs/operations.md, "Sizing an
// agent"; bench/RESULTS.md, "Issue 22, session 6").
const agentGCPercent = 35

// startupGCPercent is the agent's GOGC while it starts, unless the
// environment sets one. Starting, the agent allocates three to four times
// its steady heap (the config's decoding, the store's first write) and keeps
// little of it; collecting with the steady headroom would mark the growing
// live data over and over (at 50,000 checks, a second or more of the CPU to
// ready, bench/RESULTS.md).
const startupGCPercent = 200

// newAgent starts the agent with the startup GC setting, then sets the
// steady one (tuneGC).
func newAgent(opts agent.Options) (*agent.Agent, error) {
	steady := tuneGC()
	defer steady()
	return agent.New(opts)
}

// tuneGC sets startupGCPercent unless GOGC is set; steady sets
// agentGCPercent and hands the startup's garbage back to the system in the
// background, so that the resident memory is the steady heap's from the
// first interval.
func tuneGC() (steady func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	debug.SetGCPercent(startupGCPercent)
	return func() {
		debug.SetGCPercent(agentGCPercent)
		go debug.FreeOSMemory()
	}
}

// serve runs until SIGINT/SIGTERM (reloading on SIGHUP) or a server failure.
func serve(ctx context.Context, a *agent.Agent, srv *web.Server, logger *slog.Logger) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	code := exitOK
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = a.Reload()
				continue
			}
			logger.Info("stopping: waiting for runs in flight", "signal", sig.String())
			break loop
		case err := <-srv.Done():
			if err != nil {
				logger.Error("web server failed", "err", err)
				code = exitFailure
			}
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err := a.Shutdown(shutdownCtx); err != nil {
		logger.Error("shutdown", "err", err)
		code = exitFailure
	}
	logger.Info("stopped")
	return code
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil report", stderr)
	storage := fs.String("storage.path", "data/", "directory of the SLA history store")
	configFile := fs.String("config.file", "", "agent config whose sla: blocks give the contract figures (default: none)")
	fromFlag := fs.String("from", "", "start: RFC 3339, date, month (2026-10), Unix seconds or duration ago (default 30d)")
	toFlag := fs.String("to", "", "end, same forms (default now)")
	generatedFlag := fs.String("generated-at", "", "generation time printed in the report, same forms (default: the range end, so the same data gives the same bytes)")
	format := fs.String("format", "markdown", "markdown, csv, json, html, pdf, records (what the digest is the SHA-256 of), or bulletin (the last known state of every feature, as text)")
	lang := fs.String("lang", "en", "language of the bulletin: en or ko")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	now := time.Now()
	from, to, err := timerange.Range("--from", *fromFlag, "--to", *toFlag, now)
	if err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitUsage
	}
	generatedAt, err := timerange.Parse(*generatedFlag, timerange.Start, time.Time{}, now)
	if err != nil {
		fmt.Fprintln(stderr, "vigil report: --generated-at:", err)
		return exitUsage
	}
	name, ok := report.Format(*format)
	if !ok && *format != "bulletin" && *format != "records" {
		fmt.Fprintf(stderr, "vigil report: --format %q is not %s, records or bulletin\n", *format, strings.Join(report.Formats, ", "))
		return exitUsage
	}
	if *lang != "en" && *lang != "ko" {
		fmt.Fprintf(stderr, "vigil report: --lang %q is not en or ko\n", *lang)
		return exitUsage
	}
	var opts report.Options
	if *configFile != "" {
		cfg, err := config.Load(*configFile)
		if err != nil {
			fmt.Fprintln(stderr, "vigil report:", err)
			return exitFailure
		}
		opts.Contracts = cfg.Contracts()
	}
	opts.GeneratedAt = generatedAt
	engine, err := sla.OpenReadOnly(*storage)
	if err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitFailure
	}
	defer engine.Close()
	if *format == "bulletin" {
		// The states as the agent last recorded them (a read-only store has no
		// result of its own), as of its last heartbeat, in local time.
		asOf, features := engine.LastKnown()
		if err := web.WriteBulletin(stdout, features, asOf.Local(), *lang); err != nil {
			fmt.Fprintln(stderr, "vigil report:", err)
			return exitFailure
		}
		return exitOK
	}
	doc := report.Build(engine.Report(from, to), engine, opts)
	if *format == "records" {
		err = doc.WriteCanonical(stdout)
	} else {
		err = report.Write(stdout, name, doc)
	}
	if err != nil {
		fmt.Fprintln(stderr, "vigil report:", err)
		return exitFailure
	}
	return exitOK
}
