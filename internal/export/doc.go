// Package export is who sees results as metrics: the probe-level and agent
// series of docs/DESIGN.md on one client_golang registry, served by promhttp on
// /metrics, and pushed with VictoriaMetrics/metrics InitPushExt for agents that
// cannot be scraped.
package export
