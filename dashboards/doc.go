// Package dashboards builds Vigil's Grafana dashboards. The JSON files beside
// this file are generated from it (go generate ./dashboards/) and kept in the
// repository, ready to import; dashboards_test.go checks that they are in sync
// and runs every panel's query against a real Prometheus scraping a real agent.
package dashboards

//go:generate go run ./gen
