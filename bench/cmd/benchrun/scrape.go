package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/expo"
)

// httpClient talks to the processes under test; it never asks for gzip unless
// told to, so bodies are measured as rendered.
var httpClient = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}

// fetched is one timed HTTP GET.
type fetched struct {
	Start, End time.Time
	Bytes      int
	Body       []byte
}

// Seconds is the time from sending the request to the last byte.
func (f *fetched) Seconds() float64 { return f.End.Sub(f.Start).Seconds() }

// get fetches url with the given headers, keeping the body if keep.
func get(ctx context.Context, url string, header map[string]string, keep bool) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	f := &fetched{Start: time.Now()}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	var n int64
	if keep {
		var buf bytes.Buffer
		n, err = io.Copy(&buf, resp.Body)
		f.Body = buf.Bytes()
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	f.End = time.Now()
	f.Bytes = int(n)
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.200s", url, resp.StatusCode, f.Body)
	}
	return f, nil
}

// checkState is one check's series in a scrape.
type checkState struct {
	Runs, Failed       float64 // all results; failure and timeout
	LastRun            float64 // Unix seconds
	DurSum, DurCount   float64
	HasLast, HasDurSum bool
	// Phases are the last run's phase durations (seconds) by name.
	Phases map[string]float64
}

// scrape is one parsed /metrics of Vigil.
type scrape struct {
	fetched
	Checks   map[string]*checkState
	Lateness []expo.Bucket
	// Runtime is the Go runtime's view: goroutines, heap and stacks in use,
	// GC cycles so far.
	Runtime runtimeStats
}

// runtimeStats are the agent's own Go runtime series.
type runtimeStats struct {
	Goroutines, HeapInuse, StackInuse, GCCycles float64
}

var runtimeSeries = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_gc_duration_seconds_count"}

const textFormat = "text/plain;version=0.0.4"

// scrapeVigil fetches and parses the series the harness reads.
func scrapeVigil(ctx context.Context, base string) (*scrape, error) {
	f, err := get(ctx, base+"/metrics", map[string]string{"Accept": textFormat}, true)
	if err != nil {
		return nil, err
	}
	names := append([]string{"vigil_check_runs_total", "vigil_check_last_run_timestamp_seconds",
		"vigil_check_duration_seconds_sum", "vigil_check_duration_seconds_count",
		"vigil_schedule_lateness_seconds_bucket", "vigil_check_phase_duration_seconds"}, runtimeSeries...)
	samples, err := expo.Parse(bytes.NewReader(f.Body), names...)
	if err != nil {
		return nil, fmt.Errorf("%s/metrics: %w", base, err)
	}
	s := &scrape{fetched: *f, Checks: map[string]*checkState{}}
	s.Body = nil
	var lateness []expo.Sample
	for i := range samples {
		m := &samples[i]
		switch m.Name {
		case "vigil_schedule_lateness_seconds_bucket":
			lateness = append(lateness, *m)
			continue
		case "go_goroutines":
			s.Runtime.Goroutines = m.Value
			continue
		case "go_memstats_heap_inuse_bytes":
			s.Runtime.HeapInuse = m.Value
			continue
		case "go_memstats_stack_inuse_bytes":
			s.Runtime.StackInuse = m.Value
			continue
		case "go_gc_duration_seconds_count":
			s.Runtime.GCCycles = m.Value
			continue
		}
		id := m.Get("service") + "/" + m.Get("feature") + "/" + m.Get("check")
		c := s.Checks[id]
		if c == nil {
			c = &checkState{}
			s.Checks[id] = c
		}
		switch m.Name {
		case "vigil_check_runs_total":
			c.Runs += m.Value
			if r := m.Get("result"); r == "failure" || r == "timeout" {
				c.Failed += m.Value
			}
		case "vigil_check_last_run_timestamp_seconds":
			c.LastRun, c.HasLast = m.Value, true
		case "vigil_check_duration_seconds_sum":
			c.DurSum, c.HasDurSum = m.Value, true
		case "vigil_check_duration_seconds_count":
			c.DurCount = m.Value
		case "vigil_check_phase_duration_seconds":
			if c.Phases == nil {
				c.Phases = map[string]float64{}
			}
			c.Phases[m.Get("phase")] = m.Value
		}
	}
	if s.Lateness, err = expo.Buckets(lateness); err != nil {
		return nil, fmt.Errorf("%s/metrics: vigil_schedule_lateness_seconds: %w", base, err)
	}
	return s, nil
}

// unixTime converts exposition seconds to a time.
func unixTime(sec float64) time.Time {
	whole := int64(sec)
	return time.Unix(whole, int64((sec-float64(whole))*1e9))
}

// waitReady polls url until it answers 200, for at most limit.
func waitReady(ctx context.Context, url string, limit time.Duration, p *proc) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if done, err := p.exited(); done {
			return time.Time{}, fmt.Errorf("%s exited before it was ready (see %s.log): %v", p.name, p.name, err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := httpClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if ctx.Err() != nil {
			return time.Time{}, errStopped
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process, bounded by deadline
	}
	return time.Time{}, fmt.Errorf("%s not ready at %s within %v", p.name, strings.TrimSuffix(url, "/"), limit)
}

// sleepUntil waits until t or ctx's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return errStopped
	}
}
