package expo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Source writes whole metric families, each family's samples together.
type Source interface {
	WriteMetrics(w *Writer)
}

// Staged is a Source whose figures take work to compute (the SLA engine's
// availability windows). Exposition calls Stage on another goroutine while
// it writes the sources before it, then calls the func Stage returned to write
// what was computed: on two cores the work overlaps the writing.
type Staged interface {
	Source
	Stage() (write func(w *Writer))
}

// Exposition is the agent's /metrics: a client_golang registry's families
// (small, encoded by client_golang) followed by the sources' (big, written
// here). It is an http.Handler, a prometheus.Gatherer (for tests and tools
// that want parsed families), and writes plain text for pushing.
type Exposition struct {
	registry prometheus.Gatherer
	sources  []Source
	logger   *slog.Logger
	writers  sync.Pool
}

// New returns the exposition of registry (may be nil) and sources.
func New(registry prometheus.Gatherer, logger *slog.Logger, sources ...Source) *Exposition {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Exposition{registry: registry, sources: sources, logger: logger}
}

// format is one of the expositions Exposition writes.
type format uint8

const (
	formatText        format = iota // text 0.0.4
	formatOpenMetrics               // OpenMetrics 1.0.0
	formatProto                     // delimited protobuf, with native histograms
)

func textFormat(openMetrics bool) format {
	if openMetrics {
		return formatOpenMetrics
	}
	return formatText
}

// Write renders everything to out in text 0.0.4 or OpenMetrics 1.0.0. A
// registry that fails to gather some families does not stop the rest (as
// promhttp's ContinueOnError); the error is returned with any write error.
func (e *Exposition) Write(out io.Writer, openMetrics bool) error {
	return e.write(out, textFormat(openMetrics))
}

// WriteProto renders everything to out in the delimited protobuf format, in
// which the sources' histograms that have a native part carry it (proto.go).
func (e *Exposition) WriteProto(out io.Writer) error {
	return e.write(out, formatProto)
}

func (e *Exposition) write(out io.Writer, f format) error {
	w, _ := e.writers.Get().(*Writer)
	if w == nil {
		w = NewWriter(nil, false)
	}
	if f == formatProto {
		w.ResetProto(out)
	} else {
		w.Reset(out, f == formatOpenMetrics)
	}
	defer func() {
		w.Reset(nil, false)
		e.writers.Put(w)
	}()
	w.SetParallel(runtime.GOMAXPROCS(0))
	var gatherErr error
	if e.registry != nil {
		var mfs []*dto.MetricFamily
		mfs, gatherErr = e.registry.Gather()
		encoding := expfmt.TypeTextPlain
		switch f {
		case formatOpenMetrics:
			encoding = expfmt.TypeOpenMetrics
		case formatProto:
			encoding = expfmt.TypeProtoDelim
		}
		// No Close: it would end an OpenMetrics exposition before the sources.
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(encoding))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				gatherErr = errors.Join(gatherErr, err)
			}
		}
	}
	staged := make([]chan func(*Writer), len(e.sources))
	for i, s := range e.sources {
		if st, ok := s.(Staged); ok {
			staged[i] = make(chan func(*Writer), 1)
			go func() { staged[i] <- st.Stage() }()
		}
	}
	for i, s := range e.sources {
		if staged[i] != nil {
			(<-staged[i])(w)
		} else {
			s.WriteMetrics(w)
		}
	}
	if f == formatOpenMetrics {
		_, _ = w.Write([]byte("# EOF\n"))
	}
	return errors.Join(gatherErr, w.Flush())
}

// WriteGzip is Write through gzip at the fastest level, compressed on every
// core (parallelGzip), as a scrape that accepts gzip gets it; a push streams
// it into its request body.
func (e *Exposition) WriteGzip(out io.Writer, openMetrics bool) error {
	return e.writeGzip(out, textFormat(openMetrics))
}

// WriteProtoGzip is WriteProto through gzip, as WriteGzip.
func (e *Exposition) WriteProtoGzip(out io.Writer) error {
	return e.writeGzip(out, formatProto)
}

func (e *Exposition) writeGzip(out io.Writer, f format) error {
	z := newParallelGzip(out, runtime.GOMAXPROCS(0))
	return errors.Join(e.write(z, f), z.Close())
}

// ServeHTTP serves the format the scraper asks for (Prometheus asks for
// OpenMetrics first, or the delimited protobuf first when it scrapes native
// histograms), gzipped when it accepts gzip. Compression is at the fastest
// level and on every core (parallelGzip): at 10,000 checks the text is 65 MB,
// and one compressor at the default level would cost several times more CPU
// than rendering it.
func (e *Exposition) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	negotiated := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	var f format
	switch negotiated.FormatType() {
	case expfmt.TypeOpenMetrics:
		f = formatOpenMetrics
	case expfmt.TypeProtoDelim:
		f = formatProto
	default:
		// The protobuf text formats (for debugging) get text 0.0.4.
		negotiated = expfmt.NewFormat(expfmt.TypeTextPlain)
	}
	h := rw.Header()
	h.Set("Content-Type", string(negotiated))
	var err error
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		err = e.writeGzip(rw, f)
	} else {
		// Writing 65 MB to a socket costs about as much as rendering it:
		// on a second goroutine, one overlaps the other.
		a := newAsyncWriter(rw)
		err = errors.Join(e.write(a, f), a.Close())
	}
	if err != nil {
		e.logger.Warn("metrics: exposition incomplete", "err", err)
	}
}

// asyncWriter copies what it is given into chunks that a goroutine writes to
// out. Write fails once out has failed; Close waits for the last chunk.
type asyncWriter struct {
	out    io.Writer
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	failed atomic.Bool
	err    error // the goroutine's; read after done
}

func newAsyncWriter(out io.Writer) *asyncWriter {
	const chunks = 4
	a := &asyncWriter{out: out, full: make(chan []byte, chunks), free: make(chan []byte, chunks), done: make(chan struct{})}
	for range chunks {
		a.free <- make([]byte, 0, flushAt+4096)
	}
	go a.loop()
	return a
}

func (a *asyncWriter) loop() {
	defer close(a.done)
	for chunk := range a.full {
		if a.err == nil {
			if _, a.err = a.out.Write(chunk); a.err != nil {
				a.failed.Store(true)
			}
		}
		a.free <- chunk[:0]
	}
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if a.failed.Load() {
		return 0, errors.New("output failed")
	}
	chunk := <-a.free
	a.full <- append(chunk, p...)
	return len(p), nil
}

func (a *asyncWriter) Close() error {
	close(a.full)
	<-a.done
	return a.err
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Gather returns every family parsed and merged as a client_golang registry
// would: for tests, golden files and tools, not the scrape path.
func (e *Exposition) Gather() ([]*dto.MetricFamily, error) {
	var buf bytes.Buffer
	w := NewWriter(&buf, false)
	for _, s := range e.sources {
		s.WriteMetrics(w)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		return nil, fmt.Errorf("parse own exposition: %w", err)
	}
	fams := slices.Collect(maps.Values(parsed))
	gs := prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })}
	if e.registry != nil {
		gs = append(gs, e.registry)
	}
	return gs.Gather()
}
