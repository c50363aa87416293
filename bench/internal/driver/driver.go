// Package driver drives blackbox_exporter the way Prometheus would: each
// target is requested as /probe?module=...&target=... on its own fixed
// interval, at a fixed offset within it, over kept-alive connections, with
// Prometheus' scrape-timeout header. It counts what came back and keeps the
// probe_duration_seconds of the targets marked for fidelity.
package driver

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one scrape target of blackbox_exporter.
type Target struct {
	Module string
	// Target is the exporter's target parameter (a URL or host:port).
	Target   string
	Interval time.Duration
	// Offset places the target's requests at Offset + k*Interval from the
	// start, spreading targets over the interval as Prometheus does.
	Offset time.Duration
	// Fidelity keeps this target's probe_duration_seconds.
	Fidelity bool
}

// Options configure a Run.
type Options struct {
	// Exporter is blackbox_exporter's base URL, e.g. http://127.0.0.1:9115.
	Exporter string
	Targets  []Target
	// Duration bounds the run: no request is started after it.
	Duration time.Duration
	// MaxInFlight bounds concurrent requests; a slot that finds them all busy
	// is counted as skipped, as Prometheus would miss a scrape.
	MaxInFlight int
	// ScrapeTimeout is sent as X-Prometheus-Scrape-Timeout-Seconds.
	ScrapeTimeout time.Duration
}

// Counts are the running totals of a Run; read them at any time.
type Counts struct {
	Sent, Succeeded, Failed, Errors, Skipped atomic.Int64
}

// Completed is requests answered (probe passed or not).
func (c *Counts) Completed() int64 { return c.Succeeded.Load() + c.Failed.Load() }

// Result is what a Run saw.
type Result struct {
	Start, End                               time.Time
	Sent, Succeeded, Failed, Errors, Skipped int64
	// FirstError is the first request error or failed probe, for the report.
	FirstError string
	// FidelityDurations are probe_duration_seconds of the fidelity targets'
	// successful probes, in seconds.
	FidelityDurations []float64
}

// Driver runs the schedule of Options once.
type Driver struct {
	opts   Options
	client *http.Client
	urls   []string
	Counts Counts

	mu         sync.Mutex
	firstError string
	fidelity   []float64
}

// New checks opts and prepares the requests.
func New(opts Options) (*Driver, error) {
	if opts.Exporter == "" || len(opts.Targets) == 0 || opts.Duration <= 0 {
		return nil, errors.New("driver: need an exporter URL, targets and a duration")
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1000
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 10 * time.Second
	}
	d := &Driver{opts: opts}
	for i, t := range opts.Targets {
		if t.Interval <= 0 || t.Offset < 0 || t.Offset >= t.Interval {
			return nil, fmt.Errorf("driver: target %d (%s): interval %v, offset %v: want 0 <= offset < interval", i, t.Target, t.Interval, t.Offset)
		}
		q := url.Values{"module": {t.Module}, "target": {t.Target}}
		d.urls = append(d.urls, strings.TrimSuffix(opts.Exporter, "/")+"/probe?"+q.Encode())
	}
	d.client = &http.Client{
		Timeout: opts.ScrapeTimeout + 5*time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        opts.MaxInFlight,
			MaxIdleConnsPerHost: opts.MaxInFlight,
			IdleConnTimeout:     time.Minute,
		},
	}
	return d, nil
}

// slot is a target's next request time.
type slot struct {
	at    time.Time
	index int
}

type slotHeap []slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(slot)) }
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// Run sends the requests from now until Duration has passed (or ctx ends),
// then waits for those in flight, at most ScrapeTimeout more.
func (d *Driver) Run(ctx context.Context) Result {
	start := time.Now()
	end := start.Add(d.opts.Duration)
	h := make(slotHeap, 0, len(d.opts.Targets))
	for i, t := range d.opts.Targets {
		h = append(h, slot{at: start.Add(t.Offset), index: i})
	}
	heap.Init(&h)
	sem := make(chan struct{}, d.opts.MaxInFlight)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	for h.Len() > 0 {
		next := h[0]
		if !next.at.Before(end) {
			break
		}
		if wait := time.Until(next.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				h = h[:0]
				continue
			}
		}
		heap.Pop(&h)
		select {
		case sem <- struct{}{}:
			d.Counts.Sent.Add(1)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				d.probe(ctx, i)
			}(next.index)
		default:
			d.Counts.Skipped.Add(1)
		}
		next.at = next.at.Add(d.opts.Targets[next.index].Interval)
		heap.Push(&h, next)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d.client.Timeout):
		// Requests still running end at the client timeout; wait for them so
		// no goroutine outlives Run.
		<-done
	}
	d.client.CloseIdleConnections()
	d.mu.Lock()
	defer d.mu.Unlock()
	return Result{
		Start: start, End: time.Now(),
		Sent: d.Counts.Sent.Load(), Succeeded: d.Counts.Succeeded.Load(), Failed: d.Counts.Failed.Load(),
		Errors: d.Counts.Errors.Load(), Skipped: d.Counts.Skipped.Load(),
		FirstError: d.firstError, FidelityDurations: d.fidelity,
	}
}

// probe requests target i once and records the answer.
func (d *Driver) probe(ctx context.Context, i int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.urls[i], nil)
	if err != nil {
		d.fail(&d.Counts.Errors, fmt.Sprintf("request %s: %v", d.urls[i], err))
		return
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(d.opts.ScrapeTimeout.Seconds(), 'f', -1, 64))
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := d.client.Do(req)
	if err != nil {
		d.fail(&d.Counts.Errors, fmt.Sprintf("GET %s: %v", d.urls[i], err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		d.fail(&d.Counts.Errors, fmt.Sprintf("GET %s: status %d", d.urls[i], resp.StatusCode))
		return
	}
	success, duration, err := ReadProbeResult(resp.Body)
	if err != nil {
		d.fail(&d.Counts.Errors, fmt.Sprintf("GET %s: %v", d.urls[i], err))
		return
	}
	if !success {
		d.fail(&d.Counts.Failed, "probe of "+d.opts.Targets[i].Target+" failed (probe_success 0)")
		return
	}
	d.Counts.Succeeded.Add(1)
	if d.opts.Targets[i].Fidelity {
		d.mu.Lock()
		d.fidelity = append(d.fidelity, duration)
		d.mu.Unlock()
	}
}

func (d *Driver) fail(counter *atomic.Int64, msg string) {
	counter.Add(1)
	d.mu.Lock()
	if d.firstError == "" {
		d.firstError = msg
	}
	d.mu.Unlock()
}

// ReadProbeResult reads probe_success and probe_duration_seconds from a /probe
// answer (text exposition).
func ReadProbeResult(r io.Reader) (success bool, durationSeconds float64, err error) {
	sc := bufio.NewScanner(r)
	var seenSuccess, seenDuration bool
	for sc.Scan() {
		line := sc.Text()
		if name, value, ok := strings.Cut(line, " "); ok {
			switch name {
			case "probe_success":
				seenSuccess = true
				success = strings.TrimSpace(value) == "1"
			case "probe_duration_seconds":
				durationSeconds, err = strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err != nil {
					return false, 0, fmt.Errorf("probe_duration_seconds %q: %w", value, err)
				}
				seenDuration = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, 0, fmt.Errorf("read probe answer: %w", err)
	}
	if !seenSuccess || !seenDuration {
		return false, 0, errors.New("probe answer lacks probe_success or probe_duration_seconds")
	}
	return success, durationSeconds, nil
}
