// Command driver drives blackbox_exporter as Prometheus would scrape it: every
// target is requested as /probe?module=M&target=T once per interval, targets
// spread evenly over the interval, for a bounded duration. It prints a JSON
// summary (requests, successes, failures, skipped slots). benchrun uses the
// same driver in-process; this command is for trying it by hand.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/driver"
)

func main() {
	exporter := flag.String("exporter", "http://127.0.0.1:9115", "blackbox_exporter base URL (loopback only)")
	module := flag.String("module", "http_2xx", "module parameter")
	targets := flag.String("targets", "", "comma-separated target parameters, e.g. http://127.0.0.2:8001/")
	interval := flag.Duration("interval", 10*time.Second, "interval per target")
	duration := flag.Duration("duration", 30*time.Second, "how long to send requests (at most 10m)")
	flag.Parse()
	if err := run(*exporter, *module, *targets, *interval, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
}

func run(exporter, module, targetList string, interval, duration time.Duration) error {
	if duration > 10*time.Minute {
		return fmt.Errorf("-duration %v: at most 10m", duration)
	}
	names := strings.Split(targetList, ",")
	if targetList == "" {
		return fmt.Errorf("-targets: none given")
	}
	var ts []driver.Target
	for i, name := range names {
		ts = append(ts, driver.Target{Module: module, Target: name, Interval: interval, Offset: time.Duration(i) * interval / time.Duration(len(names))})
	}
	d, err := driver.New(driver.Options{Exporter: exporter, Targets: ts, Duration: duration})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res := d.Run(ctx)
	res.FidelityDurations = nil
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
