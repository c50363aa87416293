package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/slo"
)

const sloUsage = `usage:
  vigil slo export --format=openslo|sloth|pyrra [--config.file=vigil.yml] > slos.yaml
  vigil slo import --format=openslo FILE > fragment.yml

export writes each feature's objective as OpenSLO v1 SLO and SLI documents, a
Sloth prometheus/v1 spec per service, or a Pyrra ServiceLevelObjective per
feature; what a format cannot say exactly (a calendar window in Sloth or Pyrra)
is noted on standard error. import reads the SLO documents of an OpenSLO v1
file and writes the services block of vigil.yml with their objectives, for
merging into a config. See docs/slo.md.
`

// runSLO is `vigil slo export|import`.
func runSLO(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, sloUsage)
		return exitUsage
	}
	if args[0] == "export" {
		return runSLOExport(args[1:], stdout, stderr)
	}
	return runSLOImport(args[1:], stdout, stderr)
}

func runSLOExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil slo export", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sloUsage) }
	format := fs.String("format", "", "openslo, sloth or pyrra")
	configFile := fs.String("config.file", "vigil.yml", "config file whose features' objectives are written")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil slo export: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if !slices.Contains(slo.Formats(), *format) {
		fmt.Fprintf(stderr, "vigil slo export: --format must be one of %s, not %q\n", strings.Join(slo.Formats(), ", "), *format)
		return exitUsage
	}
	cfg, err := config.Load(*configFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	out, notes, err := slo.Export(slo.FromConfig(cfg), *format)
	if err != nil {
		fmt.Fprintf(stderr, "vigil slo export: %v\n", err)
		return exitFailure
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "vigil slo export: note: %s\n", n)
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "vigil slo export: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func runSLOImport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vigil slo import", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sloUsage) }
	format := fs.String("format", "", "openslo (the one format read)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *format != slo.FormatOpenSLO {
		fmt.Fprintf(stderr, "vigil slo import: --format must be %s, not %q\n", slo.FormatOpenSLO, *format)
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vigil slo import: give one OpenSLO file")
		return exitUsage
	}
	file := fs.Arg(0)
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "vigil slo import: %v\n", err)
		return exitFailure
	}
	objectives, err := slo.ImportOpenSLO(file, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	out, err := slo.Fragment(objectives, file)
	if err != nil {
		fmt.Fprintf(stderr, "vigil slo import: %v\n", err)
		return exitFailure
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "vigil slo import: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "vigil slo import: %d objectives\n", len(objectives))
	return exitOK
}
