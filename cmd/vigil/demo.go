package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-monitoring/vigil/internal/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil demo", stderr)
	listen := fs.String("web.listen-address", demo.DefaultListenAddress, "address of the kr-central-1 agent's status page, /metrics and API; the kr-south-1 agent takes the next port")
	storage := fs.String("storage.path", "", "base directory of the demo's SLA history, one directory per region, readable by `vigil report`; default: a new temporary directory, so that each run starts fresh")
	speed := fs.Float64("speed", 1, "play the script this many times faster (2 = twice as fast); check intervals shrink with it")
	loop := fs.Bool("loop", false, "play the script over and over instead of once")
	// Warnings would drown the narration: every check failing in the fire logs one.
	logLevel := fs.String("log.level", "error", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *speed <= 0 || math.IsInf(*speed, 0) || math.IsNaN(*speed) {
		fmt.Fprintf(stderr, "vigil demo: --speed must be a positive number, got %g\n", *speed)
		return exitUsage
	}
	logger, err := newLogger(stderr, *logLevel, "logfmt")
	if err != nil {
		fmt.Fprintln(stderr, "vigil demo:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := demo.Options{ListenAddress: *listen, StoragePath: *storage, Speed: *speed, Loop: *loop, Logger: logger, Out: stdout}
	if err := demo.Run(ctx, opts); err != nil {
		fmt.Fprintln(stderr, "vigil demo:", err)
		return exitFailure
	}
	return exitOK
}
