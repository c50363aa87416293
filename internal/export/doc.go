// Package export is who sees results as metrics: the probe-level series of
// docs/DESIGN.md and the SLA engine's feature-level series (from the figures
// it hands out), written by internal/expo; the agent's own, the incident and
// the storage collectors on its client_golang registry; metrics profiles
// (basic, standard, full: profile.go); and push, the exposition streamed into
// a VictoriaMetrics import request, for agents that cannot be scraped.
package export
