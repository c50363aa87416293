package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/vigil-monitoring/vigil/internal/blackboximport"
)

const importUsage = `usage:
  vigil import blackbox --modules=blackbox.yml --prometheus=prometheus.yml [--region=R] > vigil.yml

Writes a Vigil config made of blackbox_exporter's modules and the targets that
Prometheus' jobs send to them (static_configs, file_sd_configs, relabel_configs):
one service per job, one feature per target, one check per module. What cannot
be carried over is listed on standard error with its file and line; the exit
code is then 1 (the config holds the rest). See docs/migrating-from-blackbox.md.
`

// runImport is `vigil import`; blackbox_exporter is the one source so far.
func runImport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "blackbox" {
		fmt.Fprint(stderr, importUsage)
		return exitUsage
	}
	fs := newFlagSet("vigil import blackbox", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage) }
	modules := fs.String("modules", "", "blackbox_exporter's config file (its modules)")
	prometheus := fs.String("prometheus", "", "Prometheus config whose jobs send targets to blackbox_exporter")
	region := fs.String("region", "", "agent.region (default: the Prometheus config's global.external_labels.region)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil import blackbox: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *modules == "" {
		fmt.Fprintln(stderr, "vigil import blackbox: --modules is required (blackbox_exporter's config file)")
		return exitUsage
	}
	res, err := blackboximport.Import(blackboximport.Options{ModulesFile: *modules, PrometheusFile: *prometheus, Region: *region})
	if errors.Is(err, blackboximport.ErrNoPrometheus) {
		fmt.Fprintf(stderr, "vigil import blackbox: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil import blackbox: %v\n", err)
		return exitFailure
	}
	stdout.Write(res.Config)
	for _, p := range res.Problems {
		fmt.Fprintln(stderr, p.Error())
	}
	if res.Failed() {
		fmt.Fprintf(stderr, "vigil import blackbox: %d checks imported; the lines above without \"note:\" were not imported\n", res.Checks)
		return exitFailure
	}
	fmt.Fprintf(stderr, "vigil import blackbox: %d checks imported\n", res.Checks)
	return exitOK
}
