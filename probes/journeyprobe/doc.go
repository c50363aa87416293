// Package journeyprobe is the journey check kind: steps that are checks of any
// kind (http, messaging, dns, ...), run in order, with variables extracted
// from one step's response (JSONPath, regexp groups, headers, cookies, a
// received message) and substituted into later steps' blocks, per-step
// timeouts, clean-up steps that run even after a failure (always: true), and
// secrets redacted from everything a run reports.
//
// The package knows no kind: the table of kinds (probes/kinds) passes a Kit
// that validates and builds a step's block, so a new kind (browser) is a step
// kind with no code here. A step's block is kept as written (its YAML node):
// a block without ${...} is built once, one with variables is substituted
// (scalar values only, never keys) and built anew for every run.
//
// Files: config.go (the block, validation), vars.go (variables and
// substitution), extract.go (extraction), journeyprobe.go (a run).
package journeyprobe
