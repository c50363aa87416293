// Package export is who sees results as metrics: the probe-level series of
// docs/DESIGN.md, written by internal/expo, and the agent's own on its
// client_golang registry; and push, with VictoriaMetrics/metrics InitPushExt,
// for agents that cannot be scraped.
package export
