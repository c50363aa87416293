// Package slo writes Vigil's objectives in the formats SRE tooling reads
// and reads them back: each configured feature's objective as an OpenSLO v1
// SLO with its SLI, a Sloth prometheus/v1 spec or a Pyrra
// ServiceLevelObjective (Export), and OpenSLO SLOs as a fragment of
// vigil.yml (ImportOpenSLO, Fragment). It is pure: config in, documents out;
// cmd/vigil's `vigil slo` reads the files and writes the results.
//
// The SLI every document uses is vigil_feature_up{service, feature}: 1 in
// every state but down. A tool that averages its samples over a window gets
// the share of scraped time the feature was not down; Vigil's own figure
// (vigil_sla_availability_ratio, exact to the backdated edges, maintenance
// and unmonitored time left out) stays the reference.
package slo
